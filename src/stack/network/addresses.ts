// IPv4 addresses and CIDR prefixes as the Network provider reads them: pure functions over
// 32-bit numbers. (IPv6 address spaces are not offered on the stack.)

export interface Prefix {
  /** The network address, as an unsigned 32-bit number. */
  base: number;
  length: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** An IPv4 address as a number, or undefined when the text is not a dotted quad. */
export function parseAddress(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatAddress(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

const size = (length: number) => 2 ** (32 - length);

/** A prefix `a.b.c.d/n`: `aligned` says whether the address is the prefix's network address. */
export function parsePrefix(text: string): { prefix: Prefix; aligned: boolean } | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const address = parseAddress(m[1]);
  const length = Number(m[2]);
  if (address === undefined || length > 32) return undefined;
  const base = address - (address % size(length));
  return { prefix: { base, length }, aligned: base === address };
}

export const formatPrefix = (p: Prefix) => `${formatAddress(p.base)}/${p.length}`;

/** Whether `inner` lies wholly inside `outer`. */
export const within = (inner: Prefix, outer: Prefix) =>
  inner.length >= outer.length && inner.base - (inner.base % size(outer.length)) === outer.base;

export const overlaps = (a: Prefix, b: Prefix) => within(a, b) || within(b, a);

export const contains = (p: Prefix, address: number) => address - (address % size(p.length)) === p.base;

/**
 * The addresses of a subnet that NICs may have: Azure keeps the network address, the next three
 * (gateway and DNS) and the broadcast address.
 */
export function usableRange(p: Prefix): { first: number; last: number } | undefined {
  const first = p.base + 4;
  const last = p.base + size(p.length) - 2;
  return first <= last ? { first, last } : undefined;
}

/** The lowest address of `range` not in `taken`, or undefined when the range is full. */
export function lowestFree(range: { first: number; last: number }, taken: Iterable<number>): number | undefined {
  const used = new Set(taken);
  for (let a = range.first; a <= range.last; a++) if (!used.has(a)) return a;
  return undefined;
}
