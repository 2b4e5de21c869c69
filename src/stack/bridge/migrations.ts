import { type Kysely, type Migration, sql } from 'kysely';

export const bridgeMigrations: Record<string, Migration> = {
  '1301_usage_quarantine': {
    async up(db: Kysely<unknown>) {
      // Outbox records the hub refused, set aside so that the rest keeps flowing: held (not sent)
      // until the operator retries them (released: back in the outbox) or drops them (with who
      // and why). The usage record itself is never deleted: the ledger keeps it.
      await sql`
        create table usage_quarantine (
          id bigserial primary key,
          hour timestamptz not null,
          resource_id uuid not null,
          meter_id uuid not null,
          revision integer not null,
          state text not null check (state in ('held', 'released', 'dropped')),
          status integer not null,
          code text not null,
          message text not null,
          quarantined_at timestamptz not null,
          refused_at timestamptz not null,
          retries integer not null default 0,
          retried_at timestamptz,
          retried_by text,
          dropped_at timestamptz,
          dropped_by text,
          drop_reason text,
          unique (hour, resource_id, meter_id, revision),
          foreign key (hour, resource_id, meter_id, revision) references usage_records (hour, resource_id, meter_id, revision),
          check ((state = 'dropped') = (dropped_at is not null and drop_reason is not null))
        );
        create index usage_quarantine_state on usage_quarantine (state, id);
      `.execute(db);
    },
  },
  '1302_quarantine_reference_deferred': {
    async up(db: Kysely<unknown>) {
      // The outbox is partitioned by month (metering's 1207): a month's records move from the
      // default partition into their own within a transaction, so the reference is checked at commit.
      await sql`
        alter table usage_quarantine drop constraint if exists usage_quarantine_hour_resource_id_meter_id_revision_fkey;
        alter table usage_quarantine add constraint usage_quarantine_record foreign key (hour, resource_id, meter_id, revision)
          references usage_records (hour, resource_id, meter_id, revision) deferrable initially deferred;
      `.execute(db);
    },
  },
};
