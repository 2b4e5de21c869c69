import { Decimal } from 'decimal.js';
import { DAY_MS } from '../core/clock.ts';
import { findMeter } from '../core/meters.ts';
import { parseResourceId } from '../core/arm-id.ts';
import type { DailyRatedLine, StoredLine } from './store.ts';
import type { InvoicesTable } from './tables.ts';

// Wire shapes of billing: the partner center's invoices and daily-rated usage line items, and our
// own invoices (Stackledger.Billing) from a partner to its customers.

export type Names = Map<string, { name: string; domain: string | null }>;

const dateTime = (d: Date | string) =>
  typeof d === 'string' ? `${d}T00:00:00Z` : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Numbers as the partner center writes them; our amounts are exact decimals, well within a double's digits. */
const num = (s: string | null) => (s === null ? 0 : Number(s));

function resourceParts(uri: string | null) {
  const id = uri ? parseResourceId(uri) : undefined;
  return { resourceGroup: id?.resourceGroup ?? '', consumedService: id?.namespace ?? '' };
}

/** A partner-center invoice: finalized (or voided) ones only; the vendor shows no drafts. */
export function partnerInvoiceView(inv: InvoicesTable) {
  const lineItems = `/invoices/${inv.name}/lineitems?provider=onetime&invoicelineitemtype=usagelineitems`;
  return {
    id: inv.name,
    invoiceDate: dateTime(inv.invoice_date),
    billingPeriodStartDate: dateTime(inv.period_start),
    // The partner center names the last day of the period; our periods end (exclusive) a day later.
    billingPeriodEndDate: dateTime(new Date(inv.period_end.getTime() - DAY_MS)),
    totalCharges: num(inv.total),
    paidAmount: 0,
    currencyCode: inv.currency,
    currencySymbol: inv.currency === 'USD' ? '$' : inv.currency,
    invoiceType: 'Recurring',
    documentType: inv.kind === 'invoice' ? 'Invoice' : 'CreditNote',
    amendments: [],
    invoiceDetails: [
      {
        invoiceLineItemType: 'usage_line_items',
        billingProvider: 'one_time',
        links: { self: { uri: lineItems, method: 'GET', headers: [] } },
        attributes: { objectType: 'InvoiceDetail' },
      },
    ],
    links: { self: { uri: `/invoices/${inv.name}`, method: 'GET', headers: [] } },
    attributes: { objectType: 'Invoice' },
  };
}

/** A daily-rated usage line item of the partner center. */
export function dailyRatedLineView(
  line: DailyRatedLine,
  ctx: { partnerId: string; invoiceNumber: string; currency: string; names: Names },
) {
  const meter = line.meter_id ? findMeter(line.meter_id) : undefined;
  const customer = line.customer_id ? ctx.names.get(line.customer_id) : undefined;
  const partner = ctx.names.get(ctx.partnerId);
  const subscription = line.subscription_id ? ctx.names.get(line.subscription_id) : undefined;
  const { resourceGroup, consumedService } = resourceParts(line.resource_uri);
  const usageDate = line.usage_date ? dateTime(line.usage_date) : '';
  return {
    partnerId: ctx.partnerId,
    partnerName: partner?.name ?? '',
    customerId: line.customer_id ?? '',
    customerName: customer?.name ?? '',
    customerDomainName: customer?.domain ?? '',
    customerCountry: 'US',
    invoiceNumber: ctx.invoiceNumber,
    mpnId: '',
    resellerMpnId: '',
    chargeStartDate: usageDate,
    chargeEndDate: line.usage_date ? dateTime(new Date(Date.parse(usageDate) + DAY_MS - 1000)) : '',
    subscriptionId: line.subscription_id ?? '',
    subscriptionDescription: subscription?.name ?? '',
    entitlementId: line.subscription_id ?? '',
    entitlementDescription: subscription?.name ?? '',
    productName: 'Azure Stack Hub',
    skuName: meter?.category ?? '',
    publisherName: 'Stackledger',
    publisherId: '',
    usageDate,
    meterType: 'Consumption',
    meterCategory: meter?.category ?? '',
    meterId: line.meter_id ?? '',
    meterSubCategory: meter?.subcategory ?? '',
    meterName: meter?.name ?? line.meter_id ?? '',
    meterRegion: line.location ?? '',
    unitOfMeasure: meter?.unit ?? '',
    resourceLocation: line.location ?? '',
    consumedService,
    resourceGroup,
    resourceUri: line.resource_uri ?? '',
    chargeType: line.line_type === 'late usage' ? 'Late usage' : 'Usage',
    unitPrice: num(line.unit_price),
    quantity: num(line.quantity),
    unitType: meter?.unit ?? '',
    billingPreTaxTotal: num(line.amount),
    billingCurrency: ctx.currency,
    pricingPreTaxTotal: num(line.amount),
    pricingCurrency: ctx.currency,
    effectiveUnitPrice: num(line.unit_price),
    pcToBCExchangeRate: 1,
    tier: line.tier ?? 1,
    invoiceLineItemType: 'usage_line_items',
    billingProvider: 'one_time',
    attributes: { objectType: 'DailyRatedUsageLineItem' },
  };
}

