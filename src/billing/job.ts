import type { DueWork } from '../core/scheduler.ts';
import { closeDuePeriods } from './billing-run.ts';
import type { BillingContext } from './context.ts';
import { earliestOpenPeriodEnd } from './open-periods.ts';
import { billingStore } from './store.ts';

/**
 * Billing periods close by themselves once they have ended: under the simulated clock as
 * `clock advance` passes their end, after the usage due by then has been delivered and attributed.
 * Drafts whose grace period ended are finalized first. Between period ends it costs one query:
 * while buyers, billing days and invoices are unchanged, nothing can close or finalize before the
 * earliest open period or grace period ends.
 */
export function billingWork(ctx: BillingContext): DueWork {
  let quiet: { fingerprint: string; until: number } | undefined;
  const idleAt = async (now: Date) =>
    quiet !== undefined &&
    now.getTime() < quiet.until &&
    quiet.fingerprint === (await billingStore.fingerprint(ctx.db));
  return {
    name: 'billing periods',
    settles: true,
    // Without the lock: a period another process is closing now is due by `now`, so not idle.
    idleAt,
    async runUntil(now) {
      if (await idleAt(now)) return;
      await closeDuePeriods(ctx, now);
      const [periodEnd, draftEnd] = await Promise.all([
        earliestOpenPeriodEnd(ctx),
        billingStore.earliestDraftEnd(ctx.db),
      ]);
      const until = [periodEnd, draftEnd].reduce<Date | undefined>((a, d) => (d && (!a || d < a) ? d : a), undefined);
      quiet = {
        fingerprint: await billingStore.fingerprint(ctx.db),
        until: until?.getTime() ?? Number.POSITIVE_INFINITY,
      };
    },
  };
}
