// FOCUS 1.2's columns and their rules, written down from the specification's text
// (FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec, tag v1.2, `specification/columns/*.md`), as data:
// each column's feature level, type, allowed values and when it must or must not be null, then
// the rules that tie columns together. `focusViolations` checks rows of an export against them.
import { Decimal } from 'decimal.js';

export type FocusRow = Record<string, string>;
type Level = 'Mandatory' | 'Conditional' | 'Recommended';
type Type = 'Decimal' | 'String' | 'DateTime';

interface ColumnRule {
  level: Level;
  type: Type;
  allowed?: string[];
  /** The row in which the column MUST be null (default: never). */
  mustBeNull?: (r: FocusRow) => boolean;
  /** The rows in which the column MUST NOT be null (default: always, for a column that allows none). */
  mustNotBeNull?: (r: FocusRow) => boolean;
}

const always = () => true;
const isUsageOrPurchase = (r: FocusRow) =>
  (r.ChargeCategory === 'Usage' || r.ChargeCategory === 'Purchase') && r.ChargeClass !== 'Correction';
const isTax = (r: FocusRow) => r.ChargeCategory === 'Tax';
/** Price-list columns (SkuId, SkuPriceId, ListUnitPrice, ContractedUnitPrice, PricingQuantity…): null for tax, present for usage and purchases. */
const priced: Pick<ColumnRule, 'mustBeNull' | 'mustNotBeNull'> = {
  mustBeNull: isTax,
  mustNotBeNull: isUsageOrPurchase,
};

/**
 * The columns: the 21 that 1.2 makes mandatory, then the conditional ones whose condition holds
 * for Stackledger (it measures usage, bills provisioned resources in regions and subscriptions,
 * publishes price lists, has negotiated prices (overrides) and two kinds of billing account:
 * partners and customers) and the recommended ones it fills. Not present, as their condition
 * does not hold: commitment discounts, capacity reservations, pricing in another currency,
 * more than one pricing category or sub-account type, availability zones.
 */