const STATUS = { draft: 'Draft', finalized: 'Finalized', voided: 'Voided' } as const;

/** One line of a partner's invoice to a customer. */
export function customerLineView(line: StoredLine, names: Names) {
  const meter = line.meter_id ? findMeter(line.meter_id) : undefined;
  return {
    lineNumber: line.line_no,
    lineType: line.line_type,
    late: line.line_type === 'late usage',
    subscriptionId: line.subscription_id,
    subscriptionName: line.subscription_id ? (names.get(line.subscription_id)?.name ?? null) : null,
    meterId: line.meter_id,
    meterName: meter?.name ?? line.meter_id,
    unit: meter?.unit ?? null,
    resourceUri: line.resource_uri,
    location: line.location,
    usageDate: line.usage_date,
    usageTo: line.usage_to,
    tier: line.tier,
    quantity: line.quantity,
    unitPrice: line.unit_price,
    amount: line.amount,
    description: line.description,
    reason: line.reason,
    createdBy: line.created_by,
  };
}

export function customerInvoiceView(
  inv: InvoicesTable,
  names: Names,
  extra: { creditNoteFor?: string; replaces?: string; replacedBy?: string; lines?: StoredLine[] } = {},
) {
  return {
    id: `/providers/Stackledger.Billing/invoices/${inv.name}`,
    name: inv.name,
    type: 'Stackledger.Billing/invoices',
    properties: {
      invoiceNumber: inv.number,
      kind: inv.kind === 'invoice' ? 'invoice' : 'creditNote',
      status: STATUS[inv.status],
      ...(inv.status === 'draft' ? { finalizeAfter: inv.finalize_after?.toISOString() ?? null } : {}),
      ...(inv.status === 'voided'
        ? { voidReason: inv.void_reason, voidedAt: inv.voided_at?.toISOString() ?? null, voidedBy: inv.voided_by }
        : {}),
      ...(extra.replaces ? { replaces: extra.replaces } : {}),
      ...(extra.replacedBy ? { replacedBy: extra.replacedBy } : {}),
      sellerId: inv.seller,
      customerId: inv.buyer_id,
      customerName: names.get(inv.buyer_id)?.name ?? null,
      period: inv.period,
      periodStart: inv.period_start.toISOString(),
      periodEnd: inv.period_end.toISOString(),
      invoiceDate: inv.invoice_date.toISOString(),
      currency: inv.currency,
      subtotal: inv.subtotal,
      taxRate: inv.tax_rate,
      tax: inv.tax,
      total: inv.total,
      ...(extra.creditNoteFor ? { creditNoteFor: extra.creditNoteFor } : {}),
      ...(extra.lines
        ? {
            lines: extra.lines.map((l) => customerLineView(l, names)),
            subtotals: subscriptionSubtotals(extra.lines),
          }
        : {}),
    },
  };
}

/** Per subscription, the sum of its lines' amounts. */
function subscriptionSubtotals(lines: StoredLine[]) {
  const sums = new Map<string, Decimal>();
  for (const l of lines)
    sums.set(l.subscription_id ?? '', (sums.get(l.subscription_id ?? '') ?? new Decimal(0)).plus(l.amount));
  return [...sums].map(([subscriptionId, sum]) => ({ subscriptionId: subscriptionId || null, amount: sum.toFixed(2) }));
}
