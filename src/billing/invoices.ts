import { Decimal } from 'decimal.js';
import type { Principal } from '../core/principal.ts';
import { roundMoney } from '../rating/rating.ts';
import { dailyStore } from '../usage/daily-store.ts';
import { billingErrors, callerPartner, type BillingContext } from './context.ts';
import { callerSellers } from './lifecycle.ts';
import { openWindow, termsOf } from './open-periods.ts';
import { partnerUnbilledStore } from './partner-unbilled.ts';
import { type LineKey, ratedStore } from './rated-store.ts';
import type { UnbilledPosition } from './rules.ts';
import { billingStore, type DailyRatedLine } from './store.ts';
import type { InvoicesTable, Seller, Stream } from './tables.ts';
import { customerInvoiceView, customerLineView } from './views.ts';

// Invoices: which the caller may read, one streamed with all its lines, and the open period's
// unbilled usage (whole, or a page at a time).

/** Customer invoices the caller may read: a partner's to its customers, or a customer's own. */
export async function customerInvoiceScope(
  ctx: BillingContext,
  caller: Principal,
): Promise<{ seller?: Seller; buyerId?: string }> {
  const partner = await callerPartner(ctx, caller);
  return partner ? { seller: partner.tenant_id } : { buyerId: caller.tenantId };
}

/**
 * An invoice the caller may read on the ARM endpoint, by its name: any of its own sales (a
 * partner's to its customers, drafts included; the provider's to partners for the system
 * administrators), or a customer's own finalized ones. 404 otherwise.
 */
export async function readableInvoice(ctx: BillingContext, caller: Principal, name: string): Promise<InvoicesTable> {
  const sellers = await callerSellers(ctx, caller);
  const inv = await billingStore.findInvoice(
    ctx.db,
    name,
    sellers.length > 0 ? { sellers } : { buyerId: caller.tenantId, stream: 'customer', finalOnly: true },
  );
  if (!inv) throw billingErrors.invoiceNotFound(name);
  return inv;
}

/** One buyer's open period and terms. */
async function openPeriodOf(ctx: BillingContext, stream: Stream, seller: Seller, buyerId: string, since: Date) {
  const [last, terms] = await Promise.all([billingStore.lastInvoice(ctx.db, stream, seller, buyerId), termsOf(ctx)]);
  const t = terms(seller, buyerId);
  return { ...openWindow(seller, buyerId, since, last, t), taxRate: t.taxRate };
}

/** The open period of one buyer: what its next invoice holds so far. */
export async function unbilled(ctx: BillingContext, stream: Stream, seller: Seller, buyerId: string, since: Date) {
  const { period, window, taxRate } = await openPeriodOf(ctx, stream, seller, buyerId, since);
  const preview = await ratedStore.previewWindow(ctx.db, stream, window);
  const subtotal = new Decimal(preview.subtotal);
  const tax = roundMoney(subtotal.mul(taxRate).div(100));
  return {
    period,
    window,
    lines: preview.lines,
    subtotal: subtotal.toFixed(2),
    tax: tax.toFixed(2),
    total: subtotal.plus(tax).toFixed(2),
    taxRate,
  };
}

/**
 * What a customer's open period has cost so far, before tax: its usage lines' amounts, in all
 * and per subscription (what budgets watch; credits and adjustments are not spend).
 */
export async function openPeriodSpend(ctx: BillingContext, seller: Seller, customerId: string, since: Date) {
  const open = await unbilled(ctx, 'customer', seller, customerId, since);
  const bySubscription = new Map<string, Decimal>();
  let total = new Decimal(0);
  for (const l of open.lines) {
    if (l.line_type !== 'usage' && l.line_type !== 'late usage') continue;
    total = total.plus(l.amount);
    if (l.subscription_id)
      bySubscription.set(l.subscription_id, (bySubscription.get(l.subscription_id) ?? new Decimal(0)).plus(l.amount));
  }
  return {
    period: open.period,
    periodStart: open.window.periodStart,
    periodEnd: open.window.periodEnd,
    total,
    bySubscription,
  };
}

/**
 * A page of a partner's open period: up to `limit` lines after `from` (its usage lines in invoice
 * order, kept rated as usage arrives, then its credits and adjustments), and where the next page
 * starts when there are more.
 */
