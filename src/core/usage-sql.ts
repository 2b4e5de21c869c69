import { type RawBuilder, sql, type SqlBool } from 'kysely';
import { afterKeyFrom, type Cursor, type Keyset, type KeyValue, type RowsEndingAt } from './paging.ts';
import type { Granularity } from './usage-api.ts';

// The usage APIs' SQL that both roles' pages share (the hub's page-store.ts, the stack's
// outbox-store.ts): a record's bucket, and the walk of a page bounded by the hours its range holds.

/**
 * A usage hour's or day's bucket of an hour (UTC days). The Daily pages' indexes (hub 0560, stack
 * 1214) are made on this very expression, so a Daily page reads in its order.
 */
export const usageBucket = (g: Granularity, hour: RawBuilder<unknown>): RawBuilder<unknown> =>
  g === 'Hourly' ? hour : sql`date_trunc('day', ${hour} at time zone 'UTC') at time zone 'UTC'`;

/** The UTC days (a date column) that the instants [from, to) fall on. */
export const daysCovering = (day: string, from: Date, to: Date): RawBuilder<SqlBool> =>
  sql<SqlBool>`${sql.ref(day)} >= (${from}::timestamptz at time zone 'UTC')::date
    and ${sql.ref(day)} <= ((${to}::timestamptz - interval '1 microsecond') at time zone 'UTC')::date`;

/**
 * The records a page walks, given the query's CTE `hours` (lo, hi: the first and last hour its
 * records can have): those whose bucket lies between lo's and hi's, from after the cursor's key or
 * from lo's first group when that comes later. Each bound is written with the bucket's own
 * expression, so that each granularity keeps its index (hour bounds had a Daily page walk the hour
 * index and sort); a null lo (nothing in the range) finds nothing.
 */
export function walkOfHours(
  order: Pick<Keyset<never>, 'columns' | 'parts'>,
  g: Granularity,
  hour: RawBuilder<unknown>,
  cursor: Cursor,
): RawBuilder<SqlBool> {
  const [lo, hi] = [usageBucket(g, sql`(select lo from hours)`), usageBucket(g, sql`(select hi from hours)`)];
  return sql<SqlBool>`(${usageBucket(g, hour)}) between (${lo}) and (${hi}) and ${afterKeyFrom(order, cursor.after, lo)}`;
}

/** The key of the group of a walk's `n`th record after a key (`undefined`: from the start), if it has so many. */
export type GroupOfRecord = (
  after: readonly KeyValue[] | undefined,
  n: number,
) => Promise<readonly KeyValue[] | undefined>;

/**
 * A page of groups that ends, for a page without details, at the group of its `records`th record
 * (that group whole: `USAGE_PAGE_RECORDS`), saying where the next one starts (`RowsEndingAt`); past
 * groups up to such a cut that sum to nothing. A cut at the walk's last group is none (one look for
 * a record after it), so the last page says it is the last. `page` reads the groups after a cursor,
 * up to a key when given one (one more than it shows, when there are more).
 */
export async function pageUpToCut<Row>(
  cursor: Cursor,
  records: number | undefined,
  groupOf: GroupOfRecord,
  page: (at: Cursor, upTo: readonly KeyValue[] | undefined) => Promise<Row[]>,
): Promise<RowsEndingAt<Row>> {
  for (let after = cursor.after; ;) {
    const key = records === undefined ? undefined : await groupOf(after, records);
    const upTo = key !== undefined && (await groupOf(key, 1)) !== undefined ? key : undefined;
    const rows = await page({ ...cursor, after }, upTo);
    if (rows.length > cursor.limit || upTo === undefined) return rows;
    if (rows.length > 0) return Object.assign(rows, { endsAt: upTo });
    after = upTo;
  }
}
