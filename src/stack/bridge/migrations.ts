import { type Kysely, type Migration, sql } from 'kysely';

export const bridgeMigrations: Record<string, Migration> = {
  '1301_usage_quarantine': {
    async up(db: Kysely<unknown>) {
      // Outbox records the hub refused, set aside so that the rest keeps flowing: held (not sent)
      // until the operator retries them (released: back in the outbox) or drops them (with who
      // and why). The usage record itself is never deleted: the ledger keeps it.
      await sql`
        create table usage_quarantine (
          id bigserial primary key,
          hour timestamptz not null,
          resource_id uuid not null,
          meter_id uuid not null,
          revision integer not null,
          state text not null check (state in ('held', 'released', 'dropped')),
          status integer not null,
          code text not null,
          message text not null,
          quarantined_at timestamptz not null,
          refused_at timestamptz not null,
          retries integer not null default 0,
          retried_at timestamptz,
          retried_by text,
          dropped_at timestamptz,
          dropped_by text,
          drop_reason text,
          unique (hour, resource_id, meter_id, revision),
          foreign key (hour, resource_id, meter_id, revision) references usage_records (hour, resource_id, meter_id, revision),
          check ((state = 'dropped') = (dropped_at is not null and drop_reason is not null))
        );
        create index usage_quarantine_state on usage_quarantine (state, id);
      `.execute(db);
    },
  },
  '1302_quarantine_reference_by_key': {
    async up(db: Kysely<unknown>) {
      // The outbox is partitioned by month (metering's 1207). PostgreSQL checks a reference to a
      // partitioned table partition by partition, so a month's records moving from the DEFAULT
      // partition into their own would trip it: the quarantine refers to its record by key alone
      // (it is written only with keys read from the outbox, and an archive takes its month's
      // entries with the month). On databases that had it, it went with the old table (1207); this
      // drops it on new ones, which 1301 gave it after 1207 ran.
      await sql`
        do $$ declare c record; begin
          for c in select conname from pg_constraint where conrelid = 'usage_quarantine'::regclass and contype = 'f' and conparentid = 0 loop
            execute format('alter table usage_quarantine drop constraint %I', c.conname);
          end loop;
        end $$;
      `.execute(db);
    },
  },
  '1303_usage_quarantine_counts': {
    async up(db: Kysely<unknown>) {
      // The bridge's status and /metrics say how many records are held and dropped; released ones
      // stay in the table until their month is archived, so counting them scanned all. Statement
      // triggers keep a count per state instead (a row per state, locked only by writers of the
      // quarantine, which are rare).
      await sql`
        create table usage_quarantine_counts (state text primary key, records bigint not null);
        insert into usage_quarantine_counts (state, records)
        select s, (select count(*) from usage_quarantine where state = s) from unnest(array['held', 'released', 'dropped']) s;
        create function usage_quarantine_count(changes jsonb) returns void language sql as $$
          update usage_quarantine_counts c set records = c.records + d.n::bigint
          from jsonb_each_text(changes) d(state, n) where c.state = d.state and d.n::bigint <> 0
        $$;
        create function usage_quarantine_counted() returns trigger language plpgsql as $$
          begin
            if tg_op = 'INSERT' then
              perform usage_quarantine_count((select coalesce(jsonb_object_agg(state, n), '{}') from
                (select state, count(*) as n from new_rows group by state) x));
            elsif tg_op = 'UPDATE' then
              perform usage_quarantine_count((select coalesce(jsonb_object_agg(state, n), '{}') from
                (select state, sum(n) as n from (select state, 1 as n from new_rows union all select state, -1 from old_rows) y group by state) x));
            else
              perform usage_quarantine_count((select coalesce(jsonb_object_agg(state, -n), '{}') from
                (select state, count(*) as n from old_rows group by state) x));
            end if;
            return null;
          end $$;
        create trigger usage_quarantine_inserted after insert on usage_quarantine
          referencing new table as new_rows for each statement execute function usage_quarantine_counted();
        create trigger usage_quarantine_updated after update on usage_quarantine
          referencing old table as old_rows new table as new_rows for each statement execute function usage_quarantine_counted();
        create trigger usage_quarantine_deleted after delete on usage_quarantine
          referencing old table as old_rows for each statement execute function usage_quarantine_counted();
      `.execute(db);
    },
  },
};
