import type { DueWork } from '../core/scheduler.ts';
import { closeDuePeriods } from './billing-run.ts';
import type { BillingContext } from './context.ts';
import { earliestOpenPeriodEnd } from './open-periods.ts';
import { billingStore } from './store.ts';

/**
 * Billing periods close by themselves once they have ended: under the simulated clock as
 * `clock advance` passes their end, after the usage due by then has been delivered and attributed.
 * Between period ends it costs one query: while buyers, billing days and invoices are unchanged,
 * nothing can close before the earliest open period ends.
 */
export function billingWork(ctx: BillingContext): DueWork {
  let quiet: { fingerprint: string; until: number } | undefined;
  return {
    name: 'billing periods',
    settles: true,
    async runUntil(now) {
      const fingerprint = await billingStore.fingerprint(ctx.db);
      if (quiet && quiet.fingerprint === fingerprint && now.getTime() < quiet.until) return;
      await closeDuePeriods(ctx, now);
      const until = await earliestOpenPeriodEnd(ctx);
      quiet = {
        fingerprint: await billingStore.fingerprint(ctx.db),
        until: until?.getTime() ?? Number.POSITIVE_INFINITY,
      };
    },
  };
}
