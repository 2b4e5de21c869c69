import type { Principal } from '../core/principal.ts';
import { comparePeriods, parsePeriod, periodBounds } from '../core/periods.ts';
import { LIST_SHEET } from '../rating/migrations.ts';
import { pricingStore } from '../rating/store.ts';
import { billingErrors, STREAMS, type BillingContext } from './context.ts';
import { nextDueWindows } from './open-periods.ts';
import { lockCounters, numberPrefix, writeInvoices } from './invoice-writes.ts';
import { finalizeDueDrafts } from './lifecycle.ts';
import type { InvoiceWindow } from './rated-store.ts';
import type { Stream } from './tables.ts';
import { transaction } from '../db/transactions.ts';

// The billing run: closing periods into invoices (partners' from the provider, customers' from
// their partner), by the billing job and by `billing run`.

export interface RunProgress {
  stream: Stream;
  period: string;
  done: number;
  total: number;
}

export interface RunResult {
  periods: string[];
  invoices: number;
  lines: number;
}

/**
 * Closes every period that has ended by `now` (up to `upTo` when given), stream by stream, the
 * earliest first: all buyers of a stream and period in one statement that reads the daily
 * aggregates once. A buyer with a grace period gets a draft; one without, a finalized invoice
 * numbered from its seller's counter. Drafts whose grace ended are finalized first (a buyer's
 * next period closes only after its draft is finalized). The database's unique index makes a
 * second close of the same period add nothing: runs are idempotent and may repeat after a crash.
 */
export async function closeDuePeriods(
  ctx: BillingContext,
  now: Date,
  upTo?: string,
  onProgress?: (p: RunProgress) => void,
): Promise<RunResult> {
  const result: RunResult = { periods: [], invoices: 0, lines: 0 };
  const sheet = await pricingStore.sheet(ctx.db, LIST_SHEET);
  const currency = sheet?.currency ?? 'USD';
  for (let progressed = true; progressed;) {
    progressed = (await finalizeDueDrafts(ctx, now)) > 0;
    for (const stream of STREAMS) {
      for (;;) {
        const due = await nextDueWindows(ctx, stream, now, upTo);
        if (due.length === 0) break;
        progressed = true;
        const period = due.map((d) => d.period).sort(comparePeriods)[0];
        const inPeriod = due.filter((d) => d.period === period);
        for (const graceDays of new Set(inPeriod.map((d) => d.graceDays))) {
          const windows = inPeriod.filter((d) => d.graceDays === graceDays).map((d) => d.window);
          const added = await closeWindows(ctx, { stream, period, windows, invoiceDate: now, currency, graceDays });
          result.invoices += added.invoices;
          result.lines += added.lines;
        }
        onProgress?.({ stream, period, done: inPeriod.length, total: inPeriod.length });
        if (!result.periods.includes(period)) result.periods.push(period);
      }
    }
  }
  result.periods.sort(comparePeriods);
  return result;
}

/**
 * One close: drafts when the buyers have a grace period, else finalized invoices. Either holds
 * its sellers' counters, as finalizing and voiding do: what each writes to a buyer's billed
 * quantities is then read after the other committed, never beside it.
 */
function closeWindows(
  ctx: BillingContext,
  q: {
    stream: Stream;
    period: string;
    windows: InvoiceWindow[];
    invoiceDate: Date;
    currency: string;
    graceDays: number;
  },
) {
  return transaction(ctx.db, async (tx) => {
    await lockCounters(
      tx,
      q.windows.map((w) => w.seller),
      numberPrefix(q.stream),
    );
    return writeInvoices(tx, { ...q, status: q.graceDays > 0 ? 'draft' : 'finalized', write: 'insert' });
  });
}

/** `billing run --period`: the calendar month must have ended. Checked before any work starts. */
export async function runBillingPreflight(ctx: BillingContext, caller: Principal, periodText: string): Promise<void> {
  await ctx.system.require(caller, 'Stackledger.Billing/billingRuns/action');
  parsePeriod(periodText);
  const end = periodBounds(periodText, 1).end;
  if (end.getTime() > ctx.clock.now().getTime()) throw billingErrors.periodNotEnded(periodText, end);
}

/** Closes the period and every earlier one still open; a second run adds nothing. */
export async function runBilling(
  ctx: BillingContext,
  caller: Principal,
  periodText: string,
  onProgress?: (p: RunProgress) => void,
) {
  await runBillingPreflight(ctx, caller, periodText);
  const result = await closeDuePeriods(ctx, ctx.clock.now(), periodText, onProgress);
  return {
    period: periodText,
    invoicesAdded: result.invoices,
    linesAdded: result.lines,
    periodsClosed: result.periods,
  };
}
