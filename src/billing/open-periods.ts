import { randomUUID } from 'node:crypto';
import { comparePeriods, nextPeriod, periodBounds, periodContaining } from '../core/periods.ts';
import { PROVIDER, STREAMS, type BillingContext } from './context.ts';
import type { InvoiceWindow } from './rated-store.ts';
import { billingStore } from './store.ts';
import type { InvoicesTable, Seller, Stream } from './tables.ts';

// Each buyer's open period: its terms (billing day, tax rate), the window its next invoice covers,
// and which windows are due to close.

interface Terms {
  day: number;
  taxRate: string;
  /** Days a closed period's invoice stays a draft. */
  graceDays: number;
}

/** The billing day and tax rate of each buyer: its own profile, else its seller's default, else day 1 and no tax. */
export async function termsOf(ctx: BillingContext): Promise<(seller: Seller, buyerId: string) => Terms> {
  const profiles = await billingStore.profiles(ctx.db);
  const byKey = new Map(profiles.map((p) => [`${p.seller}/${p.customer_id ?? ''}`, p]));
  return (seller, buyerId) => {
    const p = byKey.get(`${seller}/${buyerId}`) ?? byKey.get(`${seller}/`);
    // The provider's invoices to partners carry no tax (the partner center's usage lines).
    return {
      day: p?.billing_day ?? 1,
      taxRate: seller === PROVIDER ? '0' : (p?.tax_rate ?? '0'),
      graceDays: p?.grace_period_days ?? 0,
    };
  };
}

interface PlannedWindow {
  period: string;
  window: InvoiceWindow;
  graceDays: number;
}

/**
 * A buyer's open period: the one after its last invoice (or the one it started in), starting where
 * that invoice ended.
 */
export function openWindow(
  seller: Seller,
  buyerId: string,
  since: Date,
  prev: InvoicesTable | undefined,
  t: Terms,
): PlannedWindow {
  let period = prev ? nextPeriod(prev.period) : periodContaining(since, t.day);
  // A changed billing day can make a period end before the last invoice did: skip it.
  while (prev && periodBounds(period, t.day).end.getTime() <= prev.period_end.getTime()) period = nextPeriod(period);
  const bounds = periodBounds(period, t.day);
  return {
    period,
    graceDays: t.graceDays,
    window: {
      invoiceId: randomUUID(),
      seller,
      buyerId,
      periodStart: prev ? prev.period_end : bounds.start,
      periodEnd: bounds.end,
      taxRate: t.taxRate,
    },
  };
}

/**
 * The next period each buyer has to close, when it has ended by `now` (and is not after `upTo`).
 * Periods close in order: a buyer's next one starts where its last invoice ended.
 */
export async function nextDueWindows(
  ctx: BillingContext,
  stream: Stream,
  now: Date,
  upTo?: string,
): Promise<PlannedWindow[]> {
  const [buyers, last, terms] = await Promise.all([
    billingStore.buyers(ctx.db, stream),
    billingStore.lastInvoices(ctx.db, stream),
    termsOf(ctx),
  ]);
  const out: PlannedWindow[] = [];
  for (const b of buyers) {
    const prev = last.get(`${b.seller}/${b.buyerId}`);
    // The next period closes once the draft before it is finalized: late usage of the draft's
    // days is the draft's, never the next invoice's.
    if (prev?.status === 'draft') continue;
    const next = openWindow(b.seller, b.buyerId, b.since, prev, terms(b.seller, b.buyerId));
    if (next.window.periodEnd.getTime() > now.getTime()) continue;
    if (upTo && comparePeriods(next.period, upTo) > 0) continue;
    out.push(next);
  }
  return out;
}

/** Every buyer's open window, in both streams. */
async function openWindows(ctx: BillingContext): Promise<InvoiceWindow[]> {
  const out: InvoiceWindow[] = [];
  const terms = await termsOf(ctx);
  for (const stream of STREAMS) {
    const [buyers, last] = await Promise.all([
      billingStore.buyers(ctx.db, stream),
      billingStore.lastInvoices(ctx.db, stream),
    ]);
    for (const b of buyers)
      out.push(
        openWindow(b.seller, b.buyerId, b.since, last.get(`${b.seller}/${b.buyerId}`), terms(b.seller, b.buyerId))
          .window,
      );
  }
  return out;
}

const earliest = (dates: Date[]): Date | undefined =>
  dates.reduce<Date | undefined>((min, d) => (!min || d < min ? d : min), undefined);

/** When the earliest open period of any buyer ends: nothing can close before then. */
export async function earliestOpenPeriodEnd(ctx: BillingContext): Promise<Date | undefined> {
  return earliest((await openWindows(ctx)).map((w) => w.periodEnd));
}

/**
 * Where the oldest open period of any buyer starts (a draft's period is still open: late usage of
 * its days lands on it): usage before it could only be billed late.
 */
export async function oldestOpenPeriodStart(ctx: BillingContext): Promise<Date | undefined> {
  const [windows, draftStart] = await Promise.all([openWindows(ctx), billingStore.earliestDraftStart(ctx.db)]);
  return earliest([...windows.map((w) => w.periodStart), ...(draftStart ? [draftStart] : [])]);
}
