import { type Kysely, sql } from 'kysely';
import { toWire, type UsageRecordWire } from '../../core/usage-record.ts';
import type { UsageHourSummary } from '../../core/usage-summary.ts';
import type { ResourcesTables } from '../resources/tables.ts';
import type { BridgeTables, QuarantineState } from './tables.ts';
import type { Reconciliation } from './reconcile.ts';

// The bridge's outbox: closed usage records not yet acknowledged by the hub, the quarantine of
// those the hub refused, and the bridge's status.
export type BridgeDb = Kysely<ResourcesTables & BridgeTables & { settings: { key: string; value: unknown } }>;

export type OutboxRecord = UsageRecordWire;

export interface BridgeStatus {
  lastDeliveredAt?: string;
  lastAcknowledgedBatch?: string;
  lastAttemptAt?: string;
  lastError?: string;
  delivered?: number;
  /** The last comparison of the delivered records with what the hub received. */
  reconciliation?: Reconciliation;
}

/** A quarantined record as the operator sees it. */
export interface QuarantineEntry {
  id: number;
  hour: string;
  resourceId: string;
  resourceUri: string;
  meterId: string;
  revision: number;
  quantity: string;
  state: QuarantineState;
  refusal: { status: number; code: string; message: string };
  quarantinedAt: string;
  refusedAt: string;
  retries: number;
  retriedAt: string | null;
  retriedBy: string | null;
  deliveredAt: string | null;
  dropped: { at: string; by: string; reason: string } | null;
}

/** Which records a retry or a drop is about: the given ids, or every held one. */
export type QuarantineSelection = { ids: number[] } | { all: true };

const keysJson = (records: Pick<OutboxRecord, 'hour' | 'resourceId' | 'meterId' | 'revision'>[]) =>
  JSON.stringify(records.map((r) => ({ h: r.hour, r: r.resourceId, m: r.meterId, v: r.revision })));

const selected = (s: QuarantineSelection) => ('all' in s ? sql`true` : sql`id = any(${s.ids.map(String)}::bigint[])`);

