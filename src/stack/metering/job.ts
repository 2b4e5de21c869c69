import type { DueWork } from '../../core/scheduler.ts';
import { ensureUsagePartitions } from './archive.ts';
import { closeDueHours } from './service.ts';
import type { MeteringDb } from './store.ts';

// Hours close on the clock: once an hour has passed, each resource's usage of it is written, one
// record per resource and meter (see service.ts), into the month's partition, made ahead of the clock.

export function meteringWork(db: MeteringDb): DueWork {
  const made = new Set<string>();
  return {
    name: 'stack: close metering hours',
    runUntil: async (now: Date, since?: Date) => {
      await ensureUsagePartitions(db, now, made);
      await closeDueHours(db, now, since);
    },
  };
}
