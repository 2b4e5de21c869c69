import { type Kysely, type Migration, sql } from 'kysely';

// Migration 0563: the daily keys pending a fold, one row per statement, source and day (kept apart
// from the others for its size; `migrations.ts` places it in its order).
export const usagePendingMigrations: Record<string, Migration> = {
  '0563_usage_daily_pending_sets': {
    // The statement triggers wrote a row of usage_daily_pending per attribution, which the fold
    // then deleted and regrouped one by one (issue #16: half of a fold's time). They now write one
    // row per source and usage day of the statement, its keys and quantities as parallel arrays,
    // stored out of line uncompressed (no CPU spent on text the fold soon deletes). The fold
    // unnests them; it takes and adds them exactly as before. The rows carry their records'
    // `source`, the table's distribution column on Citus (ARCHITECTURE.md, "Beyond one database
    // server"), so the triggers write on their records' shard. A day bounds a row's size: a
    // re-attribution of a month is one statement, and an array holds at most 1 GB.
    async up(db: Kysely<unknown>) {
      await sql`
        select usage_daily_fold();
        drop table usage_daily_pending;
        create table usage_daily_pending (
          source text not null,
          usage_date date not null,
          billed_subscription_ids uuid[] not null,
          meter_ids uuid[] not null,
          resource_uris text[] not null,
          locations text[] not null,
          quantities numeric[] not null
        );
        alter table usage_daily_pending
          alter column billed_subscription_ids set storage external, alter column meter_ids set storage external,
          alter column resource_uris set storage external, alter column locations set storage external,
          alter column quantities set storage external;
        create or replace function usage_received_daily_add() returns trigger language plpgsql as $$
          begin
            insert into usage_daily_pending (source, usage_date, billed_subscription_ids, meter_ids, resource_uris, locations, quantities)
            select source, (hour at time zone 'UTC')::date, array_agg(billed_subscription_id), array_agg(meter_id), array_agg(resource_uri),
                   array_agg(location), array_agg(quantity)
            from new_records where billed_subscription_id is not null
            group by 1, 2;
            return null;
          end $$;
        create or replace function usage_daily_add() returns trigger language plpgsql as $$
          begin
            if exists (select from new_attributions where meter_id is null) then
              -- rows written before 0510, or by hand: their record's meter, resource and location
              insert into usage_daily_pending (source, usage_date, billed_subscription_ids, meter_ids, resource_uris, locations, quantities)
              select n.source, (r.hour at time zone 'UTC')::date, array_agg(n.billed_subscription_id), array_agg(r.meter_id),
                     array_agg(r.resource_uri), array_agg(r.location), array_agg(n.quantity)
              from new_attributions n join usage_received r on r.source = n.source and r.hour = n.hour and r.id = n.received_id
              group by 1, 2;
            else
              insert into usage_daily_pending (source, usage_date, billed_subscription_ids, meter_ids, resource_uris, locations, quantities)
              select source, (hour at time zone 'UTC')::date, array_agg(billed_subscription_id), array_agg(meter_id), array_agg(resource_uri),
                     array_agg(location), array_agg(quantity)
              from new_attributions
              group by 1, 2;
            end if;
            return null;
          end $$;
        create or replace function usage_daily_fold(wait boolean default true) returns bigint language plpgsql as $$
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
            select k.billed_subscription_id, t.usage_date, k.meter_id, k.resource_uri, k.location, sum(k.quantity)
            from taken t
              cross join lateral unnest(t.billed_subscription_ids, t.meter_ids, t.resource_uris, t.locations, t.quantities)
                as k(billed_subscription_id, meter_id, resource_uri, location, quantity)
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
};