export const bridgeStore = {
  /** The oldest undelivered records, in a stable order, as they go on the wire. */
  undelivered: async (db: BridgeDb, limit: number): Promise<OutboxRecord[]> => {
    const result = await sql<Omit<OutboxRecord, 'tags'> & { tags: unknown }>`
      select resource_id::text as "resourceId", resource_uri as "resourceUri", meter_id::text as "meterId",
             to_char(hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "hour", revision, quantity::text as "quantity",
             subscription_id::text as "subscriptionId", tenant_id::text as "tenantId", location, tags
      from usage_records u where delivered_at is null
        and not exists (
          select 1 from usage_quarantine q
          where q.hour = u.hour and q.resource_id = u.resource_id and q.meter_id = u.meter_id and q.revision = u.revision and q.state <> 'released'
        )
      order by hour, resource_id, meter_id, revision
      limit ${limit}
    `.execute(db);
    return result.rows.map(toWire);
  },

  markDelivered: async (db: BridgeDb, records: OutboxRecord[], at: Date): Promise<void> => {
    if (records.length === 0) return;
    await sql`
      update usage_records u set delivered_at = ${at}::timestamptz
      from jsonb_to_recordset(${keysJson(records)}::jsonb) as k(h timestamptz, r uuid, m uuid, v int)
      where u.hour = k.h and u.resource_id = k.r and u.meter_id = k.m and u.revision = k.v and u.delivered_at is null
    `.execute(db);
  },

  counts: async (db: BridgeDb) => {
    const r = await sql<{
      outbox: string;
      delivered: string;
      held: string;
      dropped: string;
      last_closed: Date | null;
      last_delivered: Date | null;
    }>`
      with q as (
        select count(*) filter (where state = 'held') as held, count(*) filter (where state = 'dropped') as dropped from usage_quarantine
      )
      select (count(*) filter (where delivered_at is null) - (select held + dropped from q))::text as outbox,
             count(*) filter (where delivered_at is not null)::text as delivered,
             (select held from q)::text as held, (select dropped from q)::text as dropped,
             max(hour) as last_closed, max(hour) filter (where delivered_at is not null) as last_delivered
      from usage_records
    `.execute(db);
    return r.rows[0];
  },

  /** Delivered records per usage hour and meter: the stack's side of the reconciliation. */
  deliveredSummary: async (db: BridgeDb, from: Date, to: Date): Promise<UsageHourSummary[]> => {
    const result = await sql<UsageHourSummary>`
      select to_char(hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as hour, meter_id::text as "meterId", count(*)::int as records, sum(quantity)::text as quantity
      from usage_records
      where delivered_at is not null and hour >= ${from}::timestamptz and hour < ${to}::timestamptz
      group by hour, meter_id
      order by hour, meter_id
    `.execute(db);
    return result.rows;
  },

  /** Sets refused records aside with the hub's answer; a record refused again is held again. */
  quarantine: async (
    db: BridgeDb,
    entries: { record: OutboxRecord; status: number; code: string; message: string }[],
    at: Date,
  ): Promise<void> => {
    if (entries.length === 0) return;
    const rows = entries.map((e) => ({
      h: e.record.hour,
      r: e.record.resourceId,
      m: e.record.meterId,
      v: e.record.revision,
      s: e.status,
      c: e.code,
      t: e.message,
    }));
    await sql`
      insert into usage_quarantine (hour, resource_id, meter_id, revision, state, status, code, message, quarantined_at, refused_at)
      select h, r, m, v, 'held', s, c, t, ${at}::timestamptz, ${at}::timestamptz
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as k(h timestamptz, r uuid, m uuid, v int, s int, c text, t text)
      on conflict (hour, resource_id, meter_id, revision) do update
        set state = 'held', status = excluded.status, code = excluded.code, message = excluded.message, refused_at = excluded.refused_at
        where usage_quarantine.state <> 'dropped'
    `.execute(db);
  },

  listQuarantine: async (db: BridgeDb, offset: number, limit: number): Promise<QuarantineEntry[]> => {
    const result = await sql<QuarantineEntry>`
      select q.id::int as id, to_char(q.hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as hour, q.resource_id::text as "resourceId", u.resource_uri as "resourceUri",
             q.meter_id::text as "meterId", q.revision, u.quantity::text as quantity, q.state,
             jsonb_build_object('status', q.status, 'code', q.code, 'message', q.message) as refusal,
             q.quarantined_at as "quarantinedAt", q.refused_at as "refusedAt", q.retries, q.retried_at as "retriedAt", q.retried_by as "retriedBy",
             u.delivered_at as "deliveredAt",
             case when q.state = 'dropped' then jsonb_build_object('at', q.dropped_at, 'by', q.dropped_by, 'reason', q.drop_reason) end as dropped
      from usage_quarantine q join usage_records u using (hour, resource_id, meter_id, revision)
      order by q.id
      offset ${offset} limit ${limit}
    `.execute(db);
    return result.rows.map((r) => ({
      ...r,
      quarantinedAt: new Date(r.quarantinedAt).toISOString(),
      refusedAt: new Date(r.refusedAt).toISOString(),
      retriedAt: r.retriedAt && new Date(r.retriedAt).toISOString(),
      deliveredAt: r.deliveredAt && new Date(r.deliveredAt).toISOString(),
      dropped: r.dropped && { ...r.dropped, at: new Date(r.dropped.at).toISOString() },
    }));
  },

  /** The states of the given quarantine ids (those that exist). */
  quarantineStates: async (db: BridgeDb, ids: number[]): Promise<Map<number, QuarantineState>> => {
    const rows = await db
      .selectFrom('usage_quarantine')
      .select(['id', 'state'])
      .where('id', 'in', ids.length > 0 ? ids.map(String) : ['0'])
      .execute();
    return new Map(rows.map((r) => [Number(r.id), r.state]));
  },

  /** Puts held records back in the outbox. Answers the ids released. */
  release: async (db: BridgeDb, which: QuarantineSelection, by: string, at: Date): Promise<number[]> => {
    const result = await sql<{ id: string }>`
      update usage_quarantine set state = 'released', retries = retries + 1, retried_at = ${at}::timestamptz, retried_by = ${by}
      where state = 'held' and ${selected(which)}
      returning id
    `.execute(db);
    return result.rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  },

  /** Keeps held records out for good, saying who and why. Answers the ids dropped. */
  drop: async (db: BridgeDb, which: QuarantineSelection, by: string, reason: string, at: Date): Promise<number[]> => {
    const result = await sql<{ id: string }>`
      update usage_quarantine set state = 'dropped', dropped_at = ${at}::timestamptz, dropped_by = ${by}, drop_reason = ${reason}
      where state = 'held' and ${selected(which)}
      returning id
    `.execute(db);
    return result.rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  },

  status: async (db: BridgeDb): Promise<BridgeStatus> => {
    const row = await db.selectFrom('settings').select('value').where('key', '=', 'bridge').executeTakeFirst();
    return (row?.value as BridgeStatus) ?? {};
  },

  setStatus: async (db: BridgeDb, status: BridgeStatus): Promise<void> => {
    const json = JSON.stringify(status);
    await db
      .insertInto('settings')
      .values({ key: 'bridge', value: json })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: json }))
      .execute();
  },
};
