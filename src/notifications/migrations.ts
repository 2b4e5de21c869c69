import { type Kysely, type Migration, sql } from 'kysely';

export const notificationMigrations: Record<string, Migration> = {
  '0801_webhooks': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table webhooks (
          name text primary key,
          owner_kind text not null check (owner_kind in ('system', 'partner', 'customer')),
          owner_tenant_id uuid,
          url text not null,
          events text[] not null,
          sealed_secret text not null,
          created_at timestamptz not null,
          updated_at timestamptz not null,
          check ((owner_kind = 'system') = (owner_tenant_id is null))
        );
        create index webhooks_owner on webhooks (owner_kind, owner_tenant_id, name);
        create table notification_events (
          id uuid primary key,
          event_key text not null unique,
          type text not null,
          occurred_at timestamptz not null,
          data jsonb not null,
          partner_id uuid,
          customer_id uuid
        );
        create table webhook_deliveries (
          seq bigserial not null,
          webhook_name text not null references webhooks (name) on delete cascade,
          event_id uuid not null references notification_events (id),
          status text not null check (status in ('Pending', 'Delivered', 'Failed')),
          attempts int not null default 0,
          created_at timestamptz not null default now(),
          next_attempt_at timestamptz not null default now(),
          leased_until timestamptz,
          lease_id uuid,
          first_attempt_at timestamptz,
          last_attempt_at timestamptz,
          last_status_code int,
          last_error text,
          delivered_at timestamptz,
          primary key (webhook_name, event_id)
        );
        -- The worker's question: each webhook's oldest pending delivery.
        create index webhook_deliveries_pending on webhook_deliveries (webhook_name, seq) where status = 'Pending';
        create index webhook_deliveries_log on webhook_deliveries (webhook_name, seq desc);
      `.execute(db);
    },
  },
};
