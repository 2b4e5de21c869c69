import type { Kysely } from 'kysely';
import type { DueWork } from '../core/scheduler.ts';
import { archiveStore } from './archive-store.ts';
import { monthOf } from './archive.ts';
import { countersStore } from './counters-store.ts';
import { dailyStore } from './daily-store.ts';
import type { UsageTables } from './tables.ts';

/** How many months after the clock's own get their partitions ahead. */
const MONTHS_AHEAD = 2;
/** How long the job waits for the usage tables' lock before leaving a month for its next run. */
const LOCK_WAIT_MS = 1000;

/**
 * The hub's job that creates usage partitions ahead: the clock's month and the next two, each
 * once (records of any other hour land in the default partitions, and move when their month is
 * created). Each month in its own transaction. It also sums up the usage counters and folds the
 * attributions' pending daily keys into usage_daily, so that a reader's own fold finds little to do.
 */
export function usagePartitionWork(db: Kysely<UsageTables>): DueWork {
  // The months this process has made or found made: asked no more (a transaction of four round
  // trips each, at every step of the clock). Only months from the clock's on are made here, and
  // the archive drops only closed months before it, so a month found here stays.
  const made = new Set<string>();
  return {
    name: 'usage partitions and counters',
    async runUntil(now) {
      for (let ahead = 0; ahead <= MONTHS_AHEAD; ahead++) {
        const month = monthOf(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + ahead, 1)));
        if (made.has(month)) continue;
        // Months are made ahead, so a month not made now (its table busy) is made at a later run.
        if ((await archiveStore.createMonthUnlessBusy(db, month, LOCK_WAIT_MS)) !== 'busy') made.add(month);
      }
      await countersStore.compact(db);
      await dailyStore.foldUnlessBusy(db);
    },
  };
}
