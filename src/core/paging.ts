import { createHash } from 'node:crypto';
import { sql, type Expression, type RawBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely';
import { isGuid } from './ids.ts';
import { parseInstant } from './clock.ts';

// Keyset paging, for every paged list and usage API (ARM's $skiptoken, graph's
// @odata.nextLink, the partner center's MS-ContinuationToken, the usage APIs' continuationToken).
// A page is `where (k1, k2, …) > (last key) order by k1, k2, … limit n + 1`: it costs the same at
// page 1 and page 10,000, and a row inserted between pages neither repeats nor hides another.
//
// A token holds the last row's key and a digest of the list it belongs to (the list's name, its
// path and its filter). It is validated strictly, not signed: it only says where to resume a list
// the caller may read anyway (every query still applies the caller's scope and filter), so a forged
// key shows nothing more; each part must have its column's type, so no token reaches SQL as a
// value its column refuses; and a token stays good across restarts and processes with no secret
// to share.

/** The SQL type of one key column: what a token's value must be to be compared with it. */
export type KeyPart = 'text' | 'uuid' | 'time' | 'int';
export type KeyValue = string | number | Date;

/** How a list is ordered: its key's columns (unique together; the primary key last) and types. */
export interface Keyset<Row> {
  /** The list's name, bound into its tokens so that a token of another list is refused. */
  readonly list: string;
  /** The key's SQL expressions, in order (`sql.ref('r.hour')`, or any expression). */
  readonly columns: readonly Expression<unknown>[];
  readonly parts: readonly KeyPart[];
  /** Newest first: every column descending, and a page is the rows before the key. */
  readonly descending?: boolean;
  /** The key of a row the query answered. */
  readonly keyOf: (row: Row) => readonly KeyValue[];
}

/** Where a page starts (after the key of the previous page's last row) and how many rows it shows. */
export interface Cursor {
  readonly after: readonly KeyValue[] | undefined;
  readonly limit: number;
}

export function keyset<Row>(
  list: string,
  key: readonly (readonly [column: string | Expression<unknown>, part: KeyPart])[],
  keyOf: (row: Row) => readonly KeyValue[],
  order: 'ascending' | 'descending' = 'ascending',
): Keyset<Row> {
  return {
    list,
    columns: key.map(([c]) => (typeof c === 'string' ? sql.ref(c) : c)),
    parts: key.map(([, p]) => p),
    descending: order === 'descending',
    keyOf,
  };
}

const digest = (scope: string) => createHash('sha256').update(scope).digest('base64url').slice(0, 16);

/** The token standing for the position after `key` in the list `scope` names. */
export function keysetToken(scope: string, parts: readonly KeyPart[], key: readonly KeyValue[]): string {
  const values = key.map((v, i) => (parts[i] === 'time' ? (v instanceof Date ? v : new Date(v)).toISOString() : v));
  return Buffer.from(JSON.stringify({ s: digest(scope), k: values })).toString('base64url');
}

const MAX_TOKEN = 8192;
const MAX_TEXT = 2048;
// What PostgreSQL's text cannot hold: NUL, an unpaired surrogate.
const UNSAFE_TEXT = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function readPart(part: KeyPart, value: unknown): KeyValue | undefined {
  switch (part) {
    case 'text':
      return typeof value === 'string' && value.length <= MAX_TEXT && !UNSAFE_TEXT.test(value) ? value : undefined;
    case 'uuid':
      return typeof value === 'string' && isGuid(value) ? value.toLowerCase() : undefined;
    case 'int': // a bigint column's value comes as a string of digits
      return (typeof value === 'number' && Number.isSafeInteger(value)) ||
        (typeof value === 'string' && /^-?\d{1,18}$/.test(value))
        ? value
        : undefined;
    case 'time':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value)
        ? parseInstant(value)
        : undefined;
  }
}

/**
 * The key a token stands for, or undefined when it is not a token of this list (`scope`) with a
 * key of these types: the caller answers with its API's invalid-token error.
 */
export function readKeysetToken(
  token: string,
  scope: string,
  parts: readonly KeyPart[],
): readonly KeyValue[] | undefined {
  if (token.length > MAX_TOKEN || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof decoded !== 'object' || decoded === null) return undefined;
  const { s, k } = decoded as { s?: unknown; k?: unknown };
  if (s !== digest(scope) || !Array.isArray(k) || k.length !== parts.length) return undefined;
  const key = parts.map((p, i) => readPart(p, k[i]));
  return key.every((v) => v !== undefined) ? (key as KeyValue[]) : undefined;
}

const CASTS: Record<KeyPart, RawBuilder<unknown>> = {
  text: sql.raw('text'),
  uuid: sql.raw('uuid'),
  time: sql.raw('timestamptz'),
  int: sql.raw('bigint'),
};

