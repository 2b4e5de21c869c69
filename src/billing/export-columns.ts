import { createHash } from 'node:crypto';
import { METERS } from '../core/meters.ts';

// The exports' columns, each an SQL expression over one invoice line `l` (with what it looks up:
// its meter's `meter_*` and its customer's and subscription's names), its invoice `i` (with what
// is the same on every line already written: its period's bounds, its buyer's and seller's names)
// and what several columns of the line share, computed once per line (`x`; see `exportSelect` in
// exports.ts); what they write of the resource id, the line keeps (`resource_parts`, billing's
// migrations 0650 and 0680). Each value is written as the partner center's and FOCUS's files have
// always had it: text, or a number as JavaScript prints it.

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

/**
 * A value of a column: text (null when absent; `filled` when it is never empty, so the CSV need not
 * turn '' into absent), a number, a boolean, or JSON text as it is.
 */
export type Column = { text: string; filled?: true } | { number: string } | { boolean: string } | { json: string };

const text = (sql: string): Column => ({ text: sql });
/** Text that is never '' (an id, a date, a number, a word of ours): written as it is. */
const filled = (sql: string): Column => ({ text: sql, filled: true });
const constant = (value: string): Column => (value === '' ? text("''::text") : filled(`'${value}'::text`));
/** A date (ISO DateStyle, set by the export) at a time of its day, UTC. */
const day = (date: string, time: string) => `(${date})::text || 'T${time}Z'`;

/**
 * A numeric as JavaScript's `Number(text)` prints it: PostgreSQL's float8 text has the same
 * shortest digits, but writes exponents where JavaScript does not (from 1e-4 down to 1e-6, and
 * from 1e15); a numeric of 9 decimals has at most 5 significant digits below 1e-4, so its own
 * text (trailing zeros trimmed) is exact there, and below 1e-6 it is written as JavaScript does
 * (`5e-7`). Absent is 0, as the partner center's numbers are.
 */
export function jsNumber(x: string): string {
  const digits = `substr(trim_scale(abs(${x}))::text, 3)`;
  const significant = `ltrim(${digits}, '0')`;
  return `case
    when ${x} is null or ${x} = 0 then '0'
    when abs(${x}) >= 1e-4 and abs(${x}) < 1e15 then ${x}::float8::text
    when abs(${x}) >= 1e-6 then trim_scale(${x})::text
    else (case when ${x} < 0 then '-' else '' end) || left(${significant}, 1)
      || (case when length(${significant}) > 1 then '.' || substr(${significant}, 2) else '' end)
      || 'e-' || (length(${digits}) - length(${significant}) + 1)::text
  end`;
}

/**
 * What several columns of a line write alike, computed once per line (exportSelect's lateral `x`;
 * the columns a format does not read are not computed).
 */
export const LINE_SHARED: Record<string, string> = {
  usage: `l.line_type in ('usage', 'late usage')`,
  late: `l.line_type = 'late usage'`,
  amount: 'l.amount::text',
  quantity: 'l.quantity::text',
  meter: 'l.meter_id::text',
  usage_day: day('l.usage_date', '00:00:00'),
  /** A usage line's cost at its billed unit price: quantity × price, exact (trailing zeros trimmed). */
  contracted_cost: 'trim_scale(l.quantity * l.unit_price)::text',
};

const usage = 'x.usage';
const usageDate = 'x.usage_day';

