// Continuation tokens of every paged list (ARM's $skiptoken, the partner center's
// MS-ContinuationToken, the usage APIs' continuationToken): an opaque form of an offset.

export const offsetToken = (offset: number): string => Buffer.from(String(offset)).toString('base64url');

/** The offset a token stands for, or undefined when it is not one of ours. */
export function readOffsetToken(token: string): number | undefined {
  const decoded = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  return /^\d+$/.test(decoded) && Number.isSafeInteger(Number(decoded)) ? Number(decoded) : undefined;
}
