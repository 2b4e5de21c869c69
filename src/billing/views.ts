import { Decimal } from 'decimal.js';
import { DAY_MS } from '../core/clock.ts';
import { findMeter } from '../core/meters.ts';
import { keptByParent, parseResourceId } from '../core/arm-id.ts';
import { keptByArgument, keptForLast } from '../core/kept.ts';
import type { DependsOn } from './row-runs.ts';
import type { DailyRatedLine, StoredLine } from './store.ts';
import type { InvoicesTable } from './tables.ts';

// Wire shapes of billing: the partner center's invoices and daily-rated usage line items, and our
// own invoices (Stackledger.Billing) from a partner to its customers.

export type Names = Map<string, { name: string; domain: string | null }>;

const dateTime = (d: Date | string) =>
  typeof d === 'string' ? `${d}T00:00:00Z` : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Numbers as the partner center writes them; our amounts are exact decimals, well within a double's digits. */
const num = (s: string | null) => (s === null ? 0 : Number(s));

/**
 * `String(num(text))` for the decimal text the database writes, without the double: a decimal of
 * at most 15 significant digits is the shortest text of its double (doubles keep 15 digits), so
 * JavaScript prints it as written, less the zeros that end its fraction, wherever it prints plain
 * decimals (at least 1e-6 in size). Anything else goes through the double. Exports print millions.
 */
export function numberText(text: string | null): string {
  if (text === null) return '0';
  // Read as [-]integer[.fraction], digits only, the integer without leading zeros (as PostgreSQL writes it).
  const start = text.charCodeAt(0) === 45 ? 1 : 0;
  let dot = -1;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && dot < 0) dot = i;
    else if (c < 48 || c > 57) return String(Number(text));
  }
  const integerEnd = dot < 0 ? text.length : dot;
  const integer = integerEnd - start;
  const zeroInteger = integer === 1 && text.charCodeAt(start) === 48;
  if (integer === 0 || integer > 15 || (integer > 1 && text.charCodeAt(start) === 48) || dot === text.length - 1)
    return String(Number(text));
  let end = text.length;
  if (dot > 0) {
    while (text.charCodeAt(end - 1) === 48) end--;
    if (end === dot + 1) end = dot;
  }
  if (end === integerEnd) return zeroInteger ? '0' : end === text.length ? text : text.slice(0, end);
  let significant = integer + (end - dot - 1);
  if (zeroInteger) {
    let zeros = 0;
    while (text.charCodeAt(dot + 1 + zeros) === 48) zeros++;
    if (zeros > 5) return String(Number(text));
    significant = end - dot - 1 - zeros;
  }
  if (significant > 15) return String(Number(text));
  return end === text.length ? text : text.slice(0, end);
}

/** What the daily-rated item says of a line's resource id: its group and provider namespace (none: ''). */
interface ResourceParts {
  resourceGroup: string;
  consumedService: string;
}

/**
 * The same parts, one object for each (neither holds a '/': each is a segment of an id), so that
 * the object stands for its values: an export keeps the fields' text by it.
 */
const partsObject = keptByArgument((groupAndNamespace: string): ResourceParts => {
  const cut = groupAndNamespace.indexOf('/');
  return { resourceGroup: groupAndNamespace.slice(0, cut), consumedService: groupAndNamespace.slice(cut + 1) };
}, 10_000);

