import type { FastifyRequest } from 'fastify';
import { keysetToken, readKeysetToken, splitPage, type Cursor, type Keyset } from '../core/paging.ts';
import { queryValue } from '../http/arm.ts';
import { listScope, type Page } from '../http/paging.ts';
import { partnerCenterError } from '../core/errors.ts';

// The partner center's collections: the envelope and its continuation (MS-ContinuationToken, a
// keyset token of core/paging.ts).

/** The partner center's collection envelope; `token` continues it with the MS-ContinuationToken header. */
export function collection<T>(request: FastifyRequest, items: T[], token?: string, objectType = 'Collection') {
  const [path, query] = request.url.split('?');
  return {
    totalCount: items.length,
    items,
    ...(token !== undefined
      ? {
          links: {
            next: {
              uri: `/v1${path.replace(/\/{2,}/g, '/').replace(/^.*?\/v1/i, '')}${query ? `?${query}` : ''}`,
              method: 'GET',
              headers: [{ key: 'MS-ContinuationToken', value: token }],
            },
          },
        }
      : {}),
    attributes: { objectType },
  };
}

/** A page's collection: `rows` holds up to page.limit + 1 rows (`pageQuery`), the next page starts after the last shown. */
export function pagedCollection<Row, View>(
  request: FastifyRequest,
  page: Page<Row>,
  rows: readonly Row[],
  view: (row: Row, index: number) => View,
  objectType = 'Collection',
) {
  const { shown, lastKey } = splitPage(rows, page.keyset, page.limit);
  const token = lastKey && keysetToken(page.scope, page.keyset.parts, lastKey);
  return collection(request, shown.map(view), token, objectType);
}

export function pageOfCollection<Row>(
  request: FastifyRequest,
  ks: Keyset<Row>,
  defaultSize = 100,
  maxSize = 500,
): Page<Row> {
  const scope = listScope(request.url, ks.list, ['size']);
  const token = continuationToken(request);
  let after: Cursor['after'];
  if (token) {
    after = readKeysetToken(token, scope, ks.parts);
    if (after === undefined) throw invalidContinuation();
  }
  return { after, limit: pageSize(request, defaultSize, maxSize), keyset: ks, scope };
}

/** The MS-ContinuationToken a request carries, if any. */
export function continuationToken(request: FastifyRequest): string | undefined {
  const header = request.headers['ms-continuationtoken'];
  return Array.isArray(header) ? header[0] : header;
}

export const invalidContinuation = () =>
  partnerCenterError('InvalidContinuationToken', 'The continuation token is not valid.', 'MS-ContinuationToken');

/** The page size a request asks for (`size`; 0 for the default). */
export function pageSize(request: FastifyRequest, defaultSize: number, maxSize: number): number {
  const sizeText = queryValue(request, 'size');
  if (sizeText === undefined) return defaultSize;
  const size = Number(sizeText);
  if (!Number.isInteger(size) || size < 0 || size > maxSize)
    throw partnerCenterError('InvalidSize', `size '${sizeText}' must be an integer from 0 to ${maxSize}.`, 'size');
  return size === 0 ? defaultSize : size;
}
