import { type Kysely, type RawBuilder, sql } from 'kysely';
import type pg from 'pg';
import type { UsageDailyTable } from './tables.ts';

// The daily aggregates (`usage_daily`, migrations 0505 and 0530): attributions append their daily
// keys to `usage_daily_pending` in the writing transaction; a fold moves them into `usage_daily`.
// Every reader folds first, which the types enforce: `dailyUsage` takes the token only a fold
// hands out.

declare const foldedBrand: unique symbol;
/** Proof that `usage_daily` was brought up to date before the read that carries it. */
export type DailyFolded = { readonly [foldedBrand]: true };
const FOLDED = {} as DailyFolded;

export const dailyStore = {
  /**
   * Brings `usage_daily` up to date with every attribution committed before it (SQL function
   * `usage_daily_fold`: one statement, one fold at a time until the caller's transaction ends).
   * In a transaction, run it under READ COMMITTED (each of its statements sees the last fold).
   */
  async fold<T>(db: Kysely<T>): Promise<DailyFolded> {
    await sql`select usage_daily_fold()`.execute(db);
    return FOLDED;
  },

  /**
   * The job's fold: none when another is under way (a close's may last as long as its
   * transaction), so the clock's other work never waits for it; the readers fold on their own.
   */
  async foldUnlessBusy<T>(db: Kysely<T>): Promise<void> {
    await sql`select usage_daily_fold(false)`.execute(db);
  },

  /** As `fold`, on a client of the caller's own transaction (the archive's). */
  async foldOn(client: pg.ClientBase): Promise<DailyFolded> {
    await client.query('select usage_daily_fold()');
    return FOLDED;
  },

  // Published for billing, which reads usage only through these.
  /**
   * The attributed usage per billed subscription, usage day, meter, resource and location, as a
   * query billing composes into its own; only after a fold.
   */
  dailyUsage: (_folded: DailyFolded): RawBuilder<UsageDailyTable> =>
    sql`select billed_subscription_id, usage_date, meter_id, resource_uri, location, quantity from usage_daily`,
};
