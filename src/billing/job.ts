import type { DueWork } from '../core/scheduler.ts';
import { closeDuePeriods, type BillingContext } from './service.ts';

/**
 * Billing periods close by themselves once they have ended: under the simulated clock as
 * `clock advance` passes their end, after the usage due by then has been delivered and attributed.
 */
export function billingWork(ctx: BillingContext): DueWork {
  return {
    name: 'billing periods',
    settles: true,
    async runUntil(now) {
      await closeDuePeriods(ctx, now);
    },
  };
}
