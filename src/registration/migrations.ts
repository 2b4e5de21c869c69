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
  // What registration publishes to the other domains, so that none of them reads its tables: the
  // link-in-force rule (attribution and re-attribution ask it) and each registration's subscription.
  // Plain SQL, STABLE and not STRICT, so PostgreSQL inlines them into the calling query: the plans
  // are those of the joins they replace.
  '0402_published_queries': {
    async up(db: Kysely<unknown>) {
      await sql`
        -- the link that held a directory on a deployment at an instant: in force from valid_from
        -- (inclusive) until valid_to (exclusive); the start of an hour decides the hour
        create function link_in_force(p_cloud_id uuid, p_tenant_id uuid, p_at timestamptz)
        returns setof customer_subscription_links language sql stable as $$
          select c.* from customer_subscription_links c
          where c.cloud_id = p_cloud_id and c.tenant_id = p_tenant_id and c.valid_from <= p_at and (c.valid_to is null or c.valid_to > p_at)
          order by c.valid_from desc limit 1
        $$;
        -- every registration (deleted ones too) with the subscription that holds it
        create function registration_subscriptions()
        returns table (registration_id uuid, subscription_id uuid) language sql stable as $$
          select id, subscription_id from registrations
        $$;
      `.execute(db);
    },
  },
  '0403_list_order_index': {
    async up(db: Kysely<unknown>) {
      // Keyset paging: a registration's live links, oldest first.
      await sql`
        create index customer_subscription_links_live_order on customer_subscription_links (registration_id, valid_from, id) where valid_to is null;
      `.execute(db);
    },
  },
};
