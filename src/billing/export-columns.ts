import { parseResourceId, resourceTypeOf, splitSegments } from '../core/arm-id.ts';
import { METERS, type Meter } from '../core/meters.ts';
import type { StoredLine } from './store.ts';
import { customerLineView, dailyRatedLineView, type Names } from './views.ts';
import { exactProduct, sameDecimal } from './exact-product.ts';

// The exports' rows, each made from one invoice line as the database stores it (its columns as
// text, read by exports.ts), its invoice and the names it looks up. The partner center's files
// and the JSON export are the API's own views of a line (views.ts); FOCUS's columns are written
// here. Each value is written as the files have always had it: text, or a number as JavaScript
// prints it.

/** The partner center's reconciliation columns, each from the daily-rated line item field of the same name. */
export const RECON_COLUMNS = [
  'PartnerId',
  'PartnerName',
  'CustomerId',
  'CustomerName',
  'CustomerDomainName',
  'CustomerCountry',
  'InvoiceNumber',
  'MpnId',
  'ResellerMpnId',
  'ChargeStartDate',
  'ChargeEndDate',
  'UsageDate',
  'ProductName',
  'SkuName',
  'PublisherName',
  'PublisherId',
  'SubscriptionId',
  'SubscriptionDescription',
  'EntitlementId',
  'EntitlementDescription',
  'MeterType',
  'MeterCategory',
  'MeterId',
  'MeterSubCategory',
  'MeterName',
  'MeterRegion',
  'UnitOfMeasure',
  'ResourceLocation',
  'ConsumedService',
  'ResourceGroup',
  'ResourceUri',
  'ChargeType',
  'UnitPrice',
  'Quantity',
  'UnitType',
  'BillingPreTaxTotal',
  'BillingCurrency',
  'PricingPreTaxTotal',
  'PricingCurrency',
  'EffectiveUnitPrice',
  'PCToBCExchangeRate',
] as const;

/** An invoice as its export's rows repeat it. */
export interface ExportInvoice {
  id: string;
  number: string;
  stream: 'partner' | 'customer';
  buyerId: string;
  buyerName: string | null;
  currency: string;
  /** The period's bounds, as FOCUS writes a date-time. */
  periodStart: string;
  periodEnd: string;
  /** A credit note, or the invoice that replaces a voided one: its rows correct a period already invoiced. */
  corrects: boolean;
  issuerName: string;
}

/**
 * A row of an export: an invoice line, or (FOCUS only) the invoice's tax as a line of type `tax`
 * with the list and contracted costs the tax is levied on.
 */
export type ExportLine = Omit<StoredLine, 'line_type'> & {
  line_type: StoredLine['line_type'] | 'tax';
  tax?: { listCost: string; contractedCost: string };
};

/** A line of nothing: what a row that is not a line (FOCUS's tax row) starts from. */
export const NO_LINE: ExportLine = {
  invoice_id: '',
  line_no: 0,
  line_type: 'tax',
  customer_id: null,
  subscription_id: null,
  meter_id: null,
  resource_uri: null,
  location: null,
  usage_date: null,
  usage_to: null,
  tier: null,
  quantity: null,
  unit_price: null,
  list_unit_price: null,
  amount: '0',
  description: null,
  reason: null,
  created_by: null,
};

/** What a row is made from. */
export interface RowInput {
  line: ExportLine;
  invoice: ExportInvoice;
  names: Names;
}

/** FOCUS's service of a meter's category (usage lines only). */
const FOCUS_SERVICE: Record<string, { category: string; name: string; subcategory: string }> = {
  'Virtual Machines': { category: 'Compute', name: 'Virtual Machines', subcategory: 'Virtual Machines' },
  Storage: { category: 'Storage', name: 'Storage Accounts', subcategory: 'Storage Platforms' },
  'Managed Disk': { category: 'Storage', name: 'Managed Disks', subcategory: 'Block Storage' },
  Networking: { category: 'Networking', name: 'Public IP Addresses', subcategory: 'Network Connectivity' },
};

