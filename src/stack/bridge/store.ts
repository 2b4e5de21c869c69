import { type Kysely, type RawBuilder, sql } from 'kysely';
import { armStore } from '../../arm/store.ts';
import type { SettingsTable } from '../../arm/tables.ts';
import type { UsageRecordWire } from '../../core/usage-record.ts';
import type { ArchiveQuarantine } from '../metering/archive.ts';
import type { RecordKeyColumns } from '../metering/outbox-store.ts';
import type { MeteringTables } from '../metering/tables.ts';
import type { BridgeTables, QuarantineState } from './tables.ts';
import type { Reconciliation } from './reconcile.ts';
import { afterKey, keyOrder, keyset, type Cursor } from '../../core/paging.ts';

// The bridge's own SQL: the quarantine of the records the hub refused, and the bridge's status.
// The outbox itself (the usage records, their delivery) is metering's (metering/outbox-store.ts);
// the database is handed with its tables so that the bridge can read and mark them through it, and
// with ARM's settings, where the bridge's status is kept (ARM's store writes it).
export type BridgeDb = Kysely<MeteringTables & BridgeTables & { settings: SettingsTable }>;

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

/** A quarantined record as the operator sees it (the record's URI, quantity and delivery from the outbox). */
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

const selected = (s: QuarantineSelection) => ('all' in s ? sql`true` : sql`id = any(${s.ids.map(String)}::bigint[])`);

/** The quarantine in the order records came into it (its primary key). */
export const QUARANTINE_ORDER = keyset('quarantine', [[sql`q.id`, 'int']], (e: { id: number }) => [e.id]);

export const bridgeStore = {
  /** Whether the outbox record whose key columns are given is held back: quarantined and not released. */
  withheld: (record: RecordKeyColumns): RawBuilder<unknown> => sql`exists (
    select 1 from usage_quarantine q
    where q.hour = ${record.hour} and q.resource_id = ${record.resourceId} and q.meter_id = ${record.meterId}
      and q.revision = ${record.revision} and q.state <> 'released'
  )`,

  /** How many records are held and dropped: the counts its triggers keep (1303), not a count of the table. */
  counts: async (db: BridgeDb): Promise<{ held: number; dropped: number }> => {
    const r = await sql<{ held: number; dropped: number }>`
      select coalesce(sum(records) filter (where state = 'held'), 0)::int as held,
             coalesce(sum(records) filter (where state = 'dropped'), 0)::int as dropped
      from usage_quarantine_counts
    `.execute(db);
    return r.rows[0];
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

  /** A page of the quarantine, in order, each entry with its record's key. */
  listQuarantine: async (
    db: BridgeDb,
    cursor: Cursor,
  ): Promise<Omit<QuarantineEntry, 'resourceUri' | 'quantity' | 'deliveredAt'>[]> => {
    const result = await sql<Omit<QuarantineEntry, 'resourceUri' | 'quantity' | 'deliveredAt'>>`
      select q.id::int as id, to_char(q.hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as hour, q.resource_id::text as "resourceId",
             q.meter_id::text as "meterId", q.revision, q.state,
             jsonb_build_object('status', q.status, 'code', q.code, 'message', q.message) as refusal,
             q.quarantined_at as "quarantinedAt", q.refused_at as "refusedAt", q.retries, q.retried_at as "retriedAt", q.retried_by as "retriedBy",
             case when q.state = 'dropped' then jsonb_build_object('at', q.dropped_at, 'by', q.dropped_by, 'reason', q.drop_reason) end as dropped
      from usage_quarantine q
      where ${afterKey(QUARANTINE_ORDER, cursor.after)}
      order by ${keyOrder(QUARANTINE_ORDER)}
      limit ${cursor.limit + 1}
    `.execute(db);
    return result.rows.map((r) => ({
      ...r,
      quarantinedAt: new Date(r.quarantinedAt).toISOString(),
      refusedAt: new Date(r.refusedAt).toISOString(),
      retriedAt: r.retriedAt && new Date(r.retriedAt).toISOString(),
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

  // The bridge's status is one of ARM's settings (key `bridge`).
  status: async (db: BridgeDb): Promise<BridgeStatus> => (await armStore.getSetting<BridgeStatus>(db, 'bridge')) ?? {},

  /** Changes some fields of the status in one statement (see `updateSetting`). */
  updateStatus: (
    db: BridgeDb,
    change: { set?: Partial<BridgeStatus>; unset?: (keyof BridgeStatus)[]; add?: { delivered: number } },
  ): Promise<void> => armStore.updateSetting(db, 'bridge', change),
};

/** The quarantine of a month for metering's archive, in the archive's transaction. */
export const quarantineForArchive: ArchiveQuarantine = {
  pending: async (db, from, to) =>
    (
      await sql<{ held: number; dropped: number }>`
        select count(*) filter (where state = 'held')::int as held, count(*) filter (where state = 'dropped')::int as dropped
        from usage_quarantine where hour >= ${from}::timestamptz and hour < ${to}::timestamptz
      `.execute(db)
    ).rows[0],
  forget: async (db, from, to) => {
    await sql`delete from usage_quarantine where hour >= ${from}::timestamptz and hour < ${to}::timestamptz`.execute(
      db,
    );
  },
};
