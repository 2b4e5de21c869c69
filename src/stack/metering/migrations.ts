import { type Kysely, type Migration, sql } from 'kysely';

// Metering's DDL. These migrations were the resources domain's before metering had a folder of
// its own: they keep their ids (12xx), which existing databases have recorded as run. The table
// `resource_states` is created by the resources' first migration (`1201_resources`, with the
// resources it references), which existing databases have run too; metering owns it all the same.

export const meteringMigrations: Record<string, Migration> = {
  '1202_usage_records': {
    async up(db: Kysely<unknown>) {
      // One record per resource, meter, hour and revision: closing an hour again writes nothing;
      // a later change of a closed hour writes the difference as the next revision.
      await sql`
        create table usage_records (
          resource_id uuid not null,
          meter_id uuid not null,
          hour timestamptz not null,
          revision integer not null,
          quantity numeric(38, 9) not null,
          subscription_id uuid not null,
          tenant_id uuid not null,
          resource_uri text not null,
          location text not null,
          tags jsonb not null,
          reported_at timestamptz not null,
          -- hour first: closing an hour reads what earlier closings of that hour wrote
          primary key (hour, resource_id, meter_id, revision)
        );
        create index usage_records_reported on usage_records (reported_at);
        create index usage_records_subscription on usage_records (subscription_id, reported_at);
        create table metering_dirty_hours (
          hour timestamptz primary key
        );
      `.execute(db);
    },
  },
  '1203_bridge_outbox': {
    async up(db: Kysely<unknown>) {
      // The usage records are the bridge's outbox: delivered once the hub acknowledged their batch.
      await sql`
        alter table usage_records add column delivered_at timestamptz;
        create index usage_records_undelivered on usage_records (hour, resource_id, meter_id, revision) where delivered_at is null;
      `.execute(db);
    },
  },
  '1206_usage_aggregate_order': {
    async up(db: Kysely<unknown>) {
      // Keyset paging of the usage APIs: one subscription's records in the aggregates' hourly group order.
      await sql`
        create index usage_records_aggregate on usage_records (subscription_id, hour, meter_id, resource_uri) include (reported_at, quantity);
      `.execute(db);
    },
  },
};
