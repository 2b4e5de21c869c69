import { type Kysely, type Migration, sql } from 'kysely';

export const auditMigrations: Record<string, Migration> = {
  '0301_activity_log': {
    async up(db: Kysely<unknown>) {
      // Append-only: no API changes it, and the database refuses updates and deletes.
      await sql`
        create table activity_log (
          id bigserial primary key,
          directory_id uuid not null,
          partner_id uuid,
          occurred_at timestamptz not null,
          actor_object_id uuid not null,
          actor_tenant_id uuid not null,
          actor_name text,
          operation text not null,
          resource_type text not null,
          resource_id text not null,
          old_value jsonb,
          new_value jsonb
        );
        create index activity_log_directory on activity_log (directory_id, occurred_at);
        create index activity_log_partner on activity_log (partner_id, occurred_at);
        create function activity_log_is_append_only() returns trigger language plpgsql as $$
          begin raise exception 'the activity log is append-only'; end $$;
        create trigger activity_log_append_only before update or delete on activity_log
          for each statement execute function activity_log_is_append_only();
      `.execute(db);
    },
  },
  '0302_list_order_index': {
    async up(db: Kysely<unknown>) {
      // Keyset paging: a directory's activity in the order it happened.
      await sql`
        create index activity_log_directory_order on activity_log (directory_id, occurred_at, id);
      `.execute(db);
    },
  },
};