/** The fields of the partner center's daily-rated usage line item, in its order (`dailyRatedLineView`). */
export const DAILY_RATED_FIELDS: Record<string, Column> = {
  partnerId: text('i.buyer_text'),
  partnerName: text(`coalesce(i.buyer_name, '')`),
  customerId: text(`coalesce(l.customer_id::text, '')`),
  customerName: text(`coalesce(l.customer_name, '')`),
  customerDomainName: text(`coalesce(l.customer_domain, '')`),
  customerCountry: constant('US'),
  invoiceNumber: text('i.number'),
  mpnId: constant(''),
  resellerMpnId: constant(''),
  chargeStartDate: text(`coalesce(${usageDate}, '')`),
  chargeEndDate: text(`coalesce(${day('l.usage_date', '23:59:59')}, '')`),
  subscriptionId: text(`coalesce(l.subscription_id::text, '')`),
  subscriptionDescription: text(`coalesce(l.subscription_name, '')`),
  entitlementId: text(`coalesce(l.subscription_id::text, '')`),
  entitlementDescription: text(`coalesce(l.subscription_name, '')`),
  productName: constant('Azure Stack Hub'),
  skuName: text(`coalesce(l.meter_category, '')`),
  publisherName: constant('Stackledger'),
  publisherId: constant(''),
  usageDate: text(`coalesce(${usageDate}, '')`),
  meterType: constant('Consumption'),
  meterCategory: text(`coalesce(l.meter_category, '')`),
  meterId: text(`coalesce(l.meter_id::text, '')`),
  meterSubCategory: text(`coalesce(l.meter_subcategory, '')`),
  meterName: text(`coalesce(l.meter_name, l.meter_id::text, '')`),
  meterRegion: text(`coalesce(l.location, '')`),
  unitOfMeasure: text(`coalesce(l.meter_unit, '')`),
  resourceLocation: text(`coalesce(l.location, '')`),
  consumedService: text(`coalesce(l.resource_parts[2], '')`),
  resourceGroup: text(`coalesce(l.resource_parts[1], '')`),
  resourceUri: text(`coalesce(l.resource_uri, '')`),
  chargeType: text(`case when l.line_type = 'late usage' then 'Late usage' else 'Usage' end`),
  unitPrice: { number: jsNumber('l.unit_price') },
  quantity: { number: jsNumber('l.quantity') },
  unitType: text(`coalesce(l.meter_unit, '')`),
  billingPreTaxTotal: { number: jsNumber('l.amount') },
  billingCurrency: text('i.currency'),
  pricingPreTaxTotal: { number: jsNumber('l.amount') },
  pricingCurrency: text('i.currency'),
  effectiveUnitPrice: { number: jsNumber('l.unit_price') },
  pcToBCExchangeRate: { number: `'1'` },
  tier: { number: `coalesce(l.tier, 1)::text` },
  invoiceLineItemType: constant('usage_line_items'),
  billingProvider: constant('one_time'),
  attributes: { json: `'{"objectType":"DailyRatedUsageLineItem"}'` },
};

/** The reconciliation file: each of its columns is the daily-rated field of the same name. */
export const RECON: Record<string, Column> = Object.fromEntries(
  RECON_COLUMNS.map((c) => {
    const field = Object.keys(DAILY_RATED_FIELDS).find((f) => f.toLowerCase() === c.toLowerCase());
    if (!field) throw new Error(`no daily-rated field for the reconciliation column ${c}`);
    return [c, DAILY_RATED_FIELDS[field]];
  }),
);

/** A partner's invoice line to a customer, with its invoice (`customerLineView`). */
export const CUSTOMER_LINE_FIELDS: Record<string, Column> = {
  invoiceNumber: text('i.number'),
  customerId: text('i.buyer_id::text'),
  lineNumber: { number: 'l.line_no::text' },
  lineType: text('l.line_type'),
  late: { boolean: `l.line_type = 'late usage'` },
  subscriptionId: text('l.subscription_id::text'),
  subscriptionName: text('l.subscription_name'),
  meterId: text('l.meter_id::text'),
  meterName: text('coalesce(l.meter_name, l.meter_id::text)'),
  unit: text('l.meter_unit'),
  resourceUri: text('l.resource_uri'),
  location: text('l.location'),
  usageDate: text(`to_char(l.usage_date, 'YYYY-MM-DD')`),
  usageTo: text(`to_char(l.usage_to, 'YYYY-MM-DD')`),
  tier: { number: 'l.tier::text' },
  quantity: text('l.quantity::text'),
  unitPrice: text('l.unit_price::text'),
  amount: text('l.amount::text'),
  description: text('l.description'),
  reason: text('l.reason'),
  createdBy: text('l.created_by'),
};

/** The FOCUS version the export follows. */
export const FOCUS_VERSION = '1.2';

// FOCUS's charge kinds over our lines: usage and late usage (usage of a closed period) are Usage,
// credits Credit, the invoice's tax (a row of its own, `tax`, see exports.ts) Tax, adjustments
// Adjustment. A row corrects a period already invoiced (ChargeClass 'Correction') when it is
// late usage, or on an invoice that corrects (`i.corrects`: a credit note, which corrects a closed
// invoice, or the invoice that replaces a voided one, which bills the voided invoice's period
// again, after the credit note took it back).
const isTax = `l.line_type = 'tax'`;
/** A usage line's cost at its list price: the billed cost when the list price is the same (or was not kept). */
const listCost = `case when l.list_unit_price is null or l.list_unit_price = l.unit_price then x.contracted_cost
  else trim_scale(l.quantity * l.list_unit_price)::text end`;
