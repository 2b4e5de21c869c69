import { type Kysely, sql } from 'kysely';
import { MONTHLY_METER_IDS } from '../../core/meters.ts';
import { sameRates } from './rules.ts';
import type { MeterRates, MeteringTables } from './tables.ts';

// All SQL of metering's own state: what each resource meters over time (`resource_states`),
// closing hours into usage records, the closing watermark and the dirty hours. The outbox's reads
// and marks (delivery, the usage APIs, chargeback) are in outbox-store.ts; nothing else touches
// metering's tables.
export type MeteringDb = Kysely<MeteringTables>;

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
   * Closes hours for every resource in one call of `close_metering_hours` (close-function.ts), under
   * the closing lock: computes each resource's quantity per meter and hour from the intervals that
   * overlap the hour, and writes, per hour, resource and meter, the difference from what earlier
   * closings of the hour already wrote, as the next revision. Closing again with nothing changed
   * writes nothing. Each hour's records carry its reported time (`ClosingHour.reportedAt`), and
   * its resource's URI, location and tags and its subscription's directory as they are when the
   * hour closes (through what resources and ARM publish: `metered_resource_facts()`,
   * `subscription_directories()`). With `step`, the same call also closes again the dirty hours
   * before `step.redo.before` (taking them off their list) and moves the watermark to
   * `step.closedUntil`: a step of the clock is one round trip, and one transaction however it is
   * called. Answers how many records it wrote.
   */
  closeHours: async (
    db: MeteringDb,
    hours: ClosingHour[],
    step: { closedUntil?: Date; redo?: { before: Date; reportedAt: Date } } = {},
  ): Promise<number> => {
    const result = await sql<{ written: string }>`
      select close_metering_hours(${CLOSING_LOCK}, ${hours.map((h) => h.hour.toISOString())}::timestamptz[],
        ${hours.map((h) => h.reportedAt.toISOString())}::timestamptz[], ${MONTHLY_METER_IDS}::text[],
        ${step.closedUntil?.toISOString() ?? null}::timestamptz, ${step.redo?.before.toISOString() ?? null}::timestamptz,
        ${step.redo?.reportedAt.toISOString() ?? null}::timestamptz) as written
    `.execute(db);
    return Number(result.rows[0].written);
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

  /** Where closing has reached: every hour before it is closed (moved by `closeHours`' step). */
  closedUntil: async (db: MeteringDb): Promise<Date | undefined> =>
    (await db.selectFrom('metering_watermark').select('closed_until').executeTakeFirst())?.closed_until,

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
};
