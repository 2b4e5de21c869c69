import { type Kysely, type Migration, sql } from 'kysely';
import type { ResourcesTable } from './tables.ts';

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
  '1206_quota_usage_counters': {
    async up(db: Kysely<unknown>) {
      // Quota checks read per-subscription counters instead of every live resource. Each row keeps
      // what it counts (its type's `quotaUsage`, written with the row); a trigger applies the
      // difference between a row's old and new counts (a deleted row counts nothing) to its
      // subscription's counters, in the write's transaction, in a fixed order of counters.
      await sql`alter table resources add column quota_usage jsonb not null default '{}'`.execute(db);
      await sql`
        create table resource_usage (
          subscription_id uuid not null,
          counter text not null,
          amount numeric not null,
          primary key (subscription_id, counter)
        )
      `.execute(db);
      await sql`
        create function count_resource_usage() returns trigger language plpgsql as $$
        begin
          insert into resource_usage (subscription_id, counter, amount)
          select d.subscription_id, d.counter, sum(d.amount)
          from (
            select new.subscription_id, u.key, u.value::numeric from jsonb_each_text(new.quota_usage) u
            where tg_op <> 'DELETE' and new.deleted_at is null
            union all
            select old.subscription_id, u.key, -u.value::numeric from jsonb_each_text(old.quota_usage) u
            where tg_op <> 'INSERT' and old.deleted_at is null
          ) d(subscription_id, counter, amount)
          group by d.subscription_id, d.counter
          having sum(d.amount) <> 0
          order by d.subscription_id, d.counter
          on conflict (subscription_id, counter) do update set amount = resource_usage.amount + excluded.amount;
          return null;
        end $$
      `.execute(db);
      await sql`
        create trigger resources_count_usage after insert or update of quota_usage, deleted_at, subscription_id or delete
        on resources for each row execute function count_resource_usage()
      `.execute(db);
      // Existing resources count from now on: each live row's usage, by its type's rule.
      const { RESOURCE_TYPES } = await import('./types/index.ts');
      const live = await sql<ResourcesTable>`select * from resources where deleted_at is null`.execute(db);
      const counted = live.rows.flatMap((row) => {
        const t = RESOURCE_TYPES.find((x) => x.type.toLowerCase() === row.type_key);
        return t ? [{ id: row.id, usage: JSON.stringify(t.quotaUsage(row)) }] : [];
      });
      await sql`
        update resources r set quota_usage = u.usage
        from unnest(${counted.map((c) => c.id)}::uuid[], ${counted.map((c) => c.usage)}::jsonb[]) as u(id, usage)
        where r.id = u.id
      `.execute(db);
    },
  },
};