/** FOCUS's service of a meter (usage lines only), by meter id. */
const FOCUS_METERS = new Map<string, Meter & { service: { category: string; name: string; subcategory: string } }>(
  Object.values(METERS).map((m: Meter) => {
    const service = FOCUS_SERVICE[m.category] ?? { category: 'Other', name: m.category, subcategory: 'Other (Other)' };
    return [m.id, { ...m, service }];
  }),
);

/** What several FOCUS columns of a row write alike, worked out once per row. */
export function focusShared({ line, invoice, names }: RowInput) {
  const meter = line.meter_id === null ? undefined : FOCUS_METERS.get(line.meter_id);
  const usage = line.line_type === 'usage' || line.line_type === 'late usage';
  const contractedCost =
    line.quantity === null || line.unit_price === null ? null : exactProduct(line.quantity, line.unit_price);
  return {
    line,
    invoice,
    names,
    meter,
    usage,
    late: line.line_type === 'late usage',
    meterName: meter?.name ?? line.meter_id,
    usageDay: line.usage_date === null ? null : `${line.usage_date}T00:00:00Z`,
    contractedCost,
    unit: meter?.unit ?? 'Units',
  };
}
type FocusRow = ReturnType<typeof focusShared>;

const DAYS_AFTER = new Map<string, string>();
/** The day after a date ('YYYY-MM-DD'), at midnight UTC (kept: an export's lines have a few dates between them). */
function dayAfter(date: string): string {
  let after = DAYS_AFTER.get(date);
  if (after === undefined) {
    after = `${new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)}T00:00:00Z`;
    if (DAYS_AFTER.size > 10_000) DAYS_AFTER.clear();
    DAYS_AFTER.set(date, after);
  }
  return after;
}

/** A usage line's cost at its list price: the billed cost when the list price is the same (or was not kept). */
function listCost(r: FocusRow): string | null {
  const { quantity, unit_price: price, list_unit_price: list } = r.line;
  if (list === null || quantity === null || (price !== null && sameDecimal(list, price))) return r.contractedCost;
  return exactProduct(quantity, list);
}

const onUsage = (r: FocusRow, value: string | null) => (r.usage ? value : null);
const TYPES_BY_PARENT = new Map<string, string | null>();
/**
 * The ARM type of a resource id (`resourceTypeOf`), none for an id that is not a resource's. Kept
 * by the id's parent (all but its last segment) once the parent has six segments or more: then the
 * last segment is a resource's name, or one too many, and its value changes nothing.
 */
function resourceType(uri: string | null): string | null {
  if (uri === null) return null;
  const cut = uri.lastIndexOf('/');
  const parent = cut > 0 && cut < uri.length - 1 ? uri.slice(0, cut) : undefined;
  const kept = parent === undefined ? undefined : TYPES_BY_PARENT.get(parent);
  if (kept !== undefined) return kept;
  const id = parseResourceId(uri);
  const type = id ? resourceTypeOf(id) : null;
  if (parent !== undefined && splitSegments(parent).length >= 6) {
    if (TYPES_BY_PARENT.size > 10_000) TYPES_BY_PARENT.clear();
    TYPES_BY_PARENT.set(parent, type);
  }
  return type;
}

// FOCUS's charge kinds over our lines: usage and late usage (usage of a closed period) are Usage,
// credits Credit, the invoice's tax (a row of its own, see exports.ts) Tax, adjustments
// Adjustment. A row corrects a period already invoiced (ChargeClass 'Correction') when it is
// late usage, or on an invoice that corrects (a credit note, which corrects a closed invoice, or
// the invoice that replaces a voided one, which bills the voided invoice's period again, after
// the credit note took it back).

/**
 * FOCUS 1.2: the 21 mandatory columns, then the conditional ones that apply (a provider of
 * priced, metered, regional resources in subscriptions, with two kinds of billing account) and the
 * recommended ones we can fill. BilledCost and EffectiveCost are the line as billed (no
 * amortization: nothing is prepaid); ContractedCost is the quantity at the price the buyer
 * agreed (the billed unit price, overrides applied); ListCost the quantity at the list sheet's
 * (the billed unit price on lines closed before list prices were kept). A credit's or
 * adjustment's costs are its amount; the tax row's are the invoice's rate on the invoice's own
 * costs of that kind.
 */