const onUsage = (value: string) => `case when ${usage} then ${value} end`;

/**
 * FOCUS 1.2: the 21 mandatory columns, then the conditional ones that apply (a provider of
 * priced, metered, regional resources in subscriptions, with two kinds of billing account) and the
 * recommended ones we can fill. BilledCost and EffectiveCost are the line as billed (no
 * amortization: nothing is prepaid); ContractedCost is the quantity at the price the buyer
 * agreed (the billed unit price, overrides applied); ListCost the quantity at the list sheet's
 * (the billed unit price on lines closed before list prices were kept). A credit's or
 * adjustment's costs are its amount; the tax row's are the invoice's rate on the invoice's own
 * costs of that kind (`tax_list_base`, `tax_contracted_base`).
 */
export const FOCUS: Record<string, Column> = {
  BilledCost: filled('x.amount'),
  BillingAccountId: filled('i.buyer_text'),
  BillingAccountName: text('i.buyer_name'),
  BillingCurrency: text('i.currency'),
  BillingPeriodEnd: filled('i.period_end_text'),
  BillingPeriodStart: filled('i.period_start_text'),
  ChargeCategory: filled(
    `case when ${usage} then 'Usage' when l.line_type = 'credit' then 'Credit' when ${isTax} then 'Tax' else 'Adjustment' end`,
  ),
  ChargeClass: filled(`case when i.corrects or x.late then 'Correction' end`),
  ChargeDescription: text(`case when ${usage}
    then coalesce(l.meter_name, x.meter) || case when x.late then ' (late usage)' else '' end
      || coalesce('. ' || l.description, '')
    else coalesce(l.description, l.line_type) end`),
  ChargePeriodEnd: filled(
    `case when l.usage_date is null then i.period_end_text else ${day('coalesce(l.usage_to, l.usage_date) + 1', '00:00:00')} end`,
  ),
  ChargePeriodStart: filled(`case when l.usage_date is null then i.period_start_text else ${usageDate} end`),
  ContractedCost: filled(
    `case when ${usage} then x.contracted_cost when ${isTax} then trim_scale(l.tax_contracted_base * i.tax_rate / 100)::text else x.amount end`,
  ),
  EffectiveCost: filled('x.amount'),
  InvoiceIssuerName: text('i.issuer_name'),
  ListCost: filled(
    `case when ${usage} then ${listCost} when ${isTax} then trim_scale(l.tax_list_base * i.tax_rate / 100)::text else x.amount end`,
  ),
  PricingQuantity: filled(onUsage('x.quantity')),
  // A meter we do not know still has a unit, 'Units' (PricingUnit is never null beside a quantity).
  PricingUnit: filled(onUsage(`coalesce(l.meter_unit, 'Units')`)),
  ProviderName: constant('Stackledger'),
  PublisherName: constant('Stackledger'),
  ServiceCategory: filled(`case when ${usage} then coalesce(l.meter_focus_category, 'Other') else 'Other' end`),
  ServiceName: filled(`case when ${usage} then coalesce(l.meter_focus_name, 'Other') else 'Billing' end`),
  BillingAccountType: filled('i.account_type'),
  ChargeFrequency: filled(`case when ${usage} then 'Usage-Based' else 'One-Time' end`),
  ConsumedQuantity: filled(onUsage('x.quantity')),
  ConsumedUnit: filled(onUsage(`coalesce(l.meter_unit, 'Units')`)),
  ContractedUnitPrice: filled(onUsage('l.unit_price::text')),
  InvoiceId: filled('i.number'),
  ListUnitPrice: filled(onUsage(`coalesce(l.list_unit_price, l.unit_price)::text`)),
  RegionId: text('l.location'),
  RegionName: text('l.location'),
  ResourceId: text('l.resource_uri'),
  // The last segment of the resource id.
  ResourceName: text(`split_part(l.resource_uri, '/', -1)`),
  // The resource's ARM type (`resourceTypeOf`), kept on the line (migration 0680).
  ResourceType: text('l.resource_parts[3]'),
  ServiceSubcategory: filled(
    `case when ${usage} then coalesce(l.meter_focus_subcategory, 'Other (Other)') else 'Other (Other)' end`,
  ),
  SkuId: filled('x.meter'),
  SkuMeter: filled(`case when l.meter_id is not null then coalesce(l.meter_name, x.meter) end`),
  // A meter's price on the list sheet is one SKU price: its id is the meter's.
  SkuPriceId: filled('x.meter'),
  SubAccountId: filled('l.subscription_id::text'),
  SubAccountName: text('l.subscription_name'),
};

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
  Object.keys(FOCUS).map((c) => [c, FOCUS_DECIMALS.has(c) ? 'DECIMAL' : FOCUS_DATES.has(c) ? 'DATETIME' : 'STRING']),
);

