import { type Kysely, type Migration, sql } from 'kysely';

export const partnerMigrations: Record<string, Migration> = {
  '0201_partner_center': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table customers (
          id uuid not null,
          partner_tenant_id uuid not null,
          commerce_id uuid not null,
          company_name text not null,
          domain text not null,
          billing_profile jsonb not null,
          relationship text not null,
          admin_object_id uuid not null,
          created_at timestamptz not null,
          etag text not null,
          primary key (partner_tenant_id, id)
        );
        create index customers_company on customers (partner_tenant_id, lower(company_name));
        create table orders (
          id uuid primary key,
          customer_id uuid not null,
          partner_tenant_id uuid not null,
          billing_cycle text not null,
          line_items jsonb not null,
          status text not null,
          created_at timestamptz not null,
          foreign key (partner_tenant_id, customer_id) references customers (partner_tenant_id, id)
        );
        create table partner_subscriptions (
          id uuid primary key,
          customer_id uuid not null,
          partner_tenant_id uuid not null,
          offer_id text not null,
          friendly_name text not null,
          quantity integer not null,
          status text not null check (status in ('active', 'suspended', 'deleted')),
          suspension_reasons jsonb not null default '[]',
          billing_cycle text not null,
          order_id uuid not null references orders (id),
          created_at timestamptz not null,
          updated_at timestamptz not null,
          etag text not null,
          foreign key (partner_tenant_id, customer_id) references customers (partner_tenant_id, id)
        );
        create index partner_subscriptions_customer on partner_subscriptions (partner_tenant_id, customer_id);
      `.execute(db);
    },
  },
  '0202_subscription_aliases': {
    async up(db: Kysely<unknown>) {
      // Subscriptions a directory creates for itself (pay-as-you-go), named by an alias.
      await sql`
        create table subscription_aliases (
          tenant_id uuid not null,
          name text not null,
          subscription_id uuid not null references subscriptions (subscription_id),
          created_at timestamptz not null,
          primary key (tenant_id, name)
        );
      `.execute(db);
    },
  },
  '0203_list_order_indexes': {
    async up(db: Kysely<unknown>) {
      // Keyset paging: a partner's customers and a customer's subscriptions, oldest first.
      await sql`
        create index customers_partner_order on customers (partner_tenant_id, created_at, id);
        create index partner_subscriptions_order on partner_subscriptions (partner_tenant_id, customer_id, created_at, id);
      `.execute(db);
    },
  },
  '0204_order_list_index': {
    async up(db: Kysely<unknown>) {
      // Keyset paging: a customer's orders, oldest first (ORDER_LIST_ORDER).
      await sql`create index orders_list_order on orders (partner_tenant_id, customer_id, created_at, id)`.execute(db);
    },
  },
};
