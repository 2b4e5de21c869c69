import { type Kysely, type Migration, sql } from 'kysely';

export const resourcesMigrations: Record<string, Migration> = {
  '1201_resources': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table resources (
          id uuid primary key,
          subscription_id uuid not null references subscriptions (subscription_id),
          resource_group text not null,
          resource_group_key text not null,
          type text not null,
          type_key text not null,
          name text not null,
          name_key text not null,
          location text not null,
          tags jsonb not null default '{}',
          properties jsonb not null,
          sku jsonb,
          kind text,
          created_at timestamptz not null,
          updated_at timestamptz not null,
          deleted_at timestamptz
        );
        create unique index resources_live on resources (subscription_id, resource_group_key, type_key, name_key) where deleted_at is null;
        create index resources_subscription on resources (subscription_id) where deleted_at is null;

        create table resource_states (
          id bigserial primary key,
          resource_id uuid not null references resources (id),
          subscription_id uuid not null,
          valid_from timestamptz not null,
          valid_to timestamptz,
          rates jsonb not null,
          reason text not null,
          recorded_at timestamptz not null,
          check (valid_to is null or valid_to >= valid_from)
        );
        -- one open interval per resource
        create unique index resource_states_open on resource_states (resource_id) where valid_to is null;
        -- an hour's intervals: the open ones that began before its end, and the closed ones that ended after its start
        create index resource_states_open_from on resource_states (valid_from) where valid_to is null;
        create index resource_states_to on resource_states (valid_to);
        create index resource_states_resource on resource_states (resource_id, valid_from);

        create table operations (
          id uuid primary key,
          subscription_id uuid not null,
          resource_id uuid,
          location text not null,
          name text not null,
          status text not null,
          started_at timestamptz not null,
          ended_at timestamptz,
          error jsonb
        );
      `.execute(db);
    },
  },
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
};
