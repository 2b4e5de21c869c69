import { Decimal } from 'decimal.js';
import type { Principal } from '../core/principal.ts';
import { roundMoney } from '../rating/rating.ts';
import { dailyStore } from '../usage/daily-store.ts';
import { billingErrors, callerPartner, type BillingContext } from './context.ts';
import { callerSellers } from './lifecycle.ts';
import { openWindow, termsOf } from './open-periods.ts';
import { partnerUnbilledStore } from './partner-unbilled.ts';
import { type InvoiceWindow, type LineKey, type PreviewSums, ratedStore } from './rated-store.ts';
import type { UnbilledPosition } from './rules.ts';
import { billingStore, type DailyRatedLine, type StoredLine } from './store.ts';
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

/** An open period's subtotal (all its lines), tax and total, from its sums. */
function openTotals(sums: PreviewSums, taxRate: string) {
  const subtotal = sums.reduce((sum, s) => sum.plus(s.amount), new Decimal(0));
  const tax = roundMoney(subtotal.mul(taxRate).div(100));
  return { subtotal: subtotal.toFixed(2), tax: tax.toFixed(2), total: subtotal.plus(tax).toFixed(2) };
}

/**
 * A customer's open period as the invoice it would be if it closed now, as JSON text in pieces:
 * the document with its totals and per-subscription subtotals, then its lines a batch at a time
 * from one snapshot (any number of them, memory flat), each batch with the names it needs.
 */
export async function* unbilledDetail(
  ctx: BillingContext,
  customer: { id: string; partner_tenant_id: string; created_at: Date },
): AsyncGenerator<string> {
  const { period, window, taxRate } = await openPeriodOf(
    ctx,
    'customer',
    customer.partner_tenant_id,
    customer.id,
    customer.created_at,
  );
  const now = ctx.clock.now();
  let first = true;
  for await (const part of ratedStore.previewStream(ctx.pool, ctx.db, 'customer', window)) {
    if ('sums' in part) {
      const names = await billingStore.names(ctx.db, [customer.id]);
      const view = customerInvoiceView(
        openInvoiceRow(window, period, taxRate, openTotals(part.sums, taxRate), now, customer.partner_tenant_id),
        names,
      );
      const subtotals = part.sums.map((s) => ({
        subscriptionId: s.subscriptionId,
        amount: new Decimal(s.amount).toFixed(2),
      }));
      const head = JSON.stringify({
        ...view,
        id: '/providers/Stackledger.Billing/invoices/unbilled',
        properties: { ...view.properties, invoiceNumber: null, status: 'Open', subtotals },
      });
      // The document without its two closing braces, then `lines`.
      yield `${head.slice(0, -2)},"lines":[`;
      continue;
    }
    const text = await linesText(ctx, part.lines);
    yield first ? text : `,${text}`;
    first = false;
  }
  yield ']}}';
}

/** The open period as an invoice row: what its views show of an invoice not written yet. */
function openInvoiceRow(
  window: InvoiceWindow,
  period: string,
  taxRate: string,
  totals: { subtotal: string; tax: string; total: string },
  now: Date,
  seller: Seller,
): InvoicesTable {
  return {
    id: window.invoiceId,
    number: null,
    status: 'finalized',
    draft_name: 'unbilled',
    name: 'unbilled',
    finalize_after: null,
    replaces: null,
    void_reason: null,
    voided_at: null,
    voided_by: null,
    billed_recorded: true,
    billed_in_lines: false,
    stream: 'customer',
    kind: 'invoice',
    seller,
    buyer_id: window.buyerId,
    period,
    period_start: window.periodStart,
    period_end: window.periodEnd,
    watermark: '0',
    adjustment_watermark: '0',
    invoice_date: now,
    currency: 'USD',
    ...totals,
    tax_rate: taxRate,
    credit_note_for: null,
    created_at: now,
  };
}

/**
 * What a customer's open period has cost so far, before tax: its usage lines' amounts, in all
 * and per subscription (what budgets watch; credits and adjustments are not spend), summed by
 * the database.
 */
export async function openPeriodSpend(ctx: BillingContext, seller: Seller, customerId: string, since: Date) {
  const { period, window } = await openPeriodOf(ctx, 'customer', seller, customerId, since);
  const sums = await ratedStore.previewSums(ctx.db, 'customer', window);
  const bySubscription = new Map<string, Decimal>();
  let total = new Decimal(0);
  for (const s of sums) {
    total = total.plus(s.usage);
    if (s.subscriptionId) bySubscription.set(s.subscriptionId, new Decimal(s.usage));
  }
  return { period, periodStart: window.periodStart, periodEnd: window.periodEnd, total, bySubscription };
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

/** A batch of an invoice's lines as the JSON of its `lines` array's items, with the names they need. */
async function linesText(ctx: BillingContext, lines: StoredLine[]): Promise<string> {
  const subscriptions = new Set(lines.map((l) => l.subscription_id).filter((id): id is string => !!id));
  const names = await billingStore.names(ctx.db, [...subscriptions]);
  return lines.map((l) => JSON.stringify(customerLineView(l, names))).join(',');
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
    const text = await linesText(ctx, batch);
    yield first ? text : `,${text}`;
    first = false;
    if (batch.length < DETAIL_BATCH) break;
  }
  yield ']}}';
}