export const FOCUS_COLUMNS: Record<string, ColumnRule> = {
  // billedcost.md: not null; sum per InvoiceId = the invoice (checked by the test).
  BilledCost: { level: 'Mandatory', type: 'Decimal' },
  BillingAccountId: { level: 'Mandatory', type: 'String' },
  // billingaccountname.md: not null when the provider names billing accounts (it does).
  BillingAccountName: { level: 'Mandatory', type: 'String' },
  BillingCurrency: { level: 'Mandatory', type: 'String' },
  BillingPeriodEnd: { level: 'Mandatory', type: 'DateTime' },
  BillingPeriodStart: { level: 'Mandatory', type: 'DateTime' },
  ChargeCategory: {
    level: 'Mandatory',
    type: 'String',
    allowed: ['Usage', 'Purchase', 'Tax', 'Credit', 'Adjustment'],
  },
  // chargeclass.md: null unless the row corrects a previously invoiced billing period; then 'Correction'.
  ChargeClass: { level: 'Mandatory', type: 'String', allowed: ['Correction'], mustNotBeNull: () => false },
  // chargedescription.md: SHOULD NOT be null (we never leave it null).
  ChargeDescription: { level: 'Mandatory', type: 'String' },
  ChargePeriodEnd: { level: 'Mandatory', type: 'DateTime' },
  ChargePeriodStart: { level: 'Mandatory', type: 'DateTime' },
  ContractedCost: { level: 'Mandatory', type: 'Decimal' },
  EffectiveCost: { level: 'Mandatory', type: 'Decimal' },
  InvoiceIssuerName: { level: 'Mandatory', type: 'String' },
  ListCost: { level: 'Mandatory', type: 'Decimal' },
  PricingQuantity: { level: 'Mandatory', type: 'Decimal', ...priced },
  // pricingunit.md: null exactly when PricingQuantity is.
  PricingUnit: {
    level: 'Mandatory',
    type: 'String',
    mustBeNull: (r) => r.PricingQuantity === '',
    mustNotBeNull: (r) => r.PricingQuantity !== '',
  },
  ProviderName: { level: 'Mandatory', type: 'String' },
  PublisherName: { level: 'Mandatory', type: 'String' },
  ServiceCategory: {
    level: 'Mandatory',
    type: 'String',
    allowed: [
      'AI and Machine Learning',
      'Analytics',
      'Business Applications',
      'Compute',
      'Databases',
      'Developer Tools',
      'Multicloud',
      'Identity',
      'Integration',
      'Internet of Things',
      'Management and Governance',
      'Media',
      'Migration',
      'Mobile',
      'Networking',
      'Security',
      'Storage',
      'Web',
      'Other',
    ],
  },
  ServiceName: { level: 'Mandatory', type: 'String' },
  // billingaccounttype.md (new in 1.2): present when there is more than one type; null exactly when BillingAccountId is.
  BillingAccountType: { level: 'Conditional', type: 'String' },
  // chargefrequency.md: not null; never Usage-Based for a purchase.
  ChargeFrequency: { level: 'Recommended', type: 'String', allowed: ['One-Time', 'Recurring', 'Usage-Based'] },
  // consumedquantity.md: null unless usage; not null for usage that is not a correction.
  ConsumedQuantity: {
    level: 'Conditional',
    type: 'Decimal',
    mustBeNull: (r) => r.ChargeCategory !== 'Usage',
    mustNotBeNull: (r) => r.ChargeCategory === 'Usage' && r.ChargeClass !== 'Correction',
  },
  ConsumedUnit: {
    level: 'Conditional',
    type: 'String',
    mustBeNull: (r) => r.ConsumedQuantity === '',
    mustNotBeNull: (r) => r.ConsumedQuantity !== '',
  },
  ContractedUnitPrice: { level: 'Conditional', type: 'Decimal', ...priced },
  // invoiceid.md (recommended from 1.2): not null for a charge on an issued invoice (every row here).
  InvoiceId: { level: 'Recommended', type: 'String' },
  ListUnitPrice: { level: 'Conditional', type: 'Decimal', ...priced },
  // regionid.md: not null when the resource runs in a region; RegionName null exactly when RegionId is.
  RegionId: { level: 'Conditional', type: 'String', mustNotBeNull: () => false },
  RegionName: {
    level: 'Conditional',
    type: 'String',
    mustBeNull: (r) => r.RegionId === '',
    mustNotBeNull: (r) => r.RegionId !== '',
  },
  // resourceid.md: null when the charge is not a resource's.
  ResourceId: { level: 'Conditional', type: 'String', mustNotBeNull: () => false },
  ResourceName: {
    level: 'Conditional',
    type: 'String',
    mustBeNull: (r) => r.ResourceId === '',
    mustNotBeNull: () => false,
  },
  ResourceType: {
    level: 'Conditional',
    type: 'String',
    mustBeNull: (r) => r.ResourceId === '',
    mustNotBeNull: () => false,
  },
  ServiceSubcategory: { level: 'Recommended', type: 'String' },
  SkuId: { level: 'Conditional', type: 'String', ...priced },
  // skumeter.md: null when SkuId is.
  SkuMeter: { level: 'Conditional', type: 'String', mustBeNull: (r) => r.SkuId === '', mustNotBeNull: () => false },
  SkuPriceId: { level: 'Conditional', type: 'String', ...priced },
  // subaccountid.md: null when the charge is not a sub account's (a credit to the customer as a whole).
  SubAccountId: { level: 'Conditional', type: 'String', mustNotBeNull: () => false },
  SubAccountName: {
    level: 'Conditional',
    type: 'String',
    mustBeNull: (r) => r.SubAccountId === '',
    mustNotBeNull: () => false,
  },
};

/** servicesubcategory.md: each allowed subcategory with its one parent category (those we use, and 'Other (…)'). */
const SUBCATEGORY_PARENT: Record<string, string> = {
  'Virtual Machines': 'Compute',
  'Storage Platforms': 'Storage',
  'Block Storage': 'Storage',
  'Network Connectivity': 'Networking',
  'Other (Other)': 'Other',
};

