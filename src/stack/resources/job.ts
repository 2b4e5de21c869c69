import { HOUR_MS, startOfHour } from '../../core/clock.ts';
import type { DueWork } from '../../core/scheduler.ts';
import { inTransaction } from '../../arm/service.ts';
import { resourcesStore, type ResourcesDb } from './store.ts';

// Hours close on the clock: once an hour has passed, each resource's usage of it is written, one
// record per resource and meter. Closing proceeds hour by hour from where it stopped, so a stack
// that was down closes the hours it missed when it comes back; hours whose history changed later
// (marked dirty) are closed again, which writes only the differences. Each step is one
// transaction under the closing lock, so a crash anywhere leaves either the step done or nothing
// of it: the watermark moves with its hour, a dirty hour leaves its list with its re-close.

export function meteringWork(db: ResourcesDb): DueWork {
  return {
    name: 'stack: close metering hours',
    async runUntil(now: Date) {
      const until = startOfHour(now);
      // The first time: from the hour of the first interval ever written.
      const closedUntil = await resourcesStore.closedUntil(db);
      const first = closedUntil ? undefined : await resourcesStore.firstIntervalStart(db);
      const from = closedUntil ?? (first ? startOfHour(first) : until);
      for (let h = from.getTime(); h < until.getTime(); h += HOUR_MS) {
        await inTransaction(db, async (trx) => {
          await resourcesStore.lockClosing(trx);
          await resourcesStore.closeHour(trx, new Date(h), now);
          await resourcesStore.setClosedUntil(trx, new Date(h + HOUR_MS));
        });
      }
      await inTransaction(db, async (trx) => {
        await resourcesStore.lockClosing(trx);
        for (const hour of await resourcesStore.takeDirty(trx, until)) await resourcesStore.closeHour(trx, hour, now);
      });
    },
  };
}
