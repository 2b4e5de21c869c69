import { Decimal } from 'decimal.js';
import type { Principal } from '../core/principal.ts';
import { roundMoney } from '../rating/rating.ts';
import { billingErrors, callerPartner, type BillingContext } from './context.ts';
import { openWindow, termsOf } from './open-periods.ts';
import { billingStore } from './store.ts';
import type { InvoicesTable, Seller, Stream } from './tables.ts';

// Invoices: which the caller may read, and the open period's unbilled usage.

/** Customer invoices the caller may read: a partner's to its customers, or a customer's own. */
export async function customerInvoiceScope(
  ctx: BillingContext,
  caller: Principal,
): Promise<{ seller?: Seller; buyerId?: string }> {
  const partner = await callerPartner(ctx, caller);
  return partner ? { seller: partner.tenant_id } : { buyerId: caller.tenantId };
}

export async function readableInvoice(
  ctx: BillingContext,
  caller: Principal,
  stream: Stream,
  number: string,
): Promise<InvoicesTable> {
  const inv = await billingStore.findInvoice(ctx.db, number);
  if (!inv || inv.stream !== stream) throw billingErrors.invoiceNotFound(number);
  if (stream === 'partner') {
    if (inv.buyer_id !== caller.tenantId) throw billingErrors.invoiceNotFound(number);
  } else {
    const scope = await customerInvoiceScope(ctx, caller);
    if ((scope.seller && inv.seller !== scope.seller) || (scope.buyerId && inv.buyer_id !== scope.buyerId))
      throw billingErrors.invoiceNotFound(number);
  }
  return inv;
}

/** The open period of one buyer: what its next invoice holds so far. */
export async function unbilled(ctx: BillingContext, stream: Stream, seller: Seller, buyerId: string, since: Date) {
  const [last, terms] = await Promise.all([billingStore.lastInvoices(ctx.db, stream), termsOf(ctx)]);
  const t = terms(seller, buyerId);
  const { period, window } = openWindow(seller, buyerId, since, last.get(`${seller}/${buyerId}`), t);
  const marks = await billingStore.currentMarks(ctx.db);
  const preview = await billingStore.previewWindow(ctx.db, stream, window, marks);
  const subtotal = new Decimal(preview.subtotal);
  const tax = roundMoney(subtotal.mul(t.taxRate).div(100));
  return {
    period,
    window,
    lines: preview.lines,
    subtotal: subtotal.toFixed(2),
    tax: tax.toFixed(2),
    total: subtotal.plus(tax).toFixed(2),
    taxRate: t.taxRate,
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
