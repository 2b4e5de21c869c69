import { type Kysely, type Migration, sql } from 'kysely';

export const registrationMigrations: Record<string, Migration> = {
  '0401_registrations': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table registrations (
          id uuid primary key,
          subscription_id uuid not null references subscriptions (subscription_id),
          resource_group text not null,
          resource_group_key text not null,
          name text not null,
          name_key text not null,
          location text not null,
          tags jsonb not null default '{}',
          object_id uuid not null,
          cloud_id uuid not null,
          billing_model text not null,
          registration_token text not null,
          multi_tenancy_approved boolean not null default false,
          etag text not null,
          created_at timestamptz not null,
          updated_at timestamptz not null,
          deleted_at timestamptz
        );
        -- one live registration per name; deleted ones stay for the history of their links
        create unique index registrations_live on registrations (subscription_id, resource_group_key, name_key) where deleted_at is null;
        create index registrations_cloud on registrations (cloud_id);

        create table customer_subscription_links (
          id bigserial primary key,
          registration_id uuid not null references registrations (id),
          cloud_id uuid not null,
          customer_subscription_id uuid not null,
          name text not null,
          tenant_id uuid not null,
          etag text not null,
          valid_from timestamptz not null,
          valid_to timestamptz,
          created_by uuid not null,
          ended_by uuid,
          check (valid_to is null or valid_to >= valid_from)
        );
        -- at most one link in force per registration and customer subscription: adding twice is idempotent
        create unique index customer_subscription_links_live on customer_subscription_links (registration_id, customer_subscription_id) where valid_to is null;
        -- attribution asks: which link held this directory on this deployment at this time?
        create index customer_subscription_links_attribution on customer_subscription_links (cloud_id, tenant_id, valid_from);
      `.execute(db);
    },
  },
};
