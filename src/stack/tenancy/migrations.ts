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
};