/** The day this schema (FOCUS 1.2's columns as listed here) was made: a new list needs a new day. */
const FOCUS_SCHEMA_CREATED = '2026-11-30T00:00:00Z';

/**
 * FOCUS's metadata of the export (the specification's data generator and schema objects): the
 * schema's id is a GUID derived from the version and its columns, so it changes exactly when they do.
 */
export function focusMetadata() {
  const ColumnDefinition = Object.entries(FOCUS_COLUMN_TYPES).map(([ColumnName, DataType]) => ({
    ColumnName,
    DataType,
    ...(DataType === 'STRING' ? { StringEncoding: 'UTF-8' } : {}),
  }));
  const hash = createHash('sha256').update(JSON.stringify({ FOCUS_VERSION, ColumnDefinition })).digest('hex');
  const SchemaId = [
    hash.slice(0, 8),
    hash.slice(8, 12),
    hash.slice(12, 16),
    hash.slice(16, 20),
    hash.slice(20, 32),
  ].join('-');
  return {
    DataGenerator: { DataGenerator: 'Stackledger' },
    Schema: { SchemaId, FocusVersion: FOCUS_VERSION, CreationDate: FOCUS_SCHEMA_CREATED, ColumnDefinition },
  };
}

/** FOCUS's service of a meter's category (usage lines only). */
const FOCUS_SERVICE: Record<string, { category: string; name: string; subcategory: string }> = {
  'Virtual Machines': { category: 'Compute', name: 'Virtual Machines', subcategory: 'Virtual Machines' },
  Storage: { category: 'Storage', name: 'Storage Accounts', subcategory: 'Storage Platforms' },
  'Managed Disk': { category: 'Storage', name: 'Managed Disks', subcategory: 'Block Storage' },
  Networking: { category: 'Networking', name: 'Public IP Addresses', subcategory: 'Network Connectivity' },
};

/** The meters as the export's query reads them (a setting, as JSON). */
export const METERS_JSON = JSON.stringify(
  Object.values(METERS).map((m) => {
    const service = FOCUS_SERVICE[m.category] ?? { category: 'Other', name: m.category, subcategory: 'Other (Other)' };
    return { ...m, focus_category: service.category, focus_name: service.name, focus_subcategory: service.subcategory };
  }),
);

/**
 * A row as CSV columns of text, '' written as absent (COPY would quote it; the files never did);
 * a number or `filled` text is never '', and is written as it is.
 */
export function csvColumns(columns: Record<string, Column>): string {
  return Object.entries(columns)
    .map(([name, c]) => {
      if ('number' in c || ('text' in c && c.filled)) return `${'text' in c ? c.text : c.number} as "${name}"`;
      if (!('text' in c)) throw new Error(`the CSV column ${name} is neither text nor a number`);
      return `nullif(${c.text}, '') as "${name}"`;
    })
    .join(',\n');
}

/** A row as one JSON object's text, its keys in order and without spaces (as JSON.stringify writes it). */
export function jsonObject(fields: Record<string, Column>): string {
  const value = (c: Column) =>
    'text' in c
      ? `coalesce(to_json(${c.text})::text, 'null')`
      : 'number' in c
        ? `coalesce(${c.number}, 'null')`
        : 'boolean' in c
          ? `case when ${c.boolean} then 'true' else 'false' end`
          : c.json;
  return Object.entries(fields)
    .map(([key, c], n) => `'${n === 0 ? '{' : ','}"${key}":' || ${value(c)}`)
    .concat(`'}'`)
    .join(' || ');
}
