import type { DueWork } from '../../core/scheduler.ts';
import { closeDueHours } from './service.ts';
import type { MeteringDb } from './store.ts';

// Hours close on the clock: once an hour has passed, each resource's usage of it is written, one
// record per resource and meter (see service.ts).

export function meteringWork(db: MeteringDb): DueWork {
  return { name: 'stack: close metering hours', runUntil: (now: Date, since?: Date) => closeDueHours(db, now, since) };
}
