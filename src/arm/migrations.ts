import { type Kysely, type Migration, sql } from 'kysely';

export const armMigrations: Record<string, Migration> = {
  '0001_arm_base': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table settings (
          key text primary key,
          value jsonb not null
        );
        create table subscriptions (
          subscription_id uuid primary key,
          tenant_id uuid not null,
          display_name text not null,
          state text not null default 'Enabled',
          created_at timestamptz not null,
          created_by uuid
        );
        create index subscriptions_tenant on subscriptions (tenant_id);
        create table resource_groups (
          subscription_id uuid not null references subscriptions (subscription_id) on delete cascade,
          name_key text not null,
          name text not null,
          location text not null,
          tags jsonb not null default '{}',
          managed_by text,
          created_at timestamptz not null,
          primary key (subscription_id, name_key)
        );
        create table role_assignments (
          name uuid primary key,
          scope text not null,
          scope_key text not null,
          subscription_id uuid not null references subscriptions (subscription_id) on delete cascade,
          role_definition_id uuid not null,
          principal_id uuid not null,
          principal_type text not null,
          created_at timestamptz not null,
          created_by uuid
        );
        -- one assignment per (scope, role, principal), as ARM's RoleAssignmentExists rule has it
        create unique index role_assignments_unique on role_assignments (scope_key, role_definition_id, principal_id);
        create index role_assignments_principal on role_assignments (principal_id, scope_key);
        create index role_assignments_subscription on role_assignments (subscription_id);
      `.execute(db);
    },
  },
  '0002_subscription_offer': {
    async up(db: Kysely<unknown>) {
      // The offer a subscription was created under, and (on the hub) the partner that sold it.
      await sql`
        alter table subscriptions add column offer_id text;
        alter table subscriptions add column sold_by uuid;
      `.execute(db);
    },
  },
  '0003_root_scope_assignments': {
    async up(db: Kysely<unknown>) {
      // Assignments at the root scope `/` (system administration, operation, usage reporting)
      // belong to no subscription.
      await sql`alter table role_assignments alter column subscription_id drop not null`.execute(db);
    },
  },
  '0004_published_subscription_directories': {
    async up(db: Kysely<unknown>) {
      // Published for other domains' SQL (the stack's closing of an hour copies a subscription's
      // directory onto each usage record): which directory holds each subscription.
      await sql`
        create function subscription_directories()
        returns table (subscription_id uuid, tenant_id uuid) language sql stable as $$
          select subscription_id, tenant_id from subscriptions
        $$;
      `.execute(db);
    },
  },
  '0005_list_order_indexes': {
    async up(db: Kysely<unknown>) {
      // Keyset paging (core/paging.ts): role assignments list by (created_at, name) in a subscription or at the root.
      await sql`
        create index role_assignments_subscription_order on role_assignments (subscription_id, created_at, name);
        create index role_assignments_scope_order on role_assignments (scope_key, created_at, name);
      `.execute(db);
    },
  },
};