export function focusColumns(r: FocusRow) {
  return {
    BilledCost: r.line.amount,
    BillingAccountId: r.invoice.buyerId,
    BillingAccountName: r.invoice.buyerName,
    BillingCurrency: r.invoice.currency,
    BillingPeriodEnd: r.invoice.periodEnd,
    BillingPeriodStart: r.invoice.periodStart,
    ChargeCategory: r.usage
      ? 'Usage'
      : r.line.line_type === 'credit'
        ? 'Credit'
        : r.line.line_type === 'tax'
          ? 'Tax'
          : 'Adjustment',
    ChargeClass: r.invoice.corrects || r.late ? 'Correction' : null,
    ChargeDescription: r.usage
      ? r.meterName === null
        ? null
        : `${r.meterName}${r.late ? ' (late usage)' : ''}${r.line.description === null ? '' : `. ${r.line.description}`}`
      : (r.line.description ?? r.line.line_type),
    ChargePeriodEnd: r.line.usage_date === null ? r.invoice.periodEnd : dayAfter(r.line.usage_to ?? r.line.usage_date),
    ChargePeriodStart: r.usageDay ?? r.invoice.periodStart,
    ContractedCost: r.usage ? r.contractedCost : (r.line.tax?.contractedCost ?? r.line.amount),
    EffectiveCost: r.line.amount,
    InvoiceIssuerName: r.invoice.issuerName,
    ListCost: r.usage ? listCost(r) : (r.line.tax?.listCost ?? r.line.amount),
    PricingQuantity: onUsage(r, r.line.quantity),
    // A meter we do not know still has a unit, 'Units' (PricingUnit is never null beside a quantity).
    PricingUnit: onUsage(r, r.unit),
    ProviderName: 'Stackledger',
    PublisherName: 'Stackledger',
    ServiceCategory: r.usage ? (r.meter?.service.category ?? 'Other') : 'Other',
    ServiceName: r.usage ? (r.meter?.service.name ?? 'Other') : 'Billing',
    BillingAccountType: r.invoice.stream === 'partner' ? 'Partner' : 'Customer',
    ChargeFrequency: r.usage ? 'Usage-Based' : 'One-Time',
    ConsumedQuantity: onUsage(r, r.line.quantity),
    ConsumedUnit: onUsage(r, r.unit),
    ContractedUnitPrice: onUsage(r, r.line.unit_price),
    InvoiceId: r.invoice.number,
    ListUnitPrice: onUsage(r, r.line.list_unit_price ?? r.line.unit_price),
    RegionId: r.line.location,
    RegionName: r.line.location,
    ResourceId: r.line.resource_uri,
    // The last segment of the resource id.
    ResourceName:
      r.line.resource_uri === null ? null : r.line.resource_uri.slice(r.line.resource_uri.lastIndexOf('/') + 1),
    // The resource's ARM type (`resourceTypeOf`); none for an id that is not a resource's.
    ResourceType: resourceType(r.line.resource_uri),
    ServiceSubcategory: r.usage ? (r.meter?.service.subcategory ?? 'Other (Other)') : 'Other (Other)',
    SkuId: r.line.meter_id,
    SkuMeter: r.line.meter_id === null ? null : r.meterName,
    // A meter's price on the list sheet is one SKU price: its id is the meter's.
    SkuPriceId: r.line.meter_id,
    SubAccountId: r.line.subscription_id,
    SubAccountName: r.line.subscription_id === null ? null : (r.names.get(r.line.subscription_id)?.name ?? null),
  };
}

/** An invoice of nothing (to list the columns a row has). */
export const NO_INVOICE: ExportInvoice = {
  id: '',
  number: '',
  stream: 'partner',
  buyerId: '',
  buyerName: null,
  currency: '',
  periodStart: '',
  periodEnd: '',
  corrects: false,
  issuerName: '',
};
const NO_USAGE = { ...NO_LINE, line_type: 'usage' } as const;

/** FOCUS's columns, in the file's order. */
export const FOCUS_COLUMN_NAMES = Object.keys(
  focusColumns(focusShared({ line: NO_USAGE, invoice: NO_INVOICE, names: new Map() })),
);

/** The FOCUS version the export follows. */
export const FOCUS_VERSION = '1.2';