export async function unbilledPage(
  ctx: BillingContext,
  stream: 'partner',
  buyer: { seller: Seller; buyerId: string; since: Date },
  from: UnbilledPosition | undefined,
  limit: number,
): Promise<{ lines: DailyRatedLine[]; next?: UnbilledPosition }> {
  const { window } = await openPeriodOf(ctx, stream, buyer.seller, buyer.buyerId, buyer.since);
  // The kept lines and the adjustments' rating both follow usage_daily once folded: one fold a page.
  const folded = await dailyStore.fold(ctx.db);
  const usage =
    !from || 'after' in from
      ? await partnerUnbilledStore.usagePage(ctx.db, folded, window, from?.after ?? null, limit + 1)
      : [];
  if (usage.length > limit) {
    const lines = usage.slice(0, limit);
    return { lines, next: { after: lineKey(lines[limit - 1]) } };
  }
  // the usage ends on this page: credits and adjustments follow
  const afterId = from && 'afterAdjustment' in from ? from.afterAdjustment : '0';
  const adjustments = await ratedStore.previewAdjustmentPage(
    ctx.db,
    folded,
    stream,
    window,
    afterId,
    limit + 1 - usage.length,
  );
  const shown = adjustments.slice(0, limit - usage.length);
  const lines: DailyRatedLine[] = [...usage, ...shown.map(({ adjustment_id: _, ...line }) => line)];
  if (adjustments.length === shown.length) return { lines };
  const last = shown[shown.length - 1];
  return { lines, next: last ? { afterAdjustment: last.adjustment_id } : { after: lineKey(usage[usage.length - 1]) } };
}

const lineKey = (l: DailyRatedLine): LineKey => ({
  subscriptionId: l.subscription_id ?? '',
  meterId: l.meter_id ?? '',
  resourceUri: l.resource_uri ?? '',
  usageDate: l.usage_date ?? '',
  location: l.location ?? '',
  tier: l.tier ?? 0,
});

/** The numbers of the invoices this one refers to: a voided one's replacement, the one a replacement replaces or a credit note corrects. */
export async function invoiceLinks(ctx: BillingContext, inv: InvoicesTable) {
  const [replacedBy, replaces, creditNoteFor] = await Promise.all([
    inv.status === 'voided' ? billingStore.replacementOf(ctx.db, inv.id) : undefined,
    inv.replaces ? billingStore.invoiceById(ctx.db, inv.replaces) : undefined,
    inv.credit_note_for ? billingStore.invoiceById(ctx.db, inv.credit_note_for) : undefined,
  ]);
  return {
    replacedBy: replacedBy?.number ?? undefined,
    replaces: replaces?.number ?? undefined,
    creditNoteFor: creditNoteFor?.number ?? undefined,
  };
}

/** Lines per page of a streamed invoice. */
const DETAIL_BATCH = 5000;

/**
 * One customer invoice with all its lines, as JSON text in pieces: the document, then its lines
 * read in keyset pages (any number of them, memory flat), each page with the names it needs.
 */
export async function* invoiceDetail(ctx: BillingContext, inv: InvoicesTable): AsyncGenerator<string> {
  const [names, subtotals, links] = await Promise.all([
    billingStore.names(ctx.db, [inv.buyer_id]),
    billingStore.subscriptionSubtotals(ctx.db, inv.id),
    invoiceLinks(ctx, inv),
  ]);
  const view = customerInvoiceView(inv, names, links);
  const head = JSON.stringify({ ...view, properties: { ...view.properties, subtotals } });
  // The document without its two closing braces, then `lines`.
  yield `${head.slice(0, -2)},"lines":[`;
  let after = 0;
  let first = true;
  for (;;) {
    const batch = await billingStore.lines(ctx.db, inv.id, after, DETAIL_BATCH);
    if (batch.length === 0) break;
    after = batch[batch.length - 1].line_no;
    const subscriptions = new Set(batch.map((l) => l.subscription_id).filter((id): id is string => !!id));
    const batchNames = await billingStore.names(ctx.db, [...subscriptions]);
    const text = batch.map((l) => JSON.stringify(customerLineView(l, batchNames))).join(',');
    yield first ? text : `,${text}`;
    first = false;
    if (batch.length < DETAIL_BATCH) break;
  }
  yield ']}}';
}
