import { type Kysely, type RawBuilder, sql } from 'kysely';
import { armStore } from '../../arm/store.ts';
import type { SettingsTable } from '../../arm/tables.ts';
import { MONTHLY_METER_IDS } from '../../core/meters.ts';
import { monthOf, sameRates } from './rules.ts';
import type { MeterRates, MeteringTables } from './tables.ts';

// All SQL of metering's own state: what each resource meters over time (`resource_states`),
// closing hours into usage records, the closing watermark and the dirty hours. The outbox's reads
// and marks (delivery, the usage APIs, chargeback) are in outbox-store.ts; nothing else touches
// metering's tables.
// Handed with ARM's settings too: the closing watermark is one of them (ARM's store writes it).
export type MeteringDb = Kysely<MeteringTables & { settings: SettingsTable }>;

/** The advisory lock of closing hours (a fixed key: one deployment per database). */
export const CLOSING_LOCK = 0x5354_4b4d; // 'STKM'

/** An hour to close (its start) and the reported time its records carry. */
export interface ClosingHour {
  hour: Date;
  reportedAt: Date;
}

/** A resource's rates from a time on, as a row of `resource_states`. */
interface StateRow {
  resourceId: string;
  subscriptionId: string;
  from: Date;
  to: Date | null;
  rates: MeterRates;
  reason: string;
  recordedAt: Date;
}

const insertState = async (db: MeteringDb, s: StateRow) => {
  await db
    .insertInto('resource_states')
    .values({
      resource_id: s.resourceId,
      subscription_id: s.subscriptionId,
      valid_from: s.from,
      valid_to: s.to,
      rates: JSON.stringify(s.rates),
      reason: s.reason,
      recorded_at: s.recordedAt,
    })
    .execute();
};

