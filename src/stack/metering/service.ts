import { HOUR_MS, startOfHour } from '../../core/clock.ts';
import { refuseArchived } from './archive.ts';
import { hoursReopened, meteredRates, type MeterRates } from './rules.ts';
import { type ClosingHour, meteringStore, type MeteringDb } from './store.ts';

// Metering's use cases. Resources tell it what changed (`recordStateChange`, `recordRemoval`), in
// the transaction of the change, and what the fabric reports late (`recordLateStateChange`). Hours
// close on the clock (`closeDueHours`): from a watermark up to the current hour, then the hours
// marked dirty by late reports. Each step is one transaction under the closing lock, so a crash
// anywhere leaves either the step done or nothing of it: the watermark moves with its hour, a
// dirty hour leaves its list with its re-close.

/** What a resource meters from a time on, as its lifecycle tells metering. */
export interface StateChange {
  resourceId: string;
  subscriptionId: string;
  /** Its subscription's state: a subscription that is not enabled stops metering. */
  subscriptionState: string;
  /** What the resource meters in its own right (none: deleted, deallocated, ...). */
  rates: MeterRates;
  at: Date;
  /** Why, kept with the interval: created, updated, a power action, ... */
  reason: string;
}

const stateOf = (change: StateChange, recordedAt: Date) => ({
  resourceId: change.resourceId,
  subscriptionId: change.subscriptionId,
  rates: meteredRates(change.rates, change.subscriptionState),
  at: change.at,
  reason: change.reason,
  recordedAt,
});

/** The resource meters as `change` says from its time on (a change only when the rates differ). */
export async function recordStateChange(db: MeteringDb, change: StateChange): Promise<void> {
  await meteringStore.changeRates(db, stateOf(change, change.at));
}

/** The resource is gone: it meters nothing from `at` on. */
export async function recordRemoval(
  db: MeteringDb,
  removal: Pick<StateChange, 'resourceId' | 'subscriptionId' | 'at' | 'reason'>,
): Promise<void> {
  await meteringStore.changeRates(db, { ...removal, rates: {}, recordedAt: removal.at });
}

/**
 * Holds the closing lock until the end of the transaction `db`: first thing in a transaction that
 * reads what a late change is about, so that no hour closes, or is changed, in between.
 */
export const holdClosingLock = (db: MeteringDb): Promise<void> => meteringStore.lockClosing(db);

/**
 * A change that happened at `change.at` and is learnt only now (`recordedAt`): the resource's
 * history changes from then until its next recorded change, and the closed hours from then on are
 * marked dirty, to be closed again (which writes correcting records). In a transaction that holds
 * the closing lock. Answers undefined when the resource had no metered state at that time, else
 * whether the change reached its open interval (what it meters now) and how many hours reopen.
 * 410 UsageArchived when the change falls in an archived month.
 */
export async function recordLateStateChange(
  db: MeteringDb,
  change: StateChange,
  recordedAt: Date,
): Promise<{ current: boolean; reopenedHours: number } | undefined> {
  // An archived month's hours are the hub's alone: no correction of them is made here any more.
  await refuseArchived(db, { from: change.at, to: recordedAt, by: 'hour' });
  const current = await meteringStore.splitAt(db, stateOf(change, recordedAt));
  if (current === undefined) return undefined;
  const hours = hoursReopened(change.at, (await meteringStore.closedUntil(db)) ?? recordedAt);
  await meteringStore.markDirty(db, hours);
  return { current, reopenedHours: hours.length };
}

/** Where closing has reached: every hour before it is closed. */
export const closedUntil = (db: MeteringDb): Promise<Date | undefined> => meteringStore.closedUntil(db);

/** Hours closed per transaction: a stack that was down a long time catches up a day at a time. */
const HOURS_PER_TRANSACTION = 24;

/**
 * When each hour closing now is reported: at `now` on the real clock; when the simulated clock
 * moved to `now` in one step from `since`, at the hour boundary where it came due, as if the clock
 * had stopped at every one (an hour already due when the step began, at the step's first boundary).
 */
function reportedTimes(now: Date, since: Date | undefined): { ofHour: (hour: Date) => Date; firstBoundary: Date } {
  if (!since) return { ofHour: () => now, firstBoundary: now };
  const first = Math.min(startOfHour(since).getTime() + HOUR_MS, now.getTime());
  return {
    ofHour: (hour) => new Date(Math.max(Math.min(hour.getTime() + HOUR_MS, now.getTime()), first)),
    firstBoundary: new Date(first),
  };
}

/** Closes again the dirty hours before `until`, taking them off their list, in one transaction. */
export async function recloseDirtyHours(db: MeteringDb, until: Date, reportedAt: Date): Promise<void> {
  await meteringStore.closeHours(db, [], { redo: { before: until, reportedAt } });
}

/**
 * Closes every hour due by `now` from where closing stopped (so a stack that was down closes the
 * hours it missed when it comes back; the first time, from the hour of the first interval ever
 * written), a day's hours per statement, then the dirty hours. `since`: where the simulated clock
 * stood before it moved to `now` (see `reportedTimes`).
 */
export async function closeDueHours(db: MeteringDb, now: Date, since?: Date): Promise<void> {
  const until = startOfHour(now);
  const closed = await meteringStore.closedUntil(db);
  const first = closed ? undefined : await meteringStore.firstIntervalStart(db);
  const from = closed ?? (first ? startOfHour(first) : until);
  const reported = reportedTimes(now, since);
  // Dirty hours were marked before this step: they close again at its first boundary, with the
  // last hours due (or on their own when none are).
  const redo = { before: until, reportedAt: reported.firstBoundary };
  if (from.getTime() >= until.getTime()) return recloseDirtyHours(db, redo.before, redo.reportedAt);
  for (let h = from.getTime(); h < until.getTime(); h += HOURS_PER_TRANSACTION * HOUR_MS) {
    const end = Math.min(h + HOURS_PER_TRANSACTION * HOUR_MS, until.getTime());
    const hours: ClosingHour[] = [];
    for (let t = h; t < end; t += HOUR_MS) hours.push({ hour: new Date(t), reportedAt: reported.ofHour(new Date(t)) });
    // One call per day of hours: the watermark moves with them; the dirty hours go with the last.
    const last = end === until.getTime();
    await meteringStore.closeHours(db, hours, { closedUntil: new Date(end), ...(last ? { redo } : {}) });
  }
}