function resourceParts(uri: string | null): ResourceParts {
  const id = uri ? parseResourceId(uri) : undefined;
  return partsObject(`${id?.resourceGroup ?? ''}/${id?.namespace ?? ''}`);
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

/** What a daily-rated line item's fields read beside the line: its invoice's, and the names of its parties. */
export interface RatedLineContext {
  partnerId: string;
  invoiceNumber: string;
  currency: string;
  names: Names;
}

/**
 * A field of the partner center's daily-rated usage line item: its value from a line, and what that
 * value depends on besides the line's invoice and names (`dependsOn`, row-runs.ts: its kind, the
 * line type and meter, only; its kind and one of the line's values; or the line), which an export
 * writes once per kind and value.
 */
export interface DailyRatedField {
  name: string;
  dependsOn: DependsOn<DailyRatedLine>;
  /** Whether a text value may hold what CSV quotes or JSON escapes (what a user names, a resource id, a region): never ids, dates or numbers. */
  quoted: boolean;
  value: (line: DailyRatedLine, ctx: RatedLineContext) => string | number | object;
  /** A number's text as the files print it (`numberText` of the database's; the value is that number). */
  numberText?: (line: DailyRatedLine, ctx: RatedLineContext) => string;
}

const meterOf = (line: DailyRatedLine) => (line.meter_id ? findMeter(line.meter_id) : undefined);
const customerOf = (line: DailyRatedLine, ctx: RatedLineContext) =>
  line.customer_id ? ctx.names.get(line.customer_id) : undefined;
// A line's values that the item says twice (a subscription as its entitlement, a total as its
// pricing total), worked out once a line: kept for the line and context asked last.
const subscriptionName = keptForLast(
  (line: DailyRatedLine, ctx: RatedLineContext) =>
    (line.subscription_id ? ctx.names.get(line.subscription_id)?.name : undefined) ?? '',
);
const usageDate = keptForLast((line: DailyRatedLine) => (line.usage_date ? dateTime(line.usage_date) : ''));
const unitPriceText = keptForLast((line: DailyRatedLine) => numberText(line.unit_price));
const amountText = keptForLast((line: DailyRatedLine) => numberText(line.amount));

/** The last second of a day, as the partner center ends a charge. */
const dayEnd = keptByArgument((date: string) => dateTime(new Date(Date.parse(date) + DAY_MS - 1000)), 5000);
const keptResourceParts = keptByParent(resourceParts);
const partsOf = (line: DailyRatedLine) => keptResourceParts(line.resource_uri ?? '');

// The line's values that fields depend on (with its kind), each of few values in an invoice.
const customer = (line: DailyRatedLine) => line.customer_id;
const day = (line: DailyRatedLine) => line.usage_date;
const subscription = (line: DailyRatedLine) => line.subscription_id;
const region = (line: DailyRatedLine) => line.location;
const unitPrice = (line: DailyRatedLine) => line.unit_price;
const tier = (line: DailyRatedLine) => line.tier;

/** A field the same for every line of a kind: text that may need quotes. */
const kind = (name: string, value: DailyRatedField['value']): DailyRatedField => ({
  name,
  dependsOn: 'kind',
  quoted: true,
  value,
});
/** A field of a line's value (`dependsOn`), or of the line: text that may need quotes. */
const own = (name: string, value: DailyRatedField['value'], dependsOn: DependsOn<DailyRatedLine>): DailyRatedField => ({
  name,
  dependsOn,
  quoted: true,
  value,
});
/** The same, of ids and dates, which never need quotes. */
const plain = (name: string, value: DailyRatedField['value'], dependsOn: DependsOn<DailyRatedLine>) => ({
  ...own(name, value, dependsOn),
  quoted: false,
});
/** A number, from its text as the files print it. */
const number = (
  name: string,
  text: NonNullable<DailyRatedField['numberText']>,
  dependsOn: DependsOn<DailyRatedLine>,
): DailyRatedField => ({
  name,
  dependsOn,
  quoted: false,
  value: (l, c) => Number(text(l, c)),
  numberText: text,
});

/** The daily-rated usage line item's fields, in the vendor's order. */
export const DAILY_RATED_FIELDS: readonly DailyRatedField[] = [
  kind('partnerId', (_, c) => c.partnerId),
  kind('partnerName', (_, c) => c.names.get(c.partnerId)?.name ?? ''),
  plain('customerId', (l) => l.customer_id ?? '', customer),
  own('customerName', (l, c) => customerOf(l, c)?.name ?? '', customer),
  own('customerDomainName', (l, c) => customerOf(l, c)?.domain ?? '', customer),
  kind('customerCountry', () => 'US'),
  kind('invoiceNumber', (_, c) => c.invoiceNumber),
  kind('mpnId', () => ''),
  kind('resellerMpnId', () => ''),
  plain('chargeStartDate', usageDate, day),
  plain('chargeEndDate', (l) => (l.usage_date ? dayEnd(l.usage_date) : ''), day),
  plain('subscriptionId', (l) => l.subscription_id ?? '', subscription),
  own('subscriptionDescription', subscriptionName, subscription),
  plain('entitlementId', (l) => l.subscription_id ?? '', subscription),
  own('entitlementDescription', subscriptionName, subscription),
  kind('productName', () => 'Azure Stack Hub'),
  kind('skuName', (l) => meterOf(l)?.category ?? ''),
  kind('publisherName', () => 'Stackledger'),
  kind('publisherId', () => ''),
  plain('usageDate', usageDate, day),
  kind('meterType', () => 'Consumption'),
  kind('meterCategory', (l) => meterOf(l)?.category ?? ''),
  kind('meterId', (l) => l.meter_id ?? ''),
  kind('meterSubCategory', (l) => meterOf(l)?.subcategory ?? ''),
  kind('meterName', (l) => meterOf(l)?.name ?? l.meter_id ?? ''),
  own('meterRegion', (l) => l.location ?? '', region),
  kind('unitOfMeasure', (l) => meterOf(l)?.unit ?? ''),
  own('resourceLocation', (l) => l.location ?? '', region),
  own('consumedService', (l) => partsOf(l).consumedService, partsOf),
  own('resourceGroup', (l) => partsOf(l).resourceGroup, partsOf),
  own('resourceUri', (l) => l.resource_uri ?? '', 'line'),
  kind('chargeType', (l) => (l.line_type === 'late usage' ? 'Late usage' : 'Usage')),
  number('unitPrice', unitPriceText, unitPrice),
  number('quantity', (l) => numberText(l.quantity), 'line'),
  kind('unitType', (l) => meterOf(l)?.unit ?? ''),
  number('billingPreTaxTotal', amountText, 'line'),
  kind('billingCurrency', (_, c) => c.currency),
  number('pricingPreTaxTotal', amountText, 'line'),
  kind('pricingCurrency', (_, c) => c.currency),
  number('effectiveUnitPrice', unitPriceText, unitPrice),
  kind('pcToBCExchangeRate', () => 1),
  plain('tier', (l) => l.tier ?? 1, tier),
  kind('invoiceLineItemType', () => 'usage_line_items'),
  kind('billingProvider', () => 'one_time'),
  kind('attributes', () => ({ objectType: 'DailyRatedUsageLineItem' })),
];

/** A daily-rated usage line item of the partner center. */
export function dailyRatedLineView(line: DailyRatedLine, ctx: RatedLineContext): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const f of DAILY_RATED_FIELDS) view[f.name] = f.value(line, ctx);
  return view;
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
