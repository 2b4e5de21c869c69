import { type Kysely, type Migration, sql } from 'kysely';

export const tenancyMigrations: Record<string, Migration> = {
  '1001_directory_tenants': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table directory_tenants (
          tenant_id uuid primary key,
          name text not null,
          name_key text not null unique,
          subscription_id uuid not null references subscriptions (subscription_id),
          resource_group text not null,
          created_at timestamptz not null,
          consent_seen_at timestamptz
        );
      `.execute(db);
    },
  },
  '1002_list_order_index': {
    async up(db: Kysely<unknown>) {
      // Keyset paging: onboarded directories, oldest first.
      await sql`
        create index directory_tenants_order on directory_tenants (created_at, tenant_id);
      `.execute(db);
    },
  },
};
