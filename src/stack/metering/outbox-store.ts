import { type RawBuilder, sql, type SqlBool } from 'kysely';
import { type Granularity, type UsageAggregateRow, USAGE_PAGE_RECORDS } from '../../core/usage-api.ts';
import { toWire, type UsageRecordWire } from '../../core/usage-record.ts';
import type { UsageHourSummary } from '../../core/usage-summary.ts';
import type { MeteringDb } from './store.ts';
import { DAY_MS, startOfDay } from '../../core/clock.ts';
import {
  keyOrder,
  keyset,
  keyValues,
  leastKey,
  type Cursor,
  type KeyPart,
  type Keyset,
  type KeyValue,
  type RowsEndingAt,
  keyColumns,
  keyOfColumns,
  upToKey,
} from '../../core/paging.ts';
import { daysCovering, type GroupOfRecord, pageUpToCut, usageBucket, walkOfHours } from '../../core/usage-sql.ts';

/**
 * The stack's usage APIs page by their group key: bucket, subscription (unless the query names
 * one), meter and, with details, resource. An index has each key's order, so that a page reads in
 * it and stops at its end: one subscription's usage_records_aggregate (Hourly, 1206);
 * every tenant's usage_records_provider_hourly and usage_records_provider_daily (1214), which
 * also has each tenant's Daily groups, a day at a time (`tenantDayQuery`).
 */
export function outboxUsageOrder(q: {
  granularity: Granularity;
  showDetails: boolean;
  subscriptionId?: string;
}): Keyset<UsageAggregateRow> {
  // The record's own columns (`r.`): a bare name in ORDER BY is the output's, and the page writes
  // its ids as text, whose order PostgreSQL cannot take from the index; it then read and grouped a
  // whole hour or day to sort it, for every page.
  const key: [RawBuilder<unknown>, KeyPart][] = [[usageBucket(q.granularity, sql`r.hour`), 'time']];
  if (q.subscriptionId === undefined) key.push([sql`r.subscription_id`, 'uuid']);
  key.push([sql`r.meter_id`, 'uuid']);
  if (q.showDetails) key.push([sql`r.resource_uri`, 'text']);
  return keyset('usageAggregates', key, (r) => [
    r.bucket,
    ...(q.subscriptionId === undefined ? [r.subscription_id] : []),
    r.meter_id,
    ...(q.showDetails ? [r.resource_uri ?? ''] : []),
  ]);
}

/** A usage page's query: its range, granularity, details and (the tenant API's) subscription. */
export interface OutboxUsageQuery {
  start: Date;
  end: Date;
  granularity: Granularity;
  showDetails: boolean;
  subscriptionId?: string;
}

/** A usage page's columns of its groups of records `r` (one subscription's is a constant). */
function aggregateColumns(q: OutboxUsageQuery, bucket: RawBuilder<unknown>) {
  const subscription = q.subscriptionId ? sql`${q.subscriptionId}::text` : sql`r.subscription_id::text`;
  const group = sql`${subscription} as subscription_id, r.meter_id::text as meter_id, ${bucket} as bucket, sum(r.quantity)::text as quantity`;
  return q.showDetails
    ? sql`${group}, r.resource_uri, min(r.location) as location, (array_agg(r.tags order by r.reported_at desc))[1] as tags,
        jsonb_build_object('SubscriptionId', ${subscription}) as additional_info`
    : sql`${group}, null::text as resource_uri, null::text as location, null::jsonb as tags, null::jsonb as additional_info`;
}

/** The records of a page's range of reported time. */
const reportedIn = (q: OutboxUsageQuery) =>
  sql<SqlBool>`r.reported_at >= ${q.start}::timestamptz and r.reported_at < ${q.end}::timestamptz`;

/**
 * The first and last hour of the records reported on the days of [start, end) (usage_reported_days):
 * a record may be reported long after its hour, and a page walks from the first to the last rather
 * than read every earlier record to filter it out.
 */
const reportedHours = (q: OutboxUsageQuery) =>
  sql`select min(min_hour) as lo, max(max_hour) as hi from usage_reported_days where ${daysCovering('reported_day', q.start, q.end)}`;

/** The records a page walks after the cursor, in its key's order: those reported in its range (of its subscription). */
function pageWalk(q: OutboxUsageQuery, cursor: Cursor) {
  const order = outboxUsageOrder(q);
  return sql<SqlBool>`${reportedIn(q)}
    ${q.subscriptionId ? sql`and r.subscription_id = ${q.subscriptionId}::uuid` : sql``}
    and ${walkOfHours(order, q.granularity, sql`r.hour`, cursor)}`;
}

