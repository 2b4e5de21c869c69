import { type Kysely, type Migration, sql } from 'kysely';

export const networkMigrations: Record<string, Migration> = {
  '1701_network': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table network_resources (
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
          etag uuid not null,
          created_at timestamptz not null,
          updated_at timestamptz not null,
          deleted_at timestamptz
        );
        create unique index network_resources_live on network_resources (subscription_id, resource_group_key, type_key, name_key) where deleted_at is null;

        create table network_references (
          id bigserial primary key,
          subscription_id uuid not null,
          holder_id uuid not null,
          holder text not null,
          kind text not null,
          target_id uuid not null,
          target_child text not null default '',
          private_ip inet
        );
        create index network_references_holder on network_references (holder_id);
        create index network_references_target on network_references (target_id, target_child);
        -- an address of a subnet is one IP configuration's
        create unique index network_references_private_ip on network_references (target_id, target_child, private_ip) where private_ip is not null;
        -- a public IP serves one IP configuration, a NIC one VM
        create unique index network_references_exclusive on network_references (target_id) where kind in ('publicIPAddress', 'networkInterface');

        create table public_ip_pool (
          address inet primary key,
          public_ip_id uuid not null unique
        );
      `.execute(db);
    },
  },
  '1702_network_list_order': {
    async up(db: Kysely<unknown>) {
      // Keyset paging: a type's live network resources by group and name.
      await sql`
        create index network_resources_type_order on network_resources (subscription_id, type_key, resource_group_key, name_key) where deleted_at is null;
      `.execute(db);
    },
  },
  '1703_network_usage_counters': {
    async up(db: Kysely<unknown>) {
      // Quota checks read per-subscription counters of live resources per type, not the resources:
      // a trigger adds a row's difference (live or not, its subscription and type) in the write's
      // transaction, as the resources' counters do (1206); checks read them under the subscription's lock.
      await sql`
        create table network_usage (
          subscription_id uuid not null,
          type_key text not null,
          live integer not null,
          primary key (subscription_id, type_key)
        );
        create function count_network_usage() returns trigger language plpgsql as $$
        begin
          insert into network_usage (subscription_id, type_key, live)
          select d.subscription_id, d.type_key, sum(d.live)
          from (
            select new.subscription_id, new.type_key, 1 where tg_op <> 'DELETE' and new.deleted_at is null
            union all
            select old.subscription_id, old.type_key, -1 where tg_op <> 'INSERT' and old.deleted_at is null
          ) d(subscription_id, type_key, live)
          group by d.subscription_id, d.type_key
          having sum(d.live) <> 0
          order by d.subscription_id, d.type_key
          on conflict (subscription_id, type_key) do update set live = network_usage.live + excluded.live;
          return null;
        end $$;
        create trigger network_resources_count_usage after insert or update of deleted_at, subscription_id, type_key or delete
        on network_resources for each row execute function count_network_usage();
        insert into network_usage (subscription_id, type_key, live)
        select subscription_id, type_key, count(*) from network_resources where deleted_at is null group by 1, 2;
      `.execute(db);
    },
  },
};