export const meteringStore = {
  /** From `at` on, the resource meters at `rates` (nothing when empty); a change only when they differ. */
  changeRates: async (db: MeteringDb, change: Omit<StateRow, 'from' | 'to'> & { at: Date }): Promise<boolean> => {
    const open = await db
      .selectFrom('resource_states')
      .select(['id', 'rates'])
      .where('resource_id', '=', change.resourceId)
      .where('valid_to', 'is', null)
      .executeTakeFirst();
    if (sameRates(open?.rates ?? {}, change.rates)) return false;
    if (open) await db.updateTable('resource_states').set({ valid_to: change.at }).where('id', '=', open.id).execute();
    if (Object.keys(change.rates).length > 0) await insertState(db, { ...change, from: change.at, to: null });
    return true;
  },

  /**
   * A change that happened at `at` but is learnt only now: the interval that held at `at` ends
   * there, and the rest of it holds the new rates. Answers whether that interval was the open one,
   * undefined when none held at `at`.
   */
  splitAt: async (
    db: MeteringDb,
    change: Omit<StateRow, 'from' | 'to'> & { at: Date },
  ): Promise<boolean | undefined> => {
    const holding = await db
      .selectFrom('resource_states')
      .selectAll()
      .where('resource_id', '=', change.resourceId)
      .where('valid_from', '<=', change.at)
      .where((eb) => eb.or([eb('valid_to', 'is', null), eb('valid_to', '>', change.at)]))
      .executeTakeFirst();
    if (!holding) return undefined;
    if (sameRates(holding.rates, change.rates)) return holding.valid_to === null;
    await db.updateTable('resource_states').set({ valid_to: change.at }).where('id', '=', holding.id).execute();
    if (Object.keys(change.rates).length > 0)
      await insertState(db, { ...change, from: change.at, to: holding.valid_to });
    return holding.valid_to === null;
  },

  /**
   * Closes hours for every resource in one statement: computes each resource's quantity per meter
   * and hour from the intervals that overlap the hour, and writes, per hour, resource and meter, the
   * difference from what earlier closings of the hour already wrote, as the next revision.
   * Closing again with nothing changed writes nothing. Answers how many records it wrote.
   * Each hour's records carry its reported time (`ClosingHour.reportedAt`).
   * A record carries its resource's URI, location and tags and its subscription's directory as
   * they are when the hour closes (through what resources and ARM publish: `metered_resource_facts()`,
   * `subscription_directories()`).
   */
  closeHours: async (db: MeteringDb, hours: ClosingHour[]): Promise<number> => {
    if (hours.length === 0) return 0;
    // Each hour's calendar month (UTC), worked out by the same rule as the reference computation.
    const months = hours.map((h) => monthOf(h.hour));
    const starts = hours.map((h) => h.hour.toISOString());
    // A monthly meter accrues rate × the elapsed fraction of the month; an hour takes the
    // difference of that running total, rounded, at the ends of each overlap (rules.ts).
    const accrued = (t: RawBuilder<unknown>) =>
      sql`round(m.value::numeric * extract(epoch from (${t} - h.month_start)) / h.month_seconds, 9)`;
    const result = await sql`
      with hours as (
        select h.hour, h.hour + interval '1 hour' as hour_end, h.month_start, h.month_seconds, h.reported_at
        from unnest(${starts}::timestamptz[], ${months.map((m) => new Date(m.start).toISOString())}::timestamptz[],
                    ${months.map((m) => String(m.ms / 1000))}::numeric[], ${hours.map((h) => h.reportedAt.toISOString())}::timestamptz[])
          as h(hour, month_start, month_seconds, reported_at)
      ), computed as (
        select h.hour, s.resource_id, m.key as meter_id,
               round(sum(case when m.monthly then 0 else extract(epoch from (w.b - w.a)) * m.value::numeric end) / 3600, 9)
                 + sum(case when m.monthly then ${accrued(sql.ref('w.b'))} - ${accrued(sql.ref('w.a'))} else 0 end) as quantity
        from hours h
        join resource_states s on s.valid_from < h.hour_end and (s.valid_to is null or s.valid_to > h.hour)
        cross join lateral (
          select r.key, r.value, r.key = any(${MONTHLY_METER_IDS}::text[]) as monthly from jsonb_each_text(s.rates) r
        ) m
        cross join lateral (
          select greatest(s.valid_from, h.hour) as a, least(coalesce(s.valid_to, h.hour_end), h.hour_end) as b
        ) w
        group by h.hour, s.resource_id, m.key
      ), existing as (
        select hour, resource_id, meter_id::text as meter_id, sum(quantity) as quantity, max(revision) as revision
        from usage_records where hour = any(${starts}::timestamptz[])
        group by hour, resource_id, meter_id
      ), delta as (
        select coalesce(c.hour, e.hour) as hour, coalesce(c.resource_id, e.resource_id) as resource_id,
               coalesce(c.meter_id, e.meter_id) as meter_id,
               coalesce(c.quantity, 0) - coalesce(e.quantity, 0) as quantity, coalesce(e.revision, 0) + 1 as revision
        from computed c full join existing e on e.hour = c.hour and e.resource_id = c.resource_id and e.meter_id = c.meter_id
        where coalesce(c.quantity, 0) <> coalesce(e.quantity, 0)
      )
      insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
      select d.resource_id, d.meter_id::uuid, d.hour, d.revision, d.quantity, r.subscription_id, s.tenant_id,
             r.resource_uri, r.location, r.tags, h.reported_at
      from delta d
      join hours h on h.hour = d.hour
      join metered_resource_facts() r on r.id = d.resource_id
      join subscription_directories() s on s.subscription_id = r.subscription_id
      on conflict do nothing
    `.execute(db);
    return Number(result.numAffectedRows ?? 0);
  },

  /** Closes one hour (see `closeHours`), its records reported at `reportedAt`. */
  closeHour: (db: MeteringDb, hour: Date, reportedAt: Date): Promise<number> =>
    meteringStore.closeHours(db, [{ hour, reportedAt }]),

  firstIntervalStart: async (db: MeteringDb): Promise<Date | undefined> => {
    const row = await db
      .selectFrom('resource_states')
      .select((eb) => eb.fn.min('valid_from').as('first'))
      .executeTakeFirst();
    return (row?.first as Date | null) ?? undefined;
  },

  // The closing watermark is one of ARM's settings (key `metering`).
  closedUntil: async (db: MeteringDb): Promise<Date | undefined> => {
    const v = await armStore.getSetting<{ closedUntil?: string }>(db, 'metering');
    return v?.closedUntil ? new Date(v.closedUntil) : undefined;
  },

  setClosedUntil: (db: MeteringDb, at: Date) => armStore.putSetting(db, 'metering', { closedUntil: at.toISOString() }),

  /**
   * Serializes, until the end of the caller's transaction, everything that closes hours or changes
   * closed history: a late report and the closing of its hour never overlap (the hour would close
   * with the old rates, unmarked). Taken first in the transaction, so that what follows reads what
   * the previous holder committed.
   */
  lockClosing: async (db: MeteringDb) => {
    if (!db.isTransaction) throw new Error('lockClosing holds until the end of a transaction: call it in one');
    await sql`select pg_advisory_xact_lock(${CLOSING_LOCK})`.execute(db);
  },

  markDirty: async (db: MeteringDb, hours: Date[]) => {
    if (hours.length === 0) return;
    await db
      .insertInto('metering_dirty_hours')
      .values(hours.map((hour) => ({ hour })))
      .onConflict((oc) => oc.column('hour').doNothing())
      .execute();
  },

  /** Takes the dirty hours before `before` off their list: in the transaction that closes them again. */
  takeDirty: async (db: MeteringDb, before: Date): Promise<Date[]> => {
    if (!db.isTransaction)
      throw new Error('takeDirty must run in the transaction that closes the hours again, or a crash loses them');
    return (await db.deleteFrom('metering_dirty_hours').where('hour', '<', before).returning('hour').execute())
      .map((r) => r.hour)
      .sort((a, b) => a.getTime() - b.getTime());
  },
};