/**
 * The statement of `outboxStore.aggregates` (but a tenant's Daily page: `tenantDayQuery`), up to
 * `upTo`'s group when it names one.
 */
export function outboxAggregatesQuery(q: OutboxUsageQuery, cursor: Cursor, upTo?: readonly KeyValue[]) {
  const order = outboxUsageOrder(q);
  // Grouped by the key's expressions alone (one subscription is a constant), in the index's order.
  return sql<UsageAggregateRow>`
    with hours as (${reportedHours(q)})
    select ${aggregateColumns(q, usageBucket(q.granularity, sql`r.hour`))}
    from usage_records r
    where ${pageWalk(q, cursor)} and ${upTo === undefined ? sql`true` : upToKey(order, upTo)}
    group by ${keyOrder({ columns: order.columns })}
    having sum(r.quantity) <> 0
    order by ${keyOrder(order)}
    limit ${cursor.limit + 1}
  `;
}

/** The key of the group of the `records`th record a page walks after the cursor; none when there are not so many. */
function recordsCutQuery(q: OutboxUsageQuery, cursor: Cursor, records: number) {
  const order = outboxUsageOrder(q);
  return sql<Record<string, KeyValue>>`
    with hours as (${reportedHours(q)})
    select ${keyColumns(order)}
    from usage_records r
    where ${pageWalk(q, cursor)}
    order by ${keyOrder(order)}
    offset ${Math.max(0, Math.trunc(records) - 1)} limit 1`;
}

/** A page of the walk (one more group than it shows, when there are more); without details, up to its cut (`pageUpToCut`). */
function walkPage(
  db: MeteringDb,
  q: OutboxUsageQuery,
  cursor: Cursor,
  records: number,
): Promise<RowsEndingAt<UsageAggregateRow>> {
  const order = outboxUsageOrder(q);
  const groupOf: GroupOfRecord = async (after, n) => {
    const row = (await recordsCutQuery(q, { ...cursor, after }, n).execute(db)).rows[0];
    return row && keyOfColumns(order, row);
  };
  return pageUpToCut(
    cursor,
    q.showDetails ? undefined : records,
    groupOf,
    async (at, upTo) => (await outboxAggregatesQuery(q, at, upTo).execute(db)).rows,
  );
}

/**
 * One day of a tenant's Daily page: the subscription's groups of `day` after `after` (meter and,
 * with details, resource), `limit` of them. usage_records_provider_daily (day, subscription, meter,
 * resource) has them in order after one seek; a walk over several days would read every other
 * tenant's records of the days between (no skip scan), so a page asks day by day.
 */
export function tenantDayQuery(
  q: OutboxUsageQuery & { subscriptionId: string },
  day: Date,
  after: readonly KeyValue[] | undefined,
  limit: number,
) {
  const order = outboxUsageOrder(q);
  const rest = { columns: order.columns.slice(1), parts: order.parts.slice(1) };
  const from = keyValues(rest, after ?? leastKey(rest.parts));
  return sql<UsageAggregateRow & { records: number }>`
    select ${aggregateColumns(q, sql`${day}::timestamptz`)}, count(*)::int as records
    from usage_records r
    where ${usageBucket('Daily', sql`r.hour`)} = ${day}::timestamptz and r.subscription_id = ${q.subscriptionId}::uuid
      and ${reportedIn(q)}
      and (r.subscription_id, ${sql.join(rest.columns)}) > (${q.subscriptionId}::uuid, ${sql.join(from)})
    group by ${keyOrder(rest)}
    having sum(r.quantity) <> 0
    order by ${keyOrder(rest)}
    limit ${limit}
  `;
}

const utcDay = (t: Date | string | number) => startOfDay(new Date(t)).getTime();

/**
 * The first and last hour of a subscription's records among those `reportedHours` gives (two seeks
 * of usage_records_aggregate): a tenant's Daily page asks only the days from its own first record
 * to its last, not every day the stack has records of.
 */
const subscriptionHours = (q: OutboxUsageQuery & { subscriptionId: string }) => {
  const hour = (f: 'min' | 'max') =>
    sql`(select ${sql.raw(f)}(r.hour) from usage_records r
         where r.subscription_id = ${q.subscriptionId}::uuid and r.hour between h.lo and h.hi)`;
  return sql<{ lo: Date | null; hi: Date | null }>`
    with hours as (${reportedHours(q)}) select ${hour('min')} as lo, ${hour('max')} as hi from hours h`;
};