/** A key's values as SQL, each cast to its part's type. */
export const keyValues = (ks: Pick<Keyset<never>, 'parts'>, key: readonly KeyValue[]): RawBuilder<unknown>[] =>
  key.map((v, i) => sql`${v}::${CASTS[ks.parts[i]]}`);

/** The least value of each part: a key before every row (-infinity, the nil GUID, '', the least bigint). */
export const leastKey = (parts: readonly KeyPart[]): KeyValue[] =>
  parts.map((p) =>
    p === 'time'
      ? '-infinity'
      : p === 'uuid'
        ? '00000000-0000-0000-0000-000000000000'
        : p === 'text'
          ? ''
          : '-9223372036854775808',
  );

/**
 * `afterKey` (ascending) that also starts no earlier than `from`, an SQL value of the key's first
 * part (a bound the query computes, such as the first hour stored for a range): after the cursor's
 * key, or before `from`'s first row when that comes later. Written as one row comparison, so that
 * an index in the key's order starts its walk there. A null `from` leaves the cursor's key.
 */
export function afterKeyFrom(
  ks: Pick<Keyset<never>, 'columns' | 'parts'>,
  after: Cursor['after'],
  from: RawBuilder<unknown>,
): RawBuilder<SqlBool> {
  const key = keyValues(ks, after ?? leastKey(ks.parts));
  const least = keyValues(ks, leastKey(ks.parts));
  const later = sql`${from} > ${key[0]}`;
  const values = key.map((v, i) => sql`case when ${later} then ${i === 0 ? from : least[i]} else ${v} end`);
  return sql<SqlBool>`(${sql.join(ks.columns)}) > (${sql.join(values)})`;
}

/** `(k1, k2, …) > (v1, v2, …)` (`<` descending), or true on the first page. */
export function afterKey(
  ks: Pick<Keyset<never>, 'columns' | 'parts' | 'descending'>,
  after: Cursor['after'],
): RawBuilder<SqlBool> {
  if (after === undefined) return sql<SqlBool>`true`;
  const values = keyValues(ks, after);
  return sql<SqlBool>`(${sql.join(ks.columns)}) ${sql.raw(ks.descending ? '<' : '>')} (${sql.join(values)})`;
}

/** `(k1, k2, …) <= (v1, v2, …)`: up to a key, which it includes (ascending keys). */
export function upToKey(ks: Pick<Keyset<never>, 'columns' | 'parts'>, key: readonly KeyValue[]): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${sql.join(ks.columns)}) <= (${sql.join(keyValues(ks, key))})`;
}

/** The key's columns selected as `k0`, `k1`, … (`keyOfColumns` reads such a row back as a key). */
export const keyColumns = (ks: Pick<Keyset<never>, 'columns'>): RawBuilder<unknown> =>
  sql.join(ks.columns.map((c, i) => sql`${c} as ${sql.raw(`k${i}`)}`));
export const keyOfColumns = (ks: Pick<Keyset<never>, 'columns'>, row: Record<string, KeyValue>): KeyValue[] =>
  ks.columns.map((_, i) => row[`k${i}`] as KeyValue);

/** The key's columns for an `order by` written by hand. */
export const keyOrder = (ks: Pick<Keyset<never>, 'columns' | 'descending'>): RawBuilder<unknown> =>
  sql.join(ks.columns.map((c) => (ks.descending ? sql`${c} desc` : c)));

/**
 * A query builder's page: the rows after the cursor's key, in the key's order, one more than the
 * page shows (which tells that there is a next page).
 */
export function pageQuery<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  ks: Keyset<never>,
  cursor: Cursor,
): SelectQueryBuilder<DB, TB, O> {
  let q = query.where(afterKey(ks, cursor.after));
  for (const column of ks.columns) q = q.orderBy(column, ks.descending ? 'desc' : 'asc');
  return q.limit(cursor.limit + 1);
}

/** The same order over rows listed with their views (`{ row, view }`), for views made asynchronously. */
export const overListed = <Row>(ks: Keyset<Row>): Keyset<{ row: Row }> => ({ ...ks, keyOf: (l) => ks.keyOf(l.row) });

/**
 * A page's rows that end before its limit though more follow: a page that stopped at what it may
 * read (a usage page's records), the next one starting after `endsAt`.
 */
export type RowsEndingAt<Row> = Row[] & { endsAt?: readonly KeyValue[] };

/** The rows a page shows and, when there are more, the key its last row ends at. */
export function splitPage<Row>(
  rows: readonly Row[],
  ks: Pick<Keyset<Row>, 'keyOf'>,
  limit: number,
): { shown: Row[]; lastKey?: readonly KeyValue[] } {
  if (rows.length <= limit) {
    const endsAt = (rows as RowsEndingAt<Row>).endsAt;
    return endsAt === undefined ? { shown: [...rows] } : { shown: [...rows], lastKey: endsAt };
  }
  const shown = rows.slice(0, limit);
  return { shown, lastKey: ks.keyOf(shown[shown.length - 1]) };
}
