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
  '1204_published_resource_facts': {
    async up(db: Kysely<unknown>) {
      // Published for metering's SQL (closing an hour copies them onto each usage record): every
      // resource, deleted ones too, with its id as ARM writes it, its location and its tags.
      await sql`
        create function metered_resource_facts()
        returns table (id uuid, subscription_id uuid, resource_uri text, location text, tags jsonb)
        language sql stable as $$
          select id, subscription_id,
                 '/subscriptions/' || subscription_id || '/resourceGroups/' || resource_group || '/providers/' || type || '/' || name,
                 location, tags
          from resources
        $$;
      `.execute(db);
    },
  },
  '1205_list_order_index': {
    async up(db: Kysely<unknown>) {
      // Keyset paging: a type's live resources by group and name (the generic list uses resources_live).
      await sql`
        create index resources_type_order on resources (subscription_id, type_key, resource_group_key, name_key) where deleted_at is null;
      `.execute(db);
    },
  },
};