/** A tenant's Daily page (one more group than it shows, when there are more): a query a day. */
async function tenantDailyPage(
  db: MeteringDb,
  q: OutboxUsageQuery & { subscriptionId: string },
  cursor: Cursor,
  records: number,
): Promise<RowsEndingAt<UsageAggregateRow>> {
  const { lo, hi } = (await subscriptionHours(q).execute(db)).rows[0] ?? {};
  if (!lo || !hi) return [];
  const afterDay = cursor.after && utcDay(cursor.after[0]);
  const rows: RowsEndingAt<UsageAggregateRow> = [];
  // Without details a page ends after the day of its `records`th record (`walkPage`).
  let read = 0;
  let day = Math.max(utcDay(lo), afterDay ?? 0);
  for (; day <= utcDay(hi) && rows.length <= cursor.limit && (q.showDetails || read < records); day += DAY_MS) {
    const after = day === afterDay ? cursor.after?.slice(1) : undefined;
    const groups = (await tenantDayQuery(q, new Date(day), after, cursor.limit + 1 - rows.length).execute(db)).rows;
    for (const g of groups) read += g.records;
    rows.push(...groups);
  }
  const last = rows.at(-1);
  if (rows.length <= cursor.limit && last !== undefined && day <= utcDay(hi))
    rows.endsAt = outboxUsageOrder(q).keyOf(last);
  return rows;
}

// The closed usage records (`usage_records`, the outbox) as the others read and mark them: the
// bridge delivers and marks them, the stack's usage APIs aggregate them, chargeback rates them.
// Only metering's SQL names the table.

/** Which record: its usage hour (ISO 8601 UTC), resource, meter and revision. */
export type RecordKey = Pick<UsageRecordWire, 'hour' | 'resourceId' | 'meterId' | 'revision'>;

/** The key columns of the record being read, for a condition a caller writes about it. */
export interface RecordKeyColumns {
  hour: RawBuilder<unknown>;
  resourceId: RawBuilder<unknown>;
  meterId: RawBuilder<unknown>;
  revision: RawBuilder<unknown>;
}

const RECORD_KEY: RecordKeyColumns = {
  hour: sql.ref('u.hour'),
  resourceId: sql.ref('u.resource_id'),
  meterId: sql.ref('u.meter_id'),
  revision: sql.ref('u.revision'),
};

const isoHour = (column: RawBuilder<unknown>) =>
  sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

const keysJson = (records: RecordKey[]) =>
  JSON.stringify(records.map((r) => ({ h: r.hour, r: r.resourceId, m: r.meterId, v: r.revision })));

/** A record's key as one string (the hour as `isoHour` writes it). */
export const recordKeyText = (k: RecordKey) => `${k.hour} ${k.resourceId} ${k.meterId} ${k.revision}`;

export interface OutboxCounts {
  undelivered: number;
  delivered: number;
  lastClosedHour: Date | null;
  lastDeliveredHour: Date | null;
}

