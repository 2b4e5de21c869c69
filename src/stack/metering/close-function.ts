import { type Kysely, sql } from 'kysely';

/**
 * Makes (or replaces) `close_metering_hours` (migrations 1210, 1211): in one statement, so one
 * transaction and one round trip, it takes the closing lock, takes the dirty hours before
 * `redo_before` off their list and closes them with `hours_to_close` (an hour in both closes once,
 * as due), and moves the watermark to `new_watermark`. Each statement of the function reads after
 * the lock: a volatile function takes a new snapshot per statement. Answers the records written.
 */
export async function createCloseMeteringHours(db: Kysely<unknown>): Promise<void> {
  // The statement is the one meteringStore.closeHours ran before 1210, with each hour's calendar month (UTC)
  // worked out here. A monthly meter accrues rate × the elapsed fraction of the month; an hour
  // takes the difference of that running total, rounded, at the ends of each overlap (rules.ts).
  const accrued = (t: string) =>
    `round(m.value::numeric * extract(epoch from (${t} - h.month_start)) / h.month_seconds, 9)`;
  await sql
    .raw(
      `create or replace function close_metering_hours(
        lock_key bigint, hours_to_close timestamptz[], reported_times timestamptz[], monthly_meters text[],
        new_watermark timestamptz, redo_before timestamptz, redo_reported_at timestamptz
      ) returns bigint language plpgsql as $f$
      declare
        redo timestamptz[];
        written bigint := 0;
      begin
        -- First: what follows reads what the lock's previous holder committed.
        perform pg_advisory_xact_lock(lock_key);
        if redo_before is not null then
          with taken as (delete from metering_dirty_hours where hour < redo_before returning hour)
          select coalesce(array_agg(hour order by hour), '{}') into redo from taken;
          -- An hour also due now closes once, as due (its records are written once).
          redo := array(select d from unnest(redo) d where d <> all(hours_to_close));
          hours_to_close := hours_to_close || redo;
          reported_times := reported_times || array_fill(redo_reported_at, array[cardinality(redo)]);
        end if;
        if cardinality(hours_to_close) > 0 then
          with hours as (
            select h.hour, h.hour + interval '1 hour' as hour_end, mo.month_start,
                   extract(epoch from mo.month_end - mo.month_start) as month_seconds, h.reported_at
            from unnest(hours_to_close, reported_times) as h(hour, reported_at)
            cross join lateral (select date_trunc('month', h.hour at time zone 'UTC') as t) u
            cross join lateral (
              select u.t at time zone 'UTC' as month_start, (u.t + interval '1 month') at time zone 'UTC' as month_end
            ) mo
          ), computed as (
            select h.hour, s.resource_id, m.key as meter_id,
                   round(sum(case when m.monthly then 0 else extract(epoch from (w.b - w.a)) * m.value::numeric end) / 3600, 9)
                     + sum(case when m.monthly then ${accrued('w.b')} - ${accrued('w.a')} else 0 end) as quantity
            from hours h
            join resource_states s on s.valid_from < h.hour_end and (s.valid_to is null or s.valid_to > h.hour)
            cross join lateral (
              select r.key, r.value, r.key = any(monthly_meters) as monthly from jsonb_each_text(s.rates) r
            ) m
            cross join lateral (
              select greatest(s.valid_from, h.hour) as a, least(coalesce(s.valid_to, h.hour_end), h.hour_end) as b
            ) w
            group by h.hour, s.resource_id, m.key
          ), existing as (
            select e.hour, e.resource_id, e.meter_id::text as meter_id, sum(e.quantity) as quantity, max(e.revision) as revision
            from usage_records e where e.hour = any(hours_to_close)
            group by e.hour, e.resource_id, e.meter_id
          ), delta as (
            select coalesce(c.hour, e.hour) as hour, coalesce(c.resource_id, e.resource_id) as resource_id,
                   coalesce(c.meter_id, e.meter_id) as meter_id,
                   coalesce(c.quantity, 0) - coalesce(e.quantity, 0) as quantity, coalesce(e.revision, 0) + 1 as revision
            from computed c full join existing e on e.hour = c.hour and e.resource_id = c.resource_id and e.meter_id = c.meter_id
            where coalesce(c.quantity, 0) <> coalesce(e.quantity, 0)
          ), inserted as (
            insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
            select d.resource_id, d.meter_id::uuid, d.hour, d.revision, d.quantity, r.subscription_id, s.tenant_id,
                   r.resource_uri, r.location, r.tags, h.reported_at
            from delta d
            join hours h on h.hour = d.hour
            join metered_resource_facts() r on r.id = d.resource_id
            join subscription_directories() s on s.subscription_id = r.subscription_id
            on conflict do nothing
            returning 1
          )
          select count(*) into written from inserted;
        end if;
        if new_watermark is not null then
          insert into metering_watermark as w (closed_until) values (new_watermark)
          on conflict (only_row) do update set closed_until = excluded.closed_until;
        end if;
        return written;
      end $f$`,
    )
    .execute(db);
}