const DECIMAL = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;
// FOCUS's date/time format: ISO 8601 in UTC, with the Z.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** The rules that tie columns together, each with the file of the specification it comes from. */
const ROW_RULES: { rule: string; holds: (r: FocusRow) => boolean }[] = [
  {
    // listcost.md, listunitprice.md, pricingquantity.md
    rule: 'ListCost = ListUnitPrice × PricingQuantity (both not null, not a correction)',
    holds: (r) =>
      r.ListUnitPrice === '' ||
      r.PricingQuantity === '' ||
      r.ChargeClass === 'Correction' ||
      new Decimal(r.ListUnitPrice).mul(r.PricingQuantity).eq(r.ListCost),
  },
  {
    // contractedcost.md, contractedunitprice.md
    rule: 'ContractedCost = ContractedUnitPrice × PricingQuantity (both not null, not a correction)',
    holds: (r) =>
      r.ContractedUnitPrice === '' ||
      r.PricingQuantity === '' ||
      r.ChargeClass === 'Correction' ||
      new Decimal(r.ContractedUnitPrice).mul(r.PricingQuantity).eq(r.ContractedCost),
  },
  {
    // listcost.md, contractedcost.md, effectivecost.md: a charge unrelated to others (a credit) costs what it is billed
    rule: 'a credit: ListCost = ContractedCost = EffectiveCost = BilledCost',
    holds: (r) =>
      r.ChargeCategory !== 'Credit' ||
      [r.ListCost, r.ContractedCost, r.EffectiveCost].every((c) => new Decimal(c).eq(r.BilledCost)),
  },
  {
    // listunitprice.md, contractedunitprice.md
    rule: 'unit prices are not negative',
    holds: (r) => [r.ListUnitPrice, r.ContractedUnitPrice].every((p) => p === '' || new Decimal(p).gte(0)),
  },
  {
    // chargefrequency.md
    rule: "a purchase is not 'Usage-Based'",
    holds: (r) => r.ChargeCategory !== 'Purchase' || r.ChargeFrequency !== 'Usage-Based',
  },
  {
    // billingperiodstart.md, chargeperiodstart.md: start inclusive, end exclusive
    rule: 'periods start before they end',
    holds: (r) => r.BillingPeriodStart < r.BillingPeriodEnd && r.ChargePeriodStart < r.ChargePeriodEnd,
  },
  {
    // servicename.md, servicesubcategory.md
    rule: 'ServiceSubcategory has its one parent ServiceCategory',
    holds: (r) => SUBCATEGORY_PARENT[r.ServiceSubcategory] === r.ServiceCategory,
  },
  {
    // billingaccounttype.md
    rule: 'BillingAccountType is null exactly when BillingAccountId is',
    holds: (r) => (r.BillingAccountType === '') === (r.BillingAccountId === ''),
  },
];

/** Every way the export's header and rows break the rules ([] when none does). */
export function focusViolations(header: string[], rows: FocusRow[]): string[] {
  const found: string[] = [];
  for (const [name, c] of Object.entries(FOCUS_COLUMNS))
    if (!header.includes(name)) found.push(`${c.level} column ${name} is missing`);
  for (const name of header) if (!(name in FOCUS_COLUMNS)) found.push(`column ${name} is not FOCUS 1.2's`);
  rows.forEach((r, n) => {
    for (const [name, c] of Object.entries(FOCUS_COLUMNS)) {
      const v = r[name] ?? '';
      const mustBeNull = c.mustBeNull?.(r) ?? false;
      const mustNotBeNull = (c.mustNotBeNull ?? always)(r);
      if (v === '') {
        if (mustNotBeNull) found.push(`row ${n + 1}: ${name} is null`);
        continue;
      }
      if (mustBeNull) found.push(`row ${n + 1}: ${name} must be null, is '${v}'`);
      if (c.type === 'Decimal' && !DECIMAL.test(v)) found.push(`row ${n + 1}: ${name} '${v}' is not a decimal`);
      if (c.type === 'DateTime' && !DATE_TIME.test(v))
        found.push(`row ${n + 1}: ${name} '${v}' is not a UTC date/time`);
      if (c.allowed && !c.allowed.includes(v)) found.push(`row ${n + 1}: ${name} '${v}' is not an allowed value`);
    }
    for (const { rule, holds } of ROW_RULES) if (!holds(r)) found.push(`row ${n + 1}: ${rule}`);
  });
  return found;
}

/** CSV (RFC 4180, as COPY writes it) as a header and rows of text ('' for absent). */
export function parseCsv(text: string): { header: string[]; rows: FocusRow[] } {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  const endField = () => {
    record.push(field);
    field = '';
  };
  const endRecord = () => {
    endField();
    records.push(record);
    record = [];
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted && ch === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (ch === '"') quoted = !quoted;
    else if (quoted) field += ch;
    else if (ch === ',') endField();
    else if (ch === '\n') endRecord();
    else field += ch;
  }
  if (field !== '' || record.length > 0) endRecord();
  const [header, ...rest] = records;
  return { header, rows: rest.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? '']))) };
}