export const outboxStore = {
  /**
   * The oldest undelivered records, in a stable order, as they go on the wire; without those
   * `withheld` holds back (a condition on the record's key columns).
   */
  undelivered: async (
    db: MeteringDb,
    limit: number,
    withheld: (record: RecordKeyColumns) => RawBuilder<unknown> = () => sql`false`,
  ): Promise<UsageRecordWire[]> => {
    const result = await sql<Omit<UsageRecordWire, 'tags'> & { tags: unknown }>`
      select resource_id::text as "resourceId", resource_uri as "resourceUri", meter_id::text as "meterId",
             ${isoHour(sql.ref('hour'))} as "hour", revision, quantity::text as "quantity",
             subscription_id::text as "subscriptionId", tenant_id::text as "tenantId", location, tags
      from usage_records u where delivered_at is null and not (${withheld(RECORD_KEY)})
      order by hour, resource_id, meter_id, revision
      limit ${limit}
    `.execute(db);
    return result.rows.map(toWire);
  },

  /** Marks records delivered: the hub acknowledged the batch that carried them. */
  markDelivered: async (db: MeteringDb, records: RecordKey[], at: Date): Promise<void> => {
    if (records.length === 0) return;
    await sql`
      update usage_records u set delivered_at = ${at}::timestamptz
      from jsonb_to_recordset(${keysJson(records)}::jsonb) as k(h timestamptz, r uuid, m uuid, v int)
      where u.hour = k.h and u.resource_id = k.r and u.meter_id = k.m and u.revision = k.v and u.delivered_at is null
    `.execute(db);
  },

  /** The outbox's counts, from the counters its triggers keep (migration 1208): never a count of the records. */
  counts: async (db: MeteringDb): Promise<OutboxCounts> => {
    const row = await db
      .selectFrom('usage_record_counts')
      .select((eb) => [
        eb.fn.coalesce(eb.fn.sum<string>('undelivered'), sql<string>`0`).as('undelivered'),
        eb.fn.coalesce(eb.fn.sum<string>('delivered'), sql<string>`0`).as('delivered'),
        eb.fn.max('last_hour').as('last_closed'),
        eb.fn.max('last_delivered_hour').as('last_delivered'),
      ])
      .executeTakeFirstOrThrow();
    return {
      undelivered: Number(row.undelivered),
      delivered: Number(row.delivered),
      lastClosedHour: (row.last_closed as Date | null) ?? null,
      lastDeliveredHour: (row.last_delivered as Date | null) ?? null,
    };
  },

  /** The given records' URI, quantity and delivery (those that exist). */
  recordsAt: async (
    db: MeteringDb,
    keys: RecordKey[],
  ): Promise<Map<string, { resourceUri: string; quantity: string; deliveredAt: Date | null }>> => {
    if (keys.length === 0) return new Map();
    const result = await sql<RecordKey & { resourceUri: string; quantity: string; deliveredAt: Date | null }>`
      select ${isoHour(sql.ref('u.hour'))} as hour, u.resource_id::text as "resourceId", u.meter_id::text as "meterId",
             u.revision, u.resource_uri as "resourceUri", u.quantity::text as quantity, u.delivered_at as "deliveredAt"
      from usage_records u
      join jsonb_to_recordset(${keysJson(keys)}::jsonb) as k(h timestamptz, r uuid, m uuid, v int)
        on u.hour = k.h and u.resource_id = k.r and u.meter_id = k.m and u.revision = k.v
    `.execute(db);
    return new Map(result.rows.map((r) => [recordKeyText(r), r]));
  },

  /** Delivered records per usage hour and meter: the stack's side of the reconciliation. */
  deliveredSummary: async (db: MeteringDb, from: Date, to: Date): Promise<UsageHourSummary[]> => {
    const result = await sql<UsageHourSummary>`
      select ${isoHour(sql.ref('hour'))} as hour, meter_id::text as "meterId", count(*)::int as records, sum(quantity)::text as quantity
      from usage_records
      where delivered_at is not null and hour >= ${from}::timestamptz and hour < ${to}::timestamptz
      group by hour, meter_id
      order by hour, meter_id
    `.execute(db);
    return result.rows;
  },

  /**
   * The usage APIs' aggregates: closed records by the time they were reported, per usage hour or
   * day, per subscription, meter and (with details) resource.
   */
  aggregates: async (
    db: MeteringDb,
    q: OutboxUsageQuery,
    cursor: Cursor,
    records = USAGE_PAGE_RECORDS,
  ): Promise<RowsEndingAt<UsageAggregateRow>> =>
    q.subscriptionId !== undefined && q.granularity === 'Daily'
      ? tenantDailyPage(db, { ...q, subscriptionId: q.subscriptionId }, cursor, records)
      : walkPage(db, q, cursor, records),

  /**
   * A query (to compose into another, not run alone) of the usage of hours in [start, end) per
   * day: subscription_id, tenant_id, meter_id, resource_uri, location, usage_date, quantity (days
   * that sum to zero left out). Chargeback rates it.
   */
  dailyUsage: (start: Date, end: Date, subscriptionIds?: readonly string[]): RawBuilder<unknown> => {
    const only = subscriptionIds === undefined ? sql`true` : sql`r.subscription_id = any(${subscriptionIds}::uuid[])`;
    return sql`
      select r.subscription_id, r.tenant_id, r.meter_id, r.resource_uri, r.location,
             (r.hour at time zone 'UTC')::date as usage_date, sum(r.quantity) as quantity
      from usage_records r where r.hour >= ${start}::timestamptz and r.hour < ${end}::timestamptz and ${only}
      group by r.subscription_id, r.tenant_id, r.meter_id, r.resource_uri, r.location, usage_date
      having sum(r.quantity) <> 0
    `;
  },
};
