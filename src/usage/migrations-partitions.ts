import { type Kysely, type Migration, sql } from 'kysely';

// Migrations 0507 (the usage tables partitioned by month, with the counters and the archive's
// table) and 0564 (a month's partition of usage_received with its parent's statement triggers),
// kept apart from the others for their size; `migrations.ts` places them in their order.
export const usagePartitionMigrations: Record<string, Migration> = {
  '0507_usage_partitions': {
    async up(db: Kysely<unknown>) {
      // Monthly partitions (issue #16): a month's records and their attributions go together, and
      // an archived month is two partitions dropped. Every key takes the distribution column
      // (source) and the partition column (hour); an attribution carries both from its record.
      // The new tables are filled, the old ones dropped, and the keys and indexes built last.
      await sql`
        create table usage_received_partitioned (
          id bigint not null,
          source text not null,
          cloud_id uuid,
          registration_id uuid references registrations (id),
          resource_id text not null,
          resource_uri text not null,
          meter_id uuid not null,
          hour timestamptz not null,
          revision integer not null,
          quantity numeric(38, 9) not null,
          stack_subscription_id uuid,
          tenant_id uuid,
          location text not null,
          tags jsonb not null,
          received_at timestamptz not null,
          batch_id uuid not null
        ) partition by range (hour);
        -- No foreign key to usage_received: attributions are written by the statement that stores
        -- their record (from its returning rows), and a month's two partitions are moved and
        -- dropped together; a key between them would re-check every attribution at each detach.
        create table usage_attributed_partitioned (
          id bigint not null,
          source text not null,
          hour timestamptz not null,
          received_id bigint not null,
          billed_subscription_id uuid not null,
          link_id bigint references customer_subscription_links (id),
          reason text not null,
          quantity numeric(38, 9) not null,
          attributed_at timestamptz not null,
          reattribution_id uuid
        ) partition by range (hour);
        create table usage_received_partitioned_default partition of usage_received_partitioned default;
        create table usage_attributed_partitioned_default partition of usage_attributed_partitioned default;
        insert into usage_received_partitioned select id, source, cloud_id, registration_id, resource_id, resource_uri, meter_id, hour, revision,
          quantity, stack_subscription_id, tenant_id, location, tags, received_at, batch_id from usage_received;
        insert into usage_attributed_partitioned select a.id, r.source, r.hour, a.received_id, a.billed_subscription_id, a.link_id, a.reason,
          a.quantity, a.attributed_at, a.reattribution_id from usage_attributed a join usage_received r on r.id = a.received_id;
        alter sequence usage_received_id_seq owned by none;
        alter sequence usage_attributed_id_seq owned by none;
        drop table usage_attributed;
        drop table usage_received;
        alter table usage_received_partitioned rename to usage_received;
        alter table usage_received_partitioned_default rename to usage_received_default;
        alter table usage_attributed_partitioned rename to usage_attributed;
        alter table usage_attributed_partitioned_default rename to usage_attributed_default;
        alter table usage_received alter column id set default nextval('usage_received_id_seq');
        alter sequence usage_received_id_seq owned by usage_received.id;
        alter table usage_attributed alter column id set default nextval('usage_attributed_id_seq');
        alter sequence usage_attributed_id_seq owned by usage_attributed.id;

        -- A month's partitions of both tables, created once (answers whether it made them). Rows
        -- of that month already in the default partitions move into them, in the caller's transaction.
        create function usage_create_month(month date) returns boolean language plpgsql as $$
          declare
            suffix text := to_char(month, 'YYYY_MM');
            lo timestamptz := date_trunc('month', month)::timestamp at time zone 'UTC';
            hi timestamptz := (date_trunc('month', month) + interval '1 month')::timestamp at time zone 'UTC';
            t text;
            waiting boolean;
          begin
            -- one creator at a time (the job, an archive): the second finds the partitions made
            perform pg_advisory_xact_lock(hashtext('stackledger: usage_create_month'));
            if to_regclass('usage_received_' || suffix) is not null then return false; end if;
            foreach t in array array['usage_received', 'usage_attributed'] loop
              execute format('select exists (select 1 from %I where hour >= %L and hour < %L)', t || '_default', lo, hi) into waiting;
              if waiting then
                -- A new partition may not take rows its default holds: out, create, move, back in.
                execute format('alter table %I detach partition %I', t, t || '_default');
                execute format('create table %I partition of %I for values from (%L) to (%L)', t || '_' || suffix, t, lo, hi);
                execute format('insert into %I select * from %I where hour >= %L and hour < %L', t || '_' || suffix, t || '_default', lo, hi);
                execute format('delete from %I where hour >= %L and hour < %L', t || '_default', lo, hi);
                execute format('alter table %I attach partition %I default', t, t || '_default');
              else
                execute format('create table %I partition of %I for values from (%L) to (%L)', t || '_' || suffix, t, lo, hi);
              end if;
            end loop;
            return true;
          end $$;
        select usage_create_month(m) from (select distinct date_trunc('month', hour at time zone 'UTC')::date as m from usage_received) months;

        alter table usage_received add primary key (source, hour, id);
        alter table usage_received add constraint usage_received_source_resource_id_meter_id_hour_revision_key
          unique (source, resource_id, meter_id, hour, revision);
        create index usage_received_hour on usage_received (cloud_id, hour);
        create index usage_received_received on usage_received (received_at);
        create index usage_received_aggregate_order on usage_received
          (hour, meter_id, resource_uri, coalesce(cloud_id, '00000000-0000-0000-0000-000000000000'::uuid),
           coalesce(stack_subscription_id, '00000000-0000-0000-0000-000000000000'::uuid));
        alter table usage_attributed add primary key (source, hour, id);
        create index usage_attributed_received on usage_attributed (source, hour, received_id);
        create index usage_attributed_billed on usage_attributed (billed_subscription_id, attributed_at);
        create trigger usage_attributed_append_only before update or delete on usage_attributed
          for each statement execute function usage_attributed_is_append_only();
        create or replace function usage_daily_add() returns trigger language plpgsql as $$
          begin
            -- keys in one order, so that two statements adding to the same rows wait rather than deadlock
            insert into usage_daily (billed_subscription_id, usage_date, meter_id, resource_uri, location, quantity)
            select n.billed_subscription_id, (r.hour at time zone 'UTC')::date, r.meter_id, r.resource_uri, r.location, sum(n.quantity)
            from new_attributions n join usage_received r on r.source = n.source and r.hour = n.hour and r.id = n.received_id
            group by 1, 2, 3, 4, 5
            order by 1, 2, 3, 4, 5
            on conflict (billed_subscription_id, usage_date, meter_id, resource_uri, location)
              do update set quantity = usage_daily.quantity + excluded.quantity;
            return null;
          end $$;
        create trigger usage_attributed_daily after insert on usage_attributed
          referencing new table as new_attributions for each statement execute function usage_daily_add();
      `.execute(db);
      // External meters' events, each once by source and id, whatever time they name: a partitioned
      // unique index must hold the hour, so the ids seen are kept in a table of their own (never
      // archived, so that a replayed event of an archived month still adds nothing).
      await sql`
        create table usage_event_ids (
          source text not null,
          event_id text not null,
          primary key (source, event_id)
        );
        insert into usage_event_ids (source, event_id)
        select source, resource_id from usage_received where source like 'cloudevents:%';
      `.execute(db);
      // Billing's index for late usage, on a hub that had it before the tables were partitioned.
      await sql`
        do $$ begin
          if exists (select 1 from kysely_migration where name = '0602_billing') then
            create index usage_received_by_hour on usage_received (hour);
          end if;
        end $$`.execute(db);
      // Counters per source and usage month, written by statement triggers in the writing
      // transaction: what status and the ledger's whole-range check read, instead of counting the
      // tables. Each statement appends its own rows (never an update of a shared row, which would
      // make concurrent writers of one source wait for each other); the partition job sums them up.
      await sql`
        create table usage_counters (
          source text not null,
          month date not null,
          records bigint not null default 0,
          received numeric(38, 9) not null default 0,
          attributed numeric(38, 9) not null default 0,
          conflicts bigint not null default 0,
          refusals bigint not null default 0
        );
        create index usage_counters_month on usage_counters (source, month);
        create function usage_counters_received() returns trigger language plpgsql as $$
          begin
            insert into usage_counters (source, month, records, received)
            select source, date_trunc('month', hour at time zone 'UTC')::date, count(*), sum(quantity) from new_records
            group by 1, 2;
            return null;
          end $$;
        create trigger usage_received_counters after insert on usage_received
          referencing new table as new_records for each statement execute function usage_counters_received();
        create function usage_counters_attributed() returns trigger language plpgsql as $$
          begin
            insert into usage_counters (source, month, attributed)
            select source, date_trunc('month', hour at time zone 'UTC')::date, sum(quantity) from new_attributions
            group by 1, 2;
            return null;
          end $$;
        create trigger usage_attributed_counters after insert on usage_attributed
          referencing new table as new_attributions for each statement execute function usage_counters_attributed();
        create function usage_counters_conflicts_added() returns trigger language plpgsql as $$
          begin
            insert into usage_counters (source, month, conflicts, refusals)
            select source, date_trunc('month', hour at time zone 'UTC')::date, count(*), sum(refusals) from new_conflicts
            group by 1, 2;
            return null;
          end $$;
        create trigger usage_conflicts_counters_added after insert on usage_conflicts
          referencing new table as new_conflicts for each statement execute function usage_counters_conflicts_added();
        create function usage_counters_conflicts_refused() returns trigger language plpgsql as $$
          begin
            insert into usage_counters (source, month, refusals)
            select n.source, date_trunc('month', n.hour at time zone 'UTC')::date, sum(n.refusals - o.refusals)
            from new_conflicts n join old_conflicts o on o.id = n.id
            group by 1, 2;
            return null;
          end $$;
        create trigger usage_conflicts_counters_refused after update on usage_conflicts
          referencing old table as old_conflicts new table as new_conflicts for each statement execute function usage_counters_conflicts_refused();
        insert into usage_counters (source, month, records, received, attributed, conflicts, refusals)
        select source, month, sum(records), sum(received), sum(attributed), sum(conflicts), sum(refusals) from (
          select source, date_trunc('month', hour at time zone 'UTC')::date as month, count(*) as records, sum(quantity) as received,
                 0 as attributed, 0 as conflicts, 0 as refusals from usage_received group by 1, 2
          union all
          select source, date_trunc('month', hour at time zone 'UTC')::date, 0, 0, sum(quantity), 0, 0 from usage_attributed group by 1, 2
          union all
          select source, date_trunc('month', hour at time zone 'UTC')::date, 0, 0, 0, count(*), sum(refusals) from usage_conflicts group by 1, 2
        ) x group by 1, 2;

        -- Conflicts are keyed by their distribution column too.
        alter table usage_conflicts drop constraint usage_conflicts_pkey;
        alter table usage_conflicts add primary key (source, id);

        -- What the archive command wrote: one row per archived month.
        create table usage_archives (
          month date primary key,
          file text not null,
          name text not null,
          records bigint not null,
          attributions bigint not null,
          quantities jsonb not null,
          sha256 text not null,
          archived_at timestamptz not null,
          archived_by text not null
        );
      `.execute(db);
    },
  },
  '0564_usage_received_partition_triggers': {
    // A COPY into a partitioned table that has statement triggers with transition tables inserts
    // its rows one at a time (PostgreSQL's copyfrom.c: it batches them only where the statement's
    // triggers and its rows' table are one relation). Ingestion's COPY therefore goes straight
    // into its month's partition (`freshBatchStore`), which carries the parent's statement
    // triggers on insert: those of a statement fire on the table it names, never on both, so
    // each record is counted once whichever way it came in. The parent stays where the triggers
    // are written; `usage_received_partition_triggers` copies them onto every month's partition,
    // and `usage_create_month` onto each new one; a migration that adds a trigger to the parent
    // calls it again (test/usage-partition-triggers.test.ts holds every month's partition to
    // the parent's). Measured in BENCHMARKS.md, ingestion.
    async up(db: Kysely<unknown>) {
      await sql`
        -- On one partition, or on every month's (a trigger made on a partition locks it against writes
        -- for a moment, so a new month's leaves the others alone).
        create function usage_received_partition_triggers(only_partition regclass default null) returns void language plpgsql as $$
          declare p regclass; t record;
          begin
            for p in select i.inhrelid::regclass from pg_inherits i join pg_class c on c.oid = i.inhrelid
                     where i.inhparent = 'usage_received'::regclass and c.relname ~ '^usage_received_[0-9]{4}_[0-9]{2}$'
                       and (only_partition is null or i.inhrelid = only_partition) loop
              -- the parent's statement triggers after insert (tgtype 4: insert, after, for each statement)
              for t in select tgname, tgnewtable, tgfoid::regproc as fn from pg_trigger
                       where tgrelid = 'usage_received'::regclass and tgtype = 4 and tgnargs = 0 loop
                execute format('create or replace trigger %I after insert on %s %s for each statement execute function %s()',
                  t.tgname, p, case when t.tgnewtable is null then '' else format('referencing new table as %I', t.tgnewtable) end, t.fn);
              end loop;
            end loop;
          end $$;
        select usage_received_partition_triggers();
        -- Creating a month's partitions now gives its usage_received partition the triggers too.
        alter function usage_create_month(date) rename to usage_create_month_tables;
        create function usage_create_month(month date) returns boolean language plpgsql as $$
          begin
            if not usage_create_month_tables(month) then return false; end if;
            perform usage_received_partition_triggers(format('usage_received_%s', to_char(month, 'YYYY_MM'))::regclass);
            return true;
          end $$;
      `.execute(db);
    },
  },
};