/** Each FOCUS column's type, as the schema metadata names it. */
const FOCUS_DECIMALS = new Set([
  'BilledCost',
  'ContractedCost',
  'EffectiveCost',
  'ListCost',
  'PricingQuantity',
  'ConsumedQuantity',
  'ContractedUnitPrice',
  'ListUnitPrice',
]);
const FOCUS_DATES = new Set(['BillingPeriodEnd', 'BillingPeriodStart', 'ChargePeriodEnd', 'ChargePeriodStart']);
export const FOCUS_COLUMN_TYPES: Record<string, 'DECIMAL' | 'DATETIME' | 'STRING'> = Object.fromEntries(
  FOCUS_COLUMN_NAMES.map((c) => [c, FOCUS_DECIMALS.has(c) ? 'DECIMAL' : FOCUS_DATES.has(c) ? 'DATETIME' : 'STRING']),
);

/** A value as a CSV field: quoted when it holds a comma, a quote or a line break (as COPY's CSV does); absent when null or ''. */
export function csvField(value: string | null): string {
  if (value === null) return '';
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
const NEEDS_QUOTES = /[",\n\r]/;

/** A number as JavaScript prints it, text as it is ('' is absent). */
const reconField = (value: unknown) => (typeof value === 'number' ? String(value) : csvField(value as string));

/** Which of the daily-rated view's fields each reconciliation column is. */
const DAILY_RATED_FIELDS = Object.keys(
  dailyRatedLineView(NO_USAGE, { partnerId: '', invoiceNumber: '', currency: '', names: new Map() }),
) as (keyof ReturnType<typeof dailyRatedLineView>)[];
const RECON_FIELDS = RECON_COLUMNS.map((c) => {
  const field = DAILY_RATED_FIELDS.find((f) => f.toLowerCase() === c.toLowerCase());
  if (!field) throw new Error(`no daily-rated field for the reconciliation column ${c}`);
  return field;
});

const dailyRated = ({ line, invoice, names }: RowInput) =>
  dailyRatedLineView(line as StoredLine, {
    partnerId: invoice.buyerId,
    invoiceNumber: invoice.number,
    currency: invoice.currency,
    names,
  });

/** The export formats: each one's first line (CSV's header) and its row of a line, each ending in a newline. */
export const ROW_FORMATS = {
  focus: {
    header: `${FOCUS_COLUMN_NAMES.join(',')}\n`,
    row(input: RowInput): string {
      const values: (string | null)[] = Object.values(focusColumns(focusShared(input)));
      for (let c = 0; c < values.length; c++) if (!FOCUS_PLAIN[c]) values[c] = csvField(values[c]);
      return `${values.join(',')}\n`;
    },
  },
  recon: {
    header: `${RECON_COLUMNS.join(',')}\n`,
    row(input: RowInput): string {
      const view = dailyRated(input);
      return `${RECON_FIELDS.map((f) => reconField(view[f])).join(',')}\n`;
    },
  },
  /** The API's line items, one JSON object a line (`jsonArray` in exports.ts makes them an array). */
  json: {
    header: '',
    row(input: RowInput): string {
      const { line, invoice, names } = input;
      const view =
        invoice.stream === 'partner'
          ? dailyRated(input)
          : {
              invoiceNumber: invoice.number,
              customerId: invoice.buyerId,
              ...customerLineView(line as StoredLine, names),
            };
      return `${JSON.stringify(view)}\n`;
    },
  },
} as const;
/**
 * The FOCUS columns whose values are never quoted: numbers, ids, dates and our own words (what a
 * user names, a resource id or a region, is looked at).
 */
const FOCUS_PLAIN = FOCUS_COLUMN_NAMES.map(
  (c) =>
    FOCUS_COLUMN_TYPES[c] !== 'STRING' ||
    [
      'BillingAccountId',
      'BillingCurrency',
      'ChargeCategory',
      'ChargeClass',
      'ProviderName',
      'PublisherName',
      'ServiceCategory',
      'ServiceName',
      'BillingAccountType',
      'ChargeFrequency',
      'InvoiceId',
      'ServiceSubcategory',
      'SkuId',
      'SkuPriceId',
      'SubAccountId',
    ].includes(c),
);
