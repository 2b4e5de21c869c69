import { type Kysely, type Migration, sql } from 'kysely';
import { armStore, type SettingsDb } from '../../arm/store.ts';
import { createCloseMeteringHours } from './close-function.ts';

// Metering's DDL. These migrations were the resources domain's before metering had a folder of
// its own: they keep their ids (12xx), which existing databases have recorded as run. The table
// `resource_states` is created by the resources' first migration (`1201_resources`, with the
// resources it references), which existing databases have run too; metering owns it all the same.

export const meteringMigrations: Record<string, Migration> = {
  '1202_usage_records': {
    async up(db: Kysely<unknown>) {
      // One record per resource, meter, hour and revision: closing an hour again writes nothing;
      // a later change of a closed hour writes the difference as the next revision.
      await sql`
        create table usage_records (
          resource_id uuid not null,
          meter_id uuid not null,
          hour timestamptz not null,
          revision integer not null,
          quantity numeric(38, 9) not null,
          subscription_id uuid not null,
          tenant_id uuid not null,
          resource_uri text not null,
          location text not null,
          tags jsonb not null,
          reported_at timestamptz not null,
          -- hour first: closing an hour reads what earlier closings of that hour wrote
          primary key (hour, resource_id, meter_id, revision)
        );
        create index usage_records_reported on usage_records (reported_at);
        create index usage_records_subscription on usage_records (subscription_id, reported_at);
        create table metering_dirty_hours (
          hour timestamptz primary key
        );
      `.execute(db);
    },
  },
  '1203_bridge_outbox': {
    async up(db: Kysely<unknown>) {
      // The usage records are the bridge's outbox: delivered once the hub acknowledged their batch.
      await sql`
        alter table usage_records add column delivered_at timestamptz;
        create index usage_records_undelivered on usage_records (hour, resource_id, meter_id, revision) where delivered_at is null;
      `.execute(db);
    },
  },
  '1206_usage_aggregate_order': {
    async up(db: Kysely<unknown>) {
      // Keyset paging of the usage APIs: one subscription's records in the aggregates' hourly group order.
      await sql`
        create index usage_records_aggregate on usage_records (subscription_id, hour, meter_id, resource_uri) include (reported_at, quantity);
      `.execute(db);
    },
  },
  '1207_usage_records_monthly': {
    async up(db: Kysely<unknown>) {
      // The outbox by month (UTC) of its usage hour, so that a delivered month can be archived by
      // detaching its partition. `ensure_usage_month` makes a month's partition (the metering job
      // calls it ahead of the clock); rows of that month already in the DEFAULT partition move into
      // it in the caller's transaction, through the parent table so that its triggers see them go
      // and come back. The bridge's quarantine refers to the records by key only: its foreign key
      // goes with the old table (bridge's 1302 says why).
      await sql`
        alter table usage_records rename to usage_records_unpartitioned;
        create table usage_records (
          resource_id uuid not null,
          meter_id uuid not null,
          hour timestamptz not null,
          revision integer not null,
          quantity numeric(38, 9) not null,
          subscription_id uuid not null,
          tenant_id uuid not null,
          resource_uri text not null,
          location text not null,
          tags jsonb not null,
          reported_at timestamptz not null,
          delivered_at timestamptz,
          constraint usage_records_by_month_pkey primary key (hour, resource_id, meter_id, revision)
        ) partition by range (hour);
        create table usage_records_default partition of usage_records default;
        create function ensure_usage_month(at timestamptz) returns boolean language plpgsql as $f$
        declare
          first_hour timestamptz := date_trunc('month', at at time zone 'UTC') at time zone 'UTC';
          next_month timestamptz := (date_trunc('month', at at time zone 'UTC') + interval '1 month') at time zone 'UTC';
          part text := 'usage_records_' || to_char(at at time zone 'UTC', 'YYYY_MM');
        begin
          if to_regclass(part) is not null then return false; end if;
          perform pg_advisory_xact_lock(hashtext('usage_records partitions'));
          if to_regclass(part) is not null then return false; end if;
          create temp table if not exists usage_records_moving (like usage_records) on commit drop;
          delete from usage_records_moving;
          with moved as (delete from usage_records where hour >= first_hour and hour < next_month returning *)
          insert into usage_records_moving select * from moved;
          execute format('create table %I partition of usage_records for values from (%L) to (%L)', part, first_hour, next_month);
          insert into usage_records select * from usage_records_moving;
          return true;
        end $f$;
        select ensure_usage_month(m) from (select distinct date_trunc('month', hour at time zone 'UTC') at time zone 'UTC' as m from usage_records_unpartitioned) months;
        insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at, delivered_at)
        select resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at, delivered_at
        from usage_records_unpartitioned;
        drop table usage_records_unpartitioned cascade; -- with the quarantine's foreign key, see above
        alter table usage_records rename constraint usage_records_by_month_pkey to usage_records_pkey;
        create index usage_records_reported on usage_records (reported_at);
        create index usage_records_subscription on usage_records (subscription_id, reported_at);
        create index usage_records_undelivered on usage_records (hour, resource_id, meter_id, revision) where delivered_at is null;
        create index usage_records_aggregate on usage_records (subscription_id, hour, meter_id, resource_uri) include (reported_at, quantity);
      `.execute(db);
    },
  },
  '1208_usage_record_counts': {
    async up(db: Kysely<unknown>) {
      // What the bridge's status and metrics show, kept per month by statement triggers in the
      // transaction of each insert, delivery or move, so that no status counts the whole outbox.
      // A month's row leaves with its archive. The last hours only grow: records leave a month
      // only when it moves into its partition (and come back in the same transaction) or is archived.
      await sql`
        create table usage_record_counts (
          month timestamptz primary key,
          undelivered bigint not null,
          delivered bigint not null,
          last_hour timestamptz,
          last_delivered_hour timestamptz
        );
        insert into usage_record_counts (month, undelivered, delivered, last_hour, last_delivered_hour)
        select date_trunc('month', hour at time zone 'UTC') at time zone 'UTC', count(*) filter (where delivered_at is null),
               count(*) filter (where delivered_at is not null), max(hour), max(hour) filter (where delivered_at is not null)
        from usage_records group by 1;
      `.execute(db);
      // One function per event: each names only the transition tables its event has.
      const added = 'select 1 as sign, n.hour, n.delivered_at from new_rows n';
      const removed = 'select -1 as sign, o.hour, o.delivered_at from old_rows o';
      for (const [event, referencing, rows] of [
        ['insert', 'new table as new_rows', added],
        ['update', 'old table as old_rows new table as new_rows', `${added} union all ${removed}`],
        ['delete', 'old table as old_rows', removed],
      ]) {
        await sql
          .raw(
            `create function count_usage_records_${event}() returns trigger language plpgsql as $f$
            begin
              insert into usage_record_counts as c (month, undelivered, delivered, last_hour, last_delivered_hour)
              select date_trunc('month', d.hour at time zone 'UTC') at time zone 'UTC', sum(d.sign * (d.delivered_at is null)::int),
                     sum(d.sign * (d.delivered_at is not null)::int), max(d.hour) filter (where d.sign > 0),
                     max(d.hour) filter (where d.sign > 0 and d.delivered_at is not null)
              from (${rows}) d
              group by 1 order by 1
              on conflict (month) do update set
                undelivered = c.undelivered + excluded.undelivered,
                delivered = c.delivered + excluded.delivered,
                last_hour = greatest(c.last_hour, excluded.last_hour),
                last_delivered_hour = greatest(c.last_delivered_hour, excluded.last_delivered_hour);
              return null;
            end $f$`,
          )
          .execute(db);
        await sql
          .raw(
            `create trigger usage_records_count_${event} after ${event} on usage_records referencing ${referencing} for each statement execute function count_usage_records_${event}()`,
          )
          .execute(db);
      }
    },
  },
  '1209_usage_archives': {
    async up(db: Kysely<unknown>) {
      // The months archived: their records went to a file and their partition was dropped.
      await sql`
        create table outbox_archives (
          month timestamptz primary key,
          file text not null,
          rows bigint not null,
          sha256 text not null,
          first_reported_at timestamptz,
          last_reported_at timestamptz,
          archived_at timestamptz not null,
          archived_by text not null
        );
      `.execute(db);
    },
  },
  '1210_closing_in_one_call': {
    async up(db: Kysely<unknown>) {
      // A step of the clock closes its hours in one round trip: `close_metering_hours` takes the
      // closing lock, takes the dirty hours off their list (they close again with the new ones),
      // closes every hour in one statement and moves the watermark, all in the caller's statement.
      // The watermark, one of ARM's settings until now (read and removed through ARM's store), is
      // metering's own row.
      await sql`
        create table metering_watermark (
          only_row boolean primary key default true check (only_row),
          closed_until timestamptz not null
        )
      `.execute(db);
      const settings = db as unknown as SettingsDb;
      const old = await armStore.getSetting<{ closedUntil?: string }>(settings, 'metering');
      if (old?.closedUntil)
        await sql`insert into metering_watermark (closed_until) values (${old.closedUntil}::timestamptz)`.execute(db);
      await armStore.deleteSetting(settings, 'metering');
      await createCloseMeteringHours(db);
    },
  },
  '1211_closing_an_hour_once': {
    async up(db: Kysely<unknown>) {
      // 1210's function closed twice an hour both due and dirty (marked by a late report before
      // the first closing, when no watermark bounds the dirty hours): the dirty copy goes now.
      await createCloseMeteringHours(db);
    },
  },
  '1212_usage_daily_page_order': {
    // The usage APIs' Daily pages (the default granularity) group by the UTC day of the hour, which
    // usage_records_aggregate's hour does not give in order: a tenant's Daily page sorted all of its
    // subscription's records of the range (2.1–2.3 s a page at 2M records a month). This index has
    // the Daily key's order (the day written as core/usage-sql.ts's `usageBucket`), as the hub's 0560 does.
    // (1214 drops it for an index by day first, which serves every tenant's pages and each one's.)
    async up(db: Kysely<unknown>) {
      await sql`
        create index usage_records_daily_aggregate on usage_records
          (subscription_id, (date_trunc('day', hour at time zone 'UTC') at time zone 'UTC'), meter_id, resource_uri)
          include (reported_at, quantity)`.execute(db);
    },
  },
  '1213_usage_reported_days': {
    // A usage page by reported time walks the records in the key's order (hour first) and keeps
    // those reported in its range; a record may be reported long after its hour (a late change
    // closes it again), so the walk began at the subscription's first hour: a first page of May read
    // all of April (~0.6 s at 2M records a month). Per day reported, the first and last hour of
    // what was written (a statement trigger; the stack's outbox has one writer at a time, the
    // metering job, so one row a day is updated): a page walks from the first to the last.
    async up(db: Kysely<unknown>) {
      await sql`
        create table usage_reported_days (
          reported_day date primary key,
          min_hour timestamptz not null,
          max_hour timestamptz not null
        );
        create function usage_reported_days_add() returns trigger language plpgsql as $$
          begin
            insert into usage_reported_days (reported_day, min_hour, max_hour)
            select (reported_at at time zone 'UTC')::date, min(hour), max(hour) from new_records group by 1 order by 1
            on conflict (reported_day) do update
              set min_hour = least(usage_reported_days.min_hour, excluded.min_hour),
                  max_hour = greatest(usage_reported_days.max_hour, excluded.max_hour)
              where excluded.min_hour < usage_reported_days.min_hour or excluded.max_hour > usage_reported_days.max_hour;
            return null;
          end $$;
        create trigger usage_reported_days after insert on usage_records
          referencing new table as new_records for each statement execute function usage_reported_days_add();
        insert into usage_reported_days (reported_day, min_hour, max_hour)
        select (reported_at at time zone 'UTC')::date, min(hour), max(hour) from usage_records group by 1;
      `.execute(db);
    },
  },
  '1214_usage_provider_page_order': {
    // The provider's usage API over every tenant pages by hour or day, then subscription, meter
    // and resource; no index had either order, so a Daily page (the default granularity) sorted
    // every record of its range's hours (~3 s a page at 4M records a month), and an Hourly page
    // sorted a whole hour's (~0.25 s at 100k resources). These two indexes have them. A tenant's
    // Daily page reads the daily one a day at a time (one seek per day), so 1212's index by
    // subscription first goes: an index by day is dear to keep (every closed hour writes into
    // the whole day's range of it; closing an hour took ~40% longer with each). The indexes by
    // reported time go too: since 1213 every usage page walks a key-ordered index between the
    // hours reported in its range, and nothing else reads by them (an archive's first and last
    // report read its month's partition whole, once).
    async up(db: Kysely<unknown>) {
      await sql`
        create index usage_records_provider_hourly on usage_records (hour, subscription_id, meter_id, resource_uri)
          include (reported_at, quantity);
        create index usage_records_provider_daily on usage_records
          ((date_trunc('day', hour at time zone 'UTC') at time zone 'UTC'), subscription_id, meter_id, resource_uri)
          include (reported_at, quantity);
        drop index usage_records_daily_aggregate;
        drop index usage_records_subscription;
        drop index usage_records_reported;
      `.execute(db);
    },
  },
};
