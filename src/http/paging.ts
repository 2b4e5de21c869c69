import type { FastifyContextConfig, FastifyInstance, FastifyRequest } from 'fastify';
import { armError } from '../core/errors.ts';
import { keysetToken, readKeysetToken, splitPage, type Cursor, type Keyset } from '../core/paging.ts';
import type { Principal } from '../core/principal.ts';
import { USAGE_PAGE_SIZE, usageErrors } from '../core/usage-api.ts';
import { principalOf, queryValue } from './arm.ts';

// The list envelopes of the ARM endpoints (and graph's, the usage APIs'), paged by key
// (core/paging.ts): reading a page from the request, answering it with its next link.

/** What binds a token to its list: the list's name, its path and its query (of `url`), less the paging parameters. */
export function listScope(url: string, list: string, pagingParams: readonly string[]): string {
  const [path, query = ''] = url.split('?');
  const ignored = new Set(pagingParams.map((p) => p.toLowerCase()));
  const params = [...new URLSearchParams(query)]
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .filter(([k]) => !ignored.has(k))
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : x > y ? 1 : 0) : a < b ? -1 : 1));
  return JSON.stringify([list, path.replace(/\/{2,}/g, '/').toLowerCase(), params]);
}

const ARM_PAGING_PARAMS = ['$skiptoken', '$top', 'api-version'];
export const USAGE_PAGING_PARAMS = ['continuationToken', 'api-version'];

export interface Page<Row> extends Cursor {
  readonly keyset: Keyset<Row>;
  readonly scope: string;
}

export function pageOf<Row>(request: FastifyRequest, ks: Keyset<Row>, defaultSize = 100): Page<Row> {
  const scope = listScope(request.url, ks.list, ARM_PAGING_PARAMS);
  const token = queryValue(request, '$skiptoken');
  let after: Cursor['after'];
  if (token !== undefined) {
    after = readKeysetToken(token, scope, ks.parts);
    if (after === undefined)
      throw armError('InvalidSkipToken', `The skip token '${token}' is not valid.`, '$skiptoken');
  }
  const top = queryValue(request, '$top');
  let limit = defaultSize;
  if (top !== undefined) {
    const n = Number(top);
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      throw armError('InvalidTopParameter', `The value '${top}' of '$top' must be an integer from 1 to 1000.`, '$top');
    limit = n;
  }
  return { after, limit, keyset: ks, scope };
}

/**
 * The list envelope. `rows` holds up to page.limit + 1 rows (`pageQuery`): one more than fits
 * tells that there is a next page, which starts after the last row shown.
 */
export function pagedList<Row, View>(
  request: FastifyRequest,
  baseUrl: string,
  page: Page<Row>,
  rows: readonly Row[],
  view: (row: Row, index: number) => View,
  tokenParam = '$skiptoken',
): { value: View[]; nextLink?: string } {
  const { shown, lastKey } = splitPage(rows, page.keyset, page.limit);
  const value = shown.map(view);
  if (lastKey === undefined) return { value };
  return {
    value,
    nextLink: nextPageLink(request, baseUrl, tokenParam, keysetToken(page.scope, page.keyset.parts, lastKey)),
  };
}

/**
 * A page of a usage API (both roles' UsageAggregates): USAGE_PAGE_SIZE aggregates after the
 * `continuationToken`'s group key, and the `nextLink` that carries the last one's.
 */
export async function usagePage<Row, View>(
  request: FastifyRequest,
  baseUrl: string,
  ks: Keyset<Row>,
  read: (cursor: Cursor) => Promise<readonly Row[]>,
  view: (row: Row) => View,
): Promise<{ value: View[]; nextLink?: string }> {
  const scope = listScope(request.url, ks.list, USAGE_PAGING_PARAMS);
  const token = queryValue(request, 'continuationToken');
  let after: Cursor['after'];
  if (token) {
    after = readKeysetToken(token, scope, ks.parts);
    if (after === undefined) throw usageErrors.badContinuation();
  }
  const page: Page<Row> = { after, limit: USAGE_PAGE_SIZE, keyset: ks, scope };
  return pagedList(request, baseUrl, page, await read(page), view, 'continuationToken');
}

/**
 * A list route's handler: the page the request asks for, the rows `list` reads for it (through
 * `pageQuery`), the envelope of their views.
 */
export function pagedListRoute<Request extends FastifyRequest, Row, View>(
  ks: Keyset<Row>,
  baseUrl: () => string,
  list: (request: Request, cursor: Cursor) => Promise<readonly Row[]>,
  view: (row: Row) => View,
): (request: Request) => Promise<{ value: View[]; nextLink?: string }> {
  return async (request) => {
    const page = pageOf(request, ks);
    return pagedList(request, baseUrl(), page, await list(request, page), view);
  };
}

/** This request's URL on `baseUrl`, with the continuation parameter `param` set to `token`. */
export function nextPageLink(request: FastifyRequest, baseUrl: string, param: string, token: string): string {
  const [path, query = ''] = request.url.split('?');
  const params = new URLSearchParams(query);
  for (const k of [...params.keys()]) if (k.toLowerCase() === param.toLowerCase()) params.delete(k);
  params.set(param, token);
  return `${baseUrl}${path.replace(/\/{2,}/g, '/')}?${params.toString()}`;
}

/**
 * A resource type's two lists, as ARM has them: in a resource group and in the whole subscription.
 * `list` reads a page (the group undefined for the subscription's).
 */
export function registerTypeLists<Row, View>(
  app: FastifyInstance,
  o: {
    type: string;
    config: FastifyContextConfig;
    keyset: Keyset<Row>;
    baseUrl: () => string;
    list: (principal: Principal, subscriptionId: string, group: string | undefined, cursor: Cursor) => Promise<Row[]>;
    view: (row: Row) => View;
  },
): void {
  type GroupParams = { subscriptionId: string; resourceGroupName: string };
  app.get<{ Params: GroupParams }>(
    `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/${o.type}`,
    { config: o.config },
    pagedListRoute(
      o.keyset,
      o.baseUrl,
      (request: FastifyRequest<{ Params: GroupParams }>, cursor) =>
        o.list(principalOf(request), request.params.subscriptionId, request.params.resourceGroupName, cursor),
      o.view,
    ),
  );
  app.get<{ Params: { subscriptionId: string } }>(
    `/subscriptions/:subscriptionId/providers/${o.type}`,
    { config: o.config },
    pagedListRoute(
      o.keyset,
      o.baseUrl,
      (request: FastifyRequest<{ Params: { subscriptionId: string } }>, cursor) =>
        o.list(principalOf(request), request.params.subscriptionId, undefined, cursor),
      o.view,
    ),
  );
}
