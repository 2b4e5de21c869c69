import { type Kysely, type Migration, sql } from 'kysely';

export const deploymentsMigrations: Record<string, Migration> = {
  '1701_deployments': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table deployments (
          id uuid primary key,
          subscription_id uuid not null references subscriptions (subscription_id),
          resource_group text not null,
          resource_group_key text not null,
          name text not null,
          name_key text not null,
          state text not null,
          mode text not null,
          template_hash text not null,
          parameters jsonb not null,
          outputs jsonb,
          output_resources jsonb not null default '[]',
          error jsonb,
          correlation_id text not null,
          run_id uuid not null,
          created_by text not null,
          started_at timestamptz not null,
          updated_at timestamptz not null,
          ended_at timestamptz,
          duration_ms integer not null default 0
        );
        create unique index deployments_name on deployments (subscription_id, resource_group_key, name_key);
        create index deployments_unfinished on deployments (state) where state in ('Accepted', 'Running');

        create table deployment_operations (
          deployment_id uuid not null references deployments (id) on delete cascade,
          operation_id uuid not null,
          seq integer not null,
          resource_id text not null,
          resource_type text not null,
          resource_name text not null,
          state text not null,
          status_code text,
          error jsonb,
          started_at timestamptz not null,
          ended_at timestamptz,
          duration_ms integer not null default 0,
          primary key (deployment_id, operation_id)
        );
        create index deployment_operations_order on deployment_operations (deployment_id, seq);
      `.execute(db);
    },
  },
  '1703_deployments_list_order': {
    async up(db: Kysely<unknown>) {
      // Keyset paging: a group's deployments newest first, a deployment's operations in order.
      await sql`
        create index deployments_started on deployments (subscription_id, resource_group_key, started_at desc, id desc);
        create index deployment_operations_seq on deployment_operations (deployment_id, seq, operation_id);
      `.execute(db);
    },
  },
};
