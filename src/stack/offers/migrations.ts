import { type Kysely, type Migration, sql } from 'kysely';

export const offersMigrations: Record<string, Migration> = {
  '1101_quotas_plans_offers': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table quotas (
          provider text not null,
          location text not null,
          name text not null,
          name_key text not null,
          subscription_id uuid not null references subscriptions (subscription_id),
          properties jsonb not null,
          created_at timestamptz not null,
          primary key (provider, location, name_key)
        );
        create table plans (
          id uuid primary key,
          subscription_id uuid not null references subscriptions (subscription_id),
          resource_group text not null,
          resource_group_key text not null,
          name text not null,
          name_key text not null,
          display_name text not null,
          description text,
          external_reference_id text,
          quota_ids text[] not null default '{}',
          sku_ids text[] not null default '{}',
          created_at timestamptz not null,
          unique (subscription_id, resource_group_key, name_key)
        );
        create table offers (
          id uuid primary key,
          subscription_id uuid not null references subscriptions (subscription_id),
          resource_group text not null,
          resource_group_key text not null,
          name text not null,
          name_key text not null,
          display_name text not null,
          description text,
          external_reference_id text,
          state text not null check (state in ('Private', 'Public', 'Decommissioned')),
          max_subscriptions_per_account integer,
          base_plan_ids text[] not null default '{}',
          addon_plans jsonb not null default '[]',
          created_at timestamptz not null,
          unique (subscription_id, resource_group_key, name_key)
        );
        -- an offer's name is what tenants see (/delegatedProviders/default/offers/{name}): unique on the stack
        create unique index offers_name on offers (name_key);
        alter table subscriptions add column owner text;
      `.execute(db);
    },
  },
};
