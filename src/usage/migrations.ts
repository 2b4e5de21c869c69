import { type Kysely, type Migration, sql } from 'kysely';
import { usagePartitionMigrations } from './migrations-partitions.ts';
import { usagePendingMigrations } from './migrations-pending.ts';

export const usageMigrations: Record<string, Migration> = {
  '0501_usage': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table usage_received (
          id bigserial primary key,
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
          batch_id uuid not null,
          -- each record once: the same batch twice changes nothing
          unique (source, resource_id, meter_id, hour, revision)
        );
        create index usage_received_hour on usage_received (cloud_id, hour);
        create index usage_received_received on usage_received (received_at);

        create table usage_attributed (
          id bigserial primary key,
          received_id bigint not null references usage_received (id),
          billed_subscription_id uuid not null,
          link_id bigint references customer_subscription_links (id),
          reason text not null,
          quantity numeric(38, 9) not null,
          attributed_at timestamptz not null,
          reattribution_id uuid
        );
        create index usage_attributed_received on usage_attributed (received_id);
        create index usage_attributed_billed on usage_attributed (billed_subscription_id, attributed_at);
        create function usage_attributed_is_append_only() returns trigger language plpgsql as $$
          begin raise exception 'attributions are never edited: write reversing entries'; end $$;
        create trigger usage_attributed_append_only before update or delete on usage_attributed
          for each statement execute function usage_attributed_is_append_only();
      `.execute(db);
    },
  },
  '0502_cloudevents': {
    async up(db: Kysely<unknown>) {
      // Usage from external meters (CloudEvents): each event once, by its id and source.
      await sql`
        create unique index usage_received_event on usage_received (source, resource_id) where source like 'cloudevents:%';
      `.execute(db);
    },
  },
  '0503_usage_conflicts': {
    async up(db: Kysely<unknown>) {
      // Records refused because their key was already received with another quantity: counted
      // once per key and quantity offered, with how often the deployment sent it.
      await sql`
        create table usage_conflicts (
          id bigserial primary key,
          source text not null,
          cloud_id uuid,
          resource_id text not null,
          meter_id uuid not null,
          hour timestamptz not null,
          revision integer not null,
          stored_quantity numeric(38, 9) not null,
          offered_quantity numeric(38, 9) not null,
          first_refused_at timestamptz not null,
          last_refused_at timestamptz not null,
          refusals integer not null default 1,
          unique (source, resource_id, meter_id, hour, revision, offered_quantity)
        );
        create index usage_conflicts_hour on usage_conflicts (cloud_id, hour);
      `.execute(db);
    },
  },
  '0504_usage_aggregate_order': {
    async up(db: Kysely<unknown>) {
      // Keyset paging of the usage APIs (usageGroupOrder): records in the aggregates' hourly group
      // order, so that a page is an index-ordered group aggregate that stops at its limit.
      await sql`
        create index usage_received_aggregate_order on usage_received
          (hour, meter_id, resource_uri, coalesce(cloud_id, '00000000-0000-0000-0000-000000000000'::uuid),
           coalesce(stack_subscription_id, '00000000-0000-0000-0000-000000000000'::uuid));
      `.execute(db);
    },
  },
  '0505_usage_daily': {
    async up(db: Kysely<unknown>) {
      // What billing rates: the attributed quantity per billed subscription, usage day (UTC), meter,
      // resource and location, kept in the transaction of every attribution and re-attribution by
      // a statement-level trigger (one upsert per statement, whatever statement wrote the rows).
      // Rows are never deleted; a key whose attributions cancel out holds 0. The billed
      // subscription leads every key: it is the distribution column.
      await sql`
        create table usage_daily (
          billed_subscription_id uuid not null,
          usage_date date not null,
          meter_id uuid not null,
          resource_uri text not null,
          location text not null,
          quantity numeric(38, 9) not null,
          primary key (billed_subscription_id, usage_date, meter_id, resource_uri, location)
        );
        create function usage_daily_add() returns trigger language plpgsql as $$
          begin
            -- keys in one order, so that two statements adding to the same rows wait rather than deadlock
            insert into usage_daily (billed_subscription_id, usage_date, meter_id, resource_uri, location, quantity)
            select n.billed_subscription_id, (r.hour at time zone 'UTC')::date, r.meter_id, r.resource_uri, r.location, sum(n.quantity)
            from new_attributions n join usage_received r on r.id = n.received_id
            group by 1, 2, 3, 4, 5
            order by 1, 2, 3, 4, 5
            on conflict (billed_subscription_id, usage_date, meter_id, resource_uri, location)
              do update set quantity = usage_daily.quantity + excluded.quantity;
            return null;
          end $$;
        create trigger usage_attributed_daily after insert on usage_attributed
          referencing new table as new_attributions for each statement execute function usage_daily_add();
        insert into usage_daily (billed_subscription_id, usage_date, meter_id, resource_uri, location, quantity)
        select a.billed_subscription_id, (r.hour at time zone 'UTC')::date, r.meter_id, r.resource_uri, r.location, sum(a.quantity)
        from usage_attributed a join usage_received r on r.id = a.received_id
        group by 1, 2, 3, 4, 5;
      `.execute(db);
    },
  },
  '0506_usage_daily_line_order': {
    async up(db: Kysely<unknown>) {
      // The unbilled page walks a buyer's aggregates in invoice line order (subscription, meter,
      // resource, day, location) and stops at the page. The quantity stays out of the index: every
      // attribution updates it, and in an index each update would be a new index entry (no HOT
      // update); with it, ingestion slowed with the table's size until batches timed out.
      await sql`
        create index usage_daily_line_order on usage_daily
          (billed_subscription_id, meter_id, resource_uri, usage_date, location);
      `.execute(db);
    },
  },
  ...usagePartitionMigrations,
  '0510_attribution_carries_daily_key': {
    async up(db: Kysely<unknown>) {
      // Ingestion's speed (issue #16): an attribution carries its record's meter, resource and
      // location, so that the daily trigger adds it without joining back to usage_received (on a
      // month without statistics, that join read the whole partition for every batch). Rows
      // written before (or by hand, without them) take them from their record, as before.
      // Nobody filters or orders records by received_at: its index only slowed every insert.
      await sql`
        alter table usage_attributed add column meter_id uuid, add column resource_uri text, add column location text;
        create or replace function usage_daily_add() returns trigger language plpgsql as $$
          begin
            -- keys in one order, so that two statements adding to the same rows wait rather than deadlock
            if exists (select from new_attributions where meter_id is null) then
              insert into usage_daily (billed_subscription_id, usage_date, meter_id, resource_uri, location, quantity)
              select n.billed_subscription_id, (r.hour at time zone 'UTC')::date, r.meter_id, r.resource_uri, r.location, sum(n.quantity)
              from new_attributions n join usage_received r on r.source = n.source and r.hour = n.hour and r.id = n.received_id
              group by 1, 2, 3, 4, 5
              order by 1, 2, 3, 4, 5
              on conflict (billed_subscription_id, usage_date, meter_id, resource_uri, location)
                do update set quantity = usage_daily.quantity + excluded.quantity;
            else
              insert into usage_daily (billed_subscription_id, usage_date, meter_id, resource_uri, location, quantity)
              select billed_subscription_id, (hour at time zone 'UTC')::date, meter_id, resource_uri, location, sum(quantity)
              from new_attributions
              group by 1, 2, 3, 4, 5
              order by 1, 2, 3, 4, 5
              on conflict (billed_subscription_id, usage_date, meter_id, resource_uri, location)
                do update set quantity = usage_daily.quantity + excluded.quantity;
            end if;
            return null;
          end $$;
        drop index usage_received_received;
      `.execute(db);
    },
  },
  '0511_records_without_registration_key': {
    async up(db: Kysely<unknown>) {
      // The key from records to registrations cost a look-up per record at every insert (about a tenth
      // of ingestion's database time). Ingestion writes only the id of the registration it has just
      // found, and registrations are never deleted (a deleted one keeps its row), so it guarded nothing.
      await sql`
        do $$ declare k text; begin
          for k in select conname from pg_constraint
                   where conrelid = 'usage_received'::regclass and contype = 'f' and confrelid = 'registrations'::regclass loop
            execute format('alter table usage_received drop constraint %I', k);
          end loop;
        end $$;
      `.execute(db);
    },
  },
  '0530_usage_daily_pending': {
    async up(db: Kysely<unknown>) {
      // Ingestion's speed (issue #16): the daily trigger no longer upserts usage_daily in the
      // writing transaction (a look-up and an update per key, a third of ingestion's database
      // time); it appends the statement's rows to usage_daily_pending (no index, no key).
      // usage_daily_fold() moves them into usage_daily, one set-based upsert: the hub's job runs
      // it, and every reader of usage_daily runs it first (`dailyStore.fold`), so no read sees an
      // aggregate without an attribution committed before it. Exactly once: the rows are taken by
      // a `delete … returning` in the same statement as their upsert, so a fold cut anywhere
      // leaves them pending; rows of a transaction not yet committed are not seen, and wait for
      // the next fold. One fold at a time (an advisory lock until its transaction ends), so two
      // never take the same rows or upsert the same keys side by side.
      await sql`
        create table usage_daily_pending (
          billed_subscription_id uuid not null,
          usage_date date not null,
          meter_id uuid not null,
          resource_uri text not null,
          location text not null,
          quantity numeric(38, 9) not null
        );
        create or replace function usage_daily_add() returns trigger language plpgsql as $$
          begin
            if exists (select from new_attributions where meter_id is null) then
              insert into usage_daily_pending (billed_subscription_id, usage_date, meter_id, resource_uri, location, quantity)
              select n.billed_subscription_id, (r.hour at time zone 'UTC')::date, r.meter_id, r.resource_uri, r.location, n.quantity
              from new_attributions n join usage_received r on r.source = n.source and r.hour = n.hour and r.id = n.received_id;
            else
              insert into usage_daily_pending (billed_subscription_id, usage_date, meter_id, resource_uri, location, quantity)
              select billed_subscription_id, (hour at time zone 'UTC')::date, meter_id, resource_uri, location, quantity
              from new_attributions;
            end if;
            return null;
          end $$;
        -- Answers how many keys it added to; without waiting, null when another fold is under way.
        create function usage_daily_fold(wait boolean default true) returns bigint language plpgsql as $$
          declare folded bigint;
          begin
            if wait then
              perform pg_advisory_xact_lock(hashtext('stackledger: usage_daily_fold'));
            elsif not pg_try_advisory_xact_lock(hashtext('stackledger: usage_daily_fold')) then
              return null;
            end if;
            -- keys in one order: the same index order every fold, and no deadlock with another writer of them
            with taken as (delete from usage_daily_pending returning *)
            insert into usage_daily (billed_subscription_id, usage_date, meter_id, resource_uri, location, quantity)
            select billed_subscription_id, usage_date, meter_id, resource_uri, location, sum(quantity)
            from taken
            group by 1, 2, 3, 4, 5
            order by 1, 2, 3, 4, 5
            on conflict (billed_subscription_id, usage_date, meter_id, resource_uri, location)
              do update set quantity = usage_daily.quantity + excluded.quantity;
            get diagnostics folded = row_count;
            return folded;
          end $$;
      `.execute(db);
    },
  },
  '0540_attributions_keyed_by_record': {
    async up(db: Kysely<unknown>) {
      // Ingestion's speed (issue #16): an attribution was written into three indexes, two of them
      // on (source, hour, …): the key's id, and usage_attributed_received's received_id (the
      // records' attributions, for re-attribution). The key now holds both, (source, hour,
      // received_id, id), and the other index goes: every look-up by record is a prefix of the key,
      // and every attribution one index entry fewer. The id stays unique on its own (a sequence).
      await sql`
        do $$ declare k text; begin
          select conname into k from pg_constraint where conrelid = 'usage_attributed'::regclass and contype = 'p';
          execute format('alter table usage_attributed drop constraint %I', k);
        end $$;
        alter table usage_attributed add primary key (source, hour, received_id, id);
        drop index usage_attributed_received;
      `.execute(db);
    },
  },
  '0550_first_attribution_on_record': {
    async up(db: Kysely<unknown>) {
      // Ingestion's speed and the usage API's pages (issue #16). A record's first attribution is
      // held by the record itself (billed_subscription_id, link_id; at its received_at): no row of
      // its own in usage_attributed, with its two index entries and its own statement triggers.
      // usage_attributed keeps re-attributions, and the attributions of records stored before this
      // migration (whose billed_subscription_id is null). usage_attributions is every attribution.
      // The usage API's index leads with the billed subscription: a page of one subscription is a
      // range of it, where the old order index read every subscription's records of those hours.
      await sql`
        alter table usage_received add column billed_subscription_id uuid, add column link_id bigint;
        drop index usage_received_aggregate_order;
        create index usage_received_billed_order on usage_received
          (billed_subscription_id, hour, meter_id, resource_uri, coalesce(cloud_id, '00000000-0000-0000-0000-000000000000'::uuid),
           coalesce(stack_subscription_id, '00000000-0000-0000-0000-000000000000'::uuid));
        create view usage_attributions as
          select null::bigint as id, source, hour, id as received_id, meter_id, resource_uri, location, billed_subscription_id, link_id,
                 case when link_id is not null then 'linked' when source like 'deployment:%' then 'not registered' else 'external meter' end as reason,
                 quantity, received_at as attributed_at, null::uuid as reattribution_id
          from usage_received where billed_subscription_id is not null
          union all
          -- the record's meter, resource and location (rows before 0510, and rows written by hand, lack their own)
          select a.id, a.source, a.hour, a.received_id, r.meter_id, r.resource_uri, r.location, a.billed_subscription_id, a.link_id, a.reason,
                 a.quantity, a.attributed_at, a.reattribution_id
          from usage_attributed a join usage_received r on r.source = a.source and r.hour = a.hour and r.id = a.received_id;
        create or replace function usage_counters_received() returns trigger language plpgsql as $$
          begin
            insert into usage_counters (source, month, records, received, attributed)
            select source, date_trunc('month', hour at time zone 'UTC')::date, count(*), sum(quantity),
                   coalesce(sum(quantity) filter (where billed_subscription_id is not null), 0)
            from new_records
            group by 1, 2;
            return null;
          end $$;
        create function usage_received_daily_add() returns trigger language plpgsql as $$
          begin
            insert into usage_daily_pending (billed_subscription_id, usage_date, meter_id, resource_uri, location, quantity)
            select billed_subscription_id, (hour at time zone 'UTC')::date, meter_id, resource_uri, location, quantity
            from new_records where billed_subscription_id is not null;
            return null;
          end $$;
        -- A record's attribution is never edited either (the conflict path's no-op update touches batch_id only).
        create function usage_received_attribution_is_fixed() returns trigger language plpgsql as $$
          begin raise exception 'attributions are never edited: write reversing entries'; end $$;
        create trigger usage_received_attribution_fixed before update of quantity, billed_subscription_id, link_id on usage_received
          for each row when (old.quantity is distinct from new.quantity or old.billed_subscription_id is distinct from new.billed_subscription_id
                             or old.link_id is distinct from new.link_id)
          execute function usage_received_attribution_is_fixed();
        create trigger usage_received_daily after insert on usage_received
          referencing new table as new_records for each statement execute function usage_received_daily_add();
      `.execute(db);
    },
  },
  '0560_usage_daily_page_order': {
    // The usage API's Daily pages (its default granularity) group by the UTC day of the hour, which
    // usage_received_billed_order's hour does not give in order: every Daily page sorted all of the
    // subscription's records of its range (2.1 s a page at 2M records, most of it a sort on disk).
    // This index has the Daily key's order, so a Daily page reads only its own groups, as an Hourly
    // page does; its day is the expression of core/usage-sql.ts's `usageBucket`, written the same way.
    async up(db: Kysely<unknown>) {
      await sql`
        create index usage_received_billed_day_order on usage_received
          (billed_subscription_id, (date_trunc('day', hour at time zone 'UTC') at time zone 'UTC'), meter_id, resource_uri,
           coalesce(cloud_id, '00000000-0000-0000-0000-000000000000'::uuid),
           coalesce(stack_subscription_id, '00000000-0000-0000-0000-000000000000'::uuid))`.execute(db);
    },
  },
  '0561_usage_received_days': {
    // A usage page by reported time walks its subscription's records in the key's order (hour
    // first) and keeps those received in its range; a record may come long after its hour, so the
    // walk began at the subscription's first hour: a first page read every earlier record (250 ms
    // for an empty range at 2M records, growing with the history). Ingestion notes, per source and
    // day received, the first and last hour it stored (a statement trigger appending a row, as the
    // counters do; the partition job sums them up): a page's walk starts at the first hour received
    // in its days and stops after the last.
    async up(db: Kysely<unknown>) {
      await sql`
        create table usage_received_days (
          source text not null,
          received_day date not null,
          min_hour timestamptz not null,
          max_hour timestamptz not null
        );
        create index usage_received_days_day on usage_received_days (received_day);
        create function usage_received_days_add() returns trigger language plpgsql as $$
          begin
            insert into usage_received_days (source, received_day, min_hour, max_hour)
            select source, (received_at at time zone 'UTC')::date, min(hour), max(hour) from new_records group by 1, 2;
            return null;
          end $$;
        create trigger usage_received_days after insert on usage_received
          referencing new table as new_records for each statement execute function usage_received_days_add();
        insert into usage_received_days (source, received_day, min_hour, max_hour)
        select source, (received_at at time zone 'UTC')::date, min(hour), max(hour) from usage_received group by 1, 2;
      `.execute(db);
    },
  },
  '0562_usage_archive_reported_span': {
    // A usage page by reported time reaches an archived month's records when they were received
    // (or attributed) after it: the archive keeps when its first and last were, so that such a
    // page is refused rather than answered without them. Archives made before keep their month.
    async up(db: Kysely<unknown>) {
      await sql`alter table usage_archives add column first_reported_at timestamptz, add column last_reported_at timestamptz`.execute(
        db,
      );
    },
  },
  ...usagePendingMigrations,
};
