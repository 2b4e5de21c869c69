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
import { dailyStore } from '../usage/daily-store.ts';

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
 * Closes every period that has ended by `now` (up to `upTo` when given), the earliest first: all
 * buyers of a stream and period in one statement that reads the daily aggregates once. The two
 * streams close side by side (separate documents, counters and billed quantities), each on a
 * connection of its own. A buyer with a grace period gets a draft; one without, a finalized
 * invoice numbered from its seller's counter. Drafts whose grace ended are finalized first (a
 * buyer's next period closes only after its draft is finalized). The database's unique index
 * makes a second close of the same period add nothing: runs are idempotent and may repeat after
 * a crash.
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
    const closes = await Promise.allSettled(
      STREAMS.map((stream) => closeStream(ctx, { stream, now, upTo, currency }, result, onProgress)),
    );
    for (const c of closes) {
      if (c.status === 'rejected') throw c.reason;
      if (c.value) progressed = true;
    }
  }
  result.periods.sort(comparePeriods);
  return result;
}

/** Closes a stream's due periods, the earliest first, into `result`; answers whether it closed any. */
async function closeStream(
  ctx: BillingContext,
  q: { stream: Stream; now: Date; upTo?: string; currency: string },
  result: RunResult,
  onProgress?: (p: RunProgress) => void,
): Promise<boolean> {
  let closed = false;
  for (;;) {
    const due = await nextDueWindows(ctx, q.stream, q.now, q.upTo);
    if (due.length === 0) return closed;
    closed = true;
    const period = due.map((d) => d.period).sort(comparePeriods)[0];
    const inPeriod = due.filter((d) => d.period === period);
    for (const graceDays of new Set(inPeriod.map((d) => d.graceDays))) {
      const windows = inPeriod.filter((d) => d.graceDays === graceDays).map((d) => d.window);
      const added = await closeWindows(ctx, {
        stream: q.stream,
        period,
        windows,
        invoiceDate: q.now,
        currency: q.currency,
        graceDays,
      });
      result.invoices += added.invoices;
      result.lines += added.lines;
    }
    onProgress?.({ stream: q.stream, period, done: inPeriod.length, total: inPeriod.length });
    if (!result.periods.includes(period)) result.periods.push(period);
  }
}

/**
 * One close: drafts when the buyers have a grace period, else finalized invoices. Either holds
 * its sellers' counters, as finalizing and voiding do: what each writes to a buyer's billed
 * quantities is then read after the other committed, never beside it.
 */
async function closeWindows(
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
  // Folded first, on its own: a fold in the close's transaction would hold every other fold (the
  // other stream's close among them) until the close commits.
  const folded = await dailyStore.fold(ctx.db);
  return transaction(ctx.db, async (tx) => {
    await lockCounters(
      tx,
      q.windows.map((w) => w.seller),
      numberPrefix(q.stream),
    );
    return writeInvoices(tx, { ...q, status: q.graceDays > 0 ? 'draft' : 'finalized', write: 'insert', folded });
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
