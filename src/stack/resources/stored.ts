import type { StoredProperties } from './tables.ts';

// A resource's stored properties are JSON that its type's own write made. Each type reads what it
// needs through a typed reader of its own, built of these: each narrows `unknown` and, when a row is
// not what its type writes (a bug, never the caller's doing), throws a plain error (a logged 500)
// rather than letting a wrong value flow on.

const broken = (path: string, expected: string) =>
  new Error(`stored resource properties: '${path}' is not ${expected}`);

export function storedObject(value: unknown, path: string): StoredProperties {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw broken(path, 'an object');
  return value as StoredProperties;
}

export function storedString(value: unknown, path: string): string {
  if (typeof value !== 'string') throw broken(path, 'a string');
  return value;
}

export function storedNumber(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw broken(path, 'a number');
  return value;
}

export const optionalString = (value: unknown, path: string): string | undefined =>
  value === undefined || value === null ? undefined : storedString(value, path);

export const optionalObject = (value: unknown, path: string): StoredProperties | undefined =>
  value === undefined || value === null ? undefined : storedObject(value, path);

export function storedList(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw broken(path, 'a list');
  return value;
}

/** One of a fixed set of strings. */
export function storedOneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw broken(path, `one of ${allowed.join(', ')}`);
  return found;
}
