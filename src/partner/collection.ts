import type { FastifyRequest } from 'fastify';
import { offsetToken, readOffsetToken } from '../core/paging.ts';
import { queryValue } from '../http/arm.ts';
import { partnerCenterError } from '../core/errors.ts';

// The partner center's collections: the envelope and its continuation (MS-ContinuationToken).

/** The partner center's collection envelope, continued with the MS-ContinuationToken header. */
export function collection<T>(
  request: FastifyRequest,
  items: T[],
  page: { offset: number; size: number },
  objectType = 'Collection',
  /** A keyset list's token for its next page, when there is one; an offset list's is the offset after this page. */
  nextToken?: string,
) {
  const more = nextToken !== undefined || items.length > page.size;
  const shown = more ? items.slice(0, page.size) : items;
  const [path, query] = request.url.split('?');
  return {
    totalCount: shown.length,
    items: shown,
    ...(more
      ? {
          links: {
            next: {
              uri: `/v1${path.replace(/\/{2,}/g, '/').replace(/^.*?\/v1/i, '')}${query ? `?${query}` : ''}`,
              method: 'GET',
              headers: [{ key: 'MS-ContinuationToken', value: nextToken ?? offsetToken(page.offset + page.size) }],
            },
          },
        }
      : {}),
    attributes: { objectType },
  };
}

export function pageOfCollection(
  request: FastifyRequest,
  defaultSize = 100,
  maxSize = 500,
): { offset: number; size: number } {
  const token = continuationToken(request);
  let offset = 0;
  if (token) {
    const n = readOffsetToken(token);
    if (n === undefined)
      throw partnerCenterError(
        'InvalidContinuationToken',
        'The continuation token is not valid.',
        'MS-ContinuationToken',
      );
    offset = n;
  }
  return { offset, size: pageSize(request, defaultSize, maxSize) };
}

/** The MS-ContinuationToken a request carries, as sent. */
export function continuationToken(request: FastifyRequest): string | undefined {
  const header = request.headers['ms-continuationtoken'];
  return Array.isArray(header) ? header[0] : header;
}

/** The page size a request asks for (`size`, 0 for the default). */
export function pageSize(request: FastifyRequest, defaultSize: number, maxSize: number): number {
  const sizeText = queryValue(request, 'size');
  let size = defaultSize;
  if (sizeText !== undefined) {
    size = Number(sizeText);
    if (!Number.isInteger(size) || size < 0 || size > maxSize)
      throw partnerCenterError('InvalidSize', `size '${sizeText}' must be an integer from 0 to ${maxSize}.`, 'size');
    if (size === 0) size = defaultSize;
  }
  return size;
}
