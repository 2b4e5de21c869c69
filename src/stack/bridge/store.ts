import { type Kysely, sql } from 'kysely';
import { toWire, type UsageRecordWire } from '../../core/usage-record.ts';
import type { ResourcesTables } from '../resources/tables.ts';

// The bridge's outbox: closed usage records not yet acknowledged by the hub, and its status.
export type BridgeDb = Kysely<ResourcesTables & { settings: { key: string; value: unknown } }>;

export type OutboxRecord = UsageRecordWire;

export interface BridgeStatus {
  lastDeliveredAt?: string;
  lastAcknowledgedBatch?: string;
  lastAttemptAt?: string;
  lastError?: string;
  delivered?: number;
}

export const bridgeStore = {
  /** The oldest undelivered records, in a stable order, as they go on the wire. */
  undelivered: async (db: BridgeDb, limit: number): Promise<OutboxRecord[]> => {
    const result = await sql<Omit<OutboxRecord, 'tags'> & { tags: unknown }>`
      select resource_id::text as "resourceId", resource_uri as "resourceUri", meter_id::text as "meterId",
             to_char(hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "hour", revision, quantity::text as "quantity",
             subscription_id::text as "subscriptionId", tenant_id::text as "tenantId", location, tags
      from usage_records where delivered_at is null
      order by hour, resource_id, meter_id, revision
      limit ${limit}
    `.execute(db);
    return result.rows.map(toWire);
  },

  markDelivered: async (db: BridgeDb, records: OutboxRecord[], at: Date): Promise<void> => {
    if (records.length === 0) return;
    await sql`
      update usage_records u set delivered_at = ${at}::timestamptz
      from jsonb_to_recordset(${JSON.stringify(records.map((r) => ({ h: r.hour, r: r.resourceId, m: r.meterId, v: r.revision })))}::jsonb) as k(h timestamptz, r uuid, m uuid, v int)
      where u.hour = k.h and u.resource_id = k.r and u.meter_id = k.m and u.revision = k.v and u.delivered_at is null
    `.execute(db);
  },

  counts: async (db: BridgeDb) => {
    const r = await sql<{ outbox: string; delivered: string; last_closed: Date | null; last_delivered: Date | null }>`
      select count(*) filter (where delivered_at is null)::text as outbox, count(*) filter (where delivered_at is not null)::text as delivered,
             max(hour) as last_closed, max(hour) filter (where delivered_at is not null) as last_delivered
      from usage_records
    `.execute(db);
    return r.rows[0];
  },

  status: async (db: BridgeDb): Promise<BridgeStatus> => {
    const row = await db.selectFrom('settings').select('value').where('key', '=', 'bridge').executeTakeFirst();
    return (row?.value as BridgeStatus) ?? {};
  },

  setStatus: async (db: BridgeDb, status: BridgeStatus): Promise<void> => {
    const json = JSON.stringify(status);
    await db.insertInto('settings').values({ key: 'bridge', value: json }).onConflict((oc) => oc.column('key').doUpdateSet({ value: json })).execute();
  },
};
