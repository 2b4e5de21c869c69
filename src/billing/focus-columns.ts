import { keptByParent, parseResourceId, resourceTypeOf } from '../core/arm-id.ts';
import { DAY_MS } from '../core/clock.ts';
import { KeptForLast, keptByArgument } from '../core/kept.ts';
import { ByKind } from './row-runs.ts';
import { METERS, type Meter } from '../core/meters.ts';
import { csvField } from './csv-field.ts';
import type { ExportInvoice, LineRows, RowInput } from './export-columns.ts';
import type { Names } from './views.ts';

// FOCUS 1.2's columns of an export's row (export-columns.ts has the other formats): one table of
// columns, the row made from it.

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
  return {
    line,
    invoice,
    names,
    meter,
    usage,
    late: line.line_type === 'late usage',
    meterName: meter?.name ?? line.meter_id,
    usageDay: line.usage_date === null ? null : `${line.usage_date}T00:00:00Z`,
    unit: meter?.unit ?? 'Units',
  };
}
type FocusRow = ReturnType<typeof focusShared>;

/** The day after a date ('YYYY-MM-DD'), at midnight UTC (kept: an export's lines have a few dates between them). */
const dayAfter = keptByArgument(
  (date: string) => `${new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10)}T00:00:00Z`,
  10_000,
);

const onUsage = (r: FocusRow, value: string | null) => (r.usage ? value : null);
/** The ARM type of a resource id (`resourceTypeOf`), none for an id that is not a resource's. */
const typeOf = keptByParent((uri) => {
  const id = parseResourceId(uri);
  return id ? resourceTypeOf(id) : null;
});
const resourceType = (uri: string | null): string | null => (uri === null ? null : typeOf(uri));

// FOCUS's charge kinds over our lines: usage and late usage (usage of a closed period) are Usage,
// credits Credit, the invoice's tax (a row of its own, see exports.ts) Tax, adjustments
// Adjustment. A row corrects a period already invoiced (ChargeClass 'Correction') when it is
// late usage, or on an invoice that corrects (a credit note, which corrects a closed invoice, or
// the invoice that replaces a voided one, which bills the voided invoice's period again, after
// the credit note took it back).

/** A FOCUS column: its name, its type as the schema metadata names it, and its value in a row. */
interface FocusColumn {
  name: string;
  type: 'DECIMAL' | 'DATETIME' | 'STRING';
  /** Whether a value may hold what CSV quotes: what a user names, a resource id, a region (never numbers, ids, dates or our own words). */
  quoted: boolean;
  /** Whether its value is the same for every line of one kind (line type and meter) of an invoice. */
  perKind: boolean;
  /** Else, the line's values its value depends on alone (besides the invoice and its names), if it says. */
  by?: 'resource' | 'subscription';
  value: (r: FocusRow) => string | null;
}
const column =
  (type: FocusColumn['type'], quoted: boolean) =>
  (name: string, value: FocusColumn['value']): FocusColumn => ({ name, type, quoted, perKind: false, value });
/** A column of the line's location and resource id only. */
const byResource = (c: FocusColumn): FocusColumn => ({ ...c, by: 'resource' });
/** A column of the line's subscription only. */
const bySubscription = (c: FocusColumn): FocusColumn => ({ ...c, by: 'subscription' });
const decimal = column('DECIMAL', false);
const dateTime = column('DATETIME', false);
/** Ids and our own words. */
const word = column('STRING', false);
const text = column('STRING', true);
const perKind = (c: FocusColumn): FocusColumn => ({ ...c, perKind: true });

/**
 * FOCUS 1.2, in the file's order: the 21 mandatory columns, then the conditional ones that apply
 * (a provider of priced, metered, regional resources in subscriptions, with two kinds of billing
 * account) and the recommended ones we can fill. BilledCost and EffectiveCost are the line as
 * billed (no amortization: nothing is prepaid); ContractedCost is the quantity at the price the
 * buyer agreed (the billed unit price, overrides applied); ListCost the quantity at the list
 * sheet's (the billed unit price on lines closed before list prices were kept). A credit's or
 * adjustment's costs are its amount; the tax row's are the invoice's rate on the invoice's own
 * costs of that kind (the costs are worked out by the database: `LIST_COST` and
 * `CONTRACTED_COST` in export-lines.ts).
 */
const FOCUS_COLUMNS: readonly FocusColumn[] = [
  decimal('BilledCost', (r) => r.line.amount),
  perKind(word('BillingAccountId', (r) => r.invoice.buyerId)),
  perKind(text('BillingAccountName', (r) => r.invoice.buyerName)),
  perKind(word('BillingCurrency', (r) => r.invoice.currency)),
  perKind(dateTime('BillingPeriodEnd', (r) => r.invoice.periodEnd)),
  perKind(dateTime('BillingPeriodStart', (r) => r.invoice.periodStart)),
  perKind(
    word('ChargeCategory', (r) =>
      r.usage ? 'Usage' : r.line.line_type === 'credit' ? 'Credit' : r.line.line_type === 'tax' ? 'Tax' : 'Adjustment',
    ),
  ),
  perKind(word('ChargeClass', (r) => (r.invoice.corrects || r.late ? 'Correction' : null))),
  text('ChargeDescription', (r) =>
    r.usage
      ? r.meterName === null
        ? null
        : `${r.meterName}${r.late ? ' (late usage)' : ''}${r.line.description === null ? '' : `. ${r.line.description}`}`
      : (r.line.description ?? r.line.line_type),
  ),
  dateTime('ChargePeriodEnd', (r) =>
    r.line.usage_date === null ? r.invoice.periodEnd : dayAfter(r.line.usage_to ?? r.line.usage_date),
  ),
  dateTime('ChargePeriodStart', (r) => r.usageDay ?? r.invoice.periodStart),
  decimal('ContractedCost', (r) => r.line.contracted_cost),
  decimal('EffectiveCost', (r) => r.line.amount),
  perKind(text('InvoiceIssuerName', (r) => r.invoice.issuerName)),
  decimal('ListCost', (r) => r.line.list_cost ?? r.line.contracted_cost),
  decimal('PricingQuantity', (r) => onUsage(r, r.line.quantity)),
  // A meter we do not know still has a unit, 'Units' (PricingUnit is never null beside a quantity).
  perKind(text('PricingUnit', (r) => onUsage(r, r.unit))),
  perKind(word('ProviderName', () => 'Stackledger')),
  perKind(word('PublisherName', () => 'Stackledger')),
  perKind(word('ServiceCategory', (r) => (r.usage ? (r.meter?.service.category ?? 'Other') : 'Other'))),
  perKind(word('ServiceName', (r) => (r.usage ? (r.meter?.service.name ?? 'Other') : 'Billing'))),
  perKind(word('BillingAccountType', (r) => (r.invoice.stream === 'partner' ? 'Partner' : 'Customer'))),
  perKind(word('ChargeFrequency', (r) => (r.usage ? 'Usage-Based' : 'One-Time'))),
  decimal('ConsumedQuantity', (r) => onUsage(r, r.line.quantity)),
  perKind(text('ConsumedUnit', (r) => onUsage(r, r.unit))),
  decimal('ContractedUnitPrice', (r) => onUsage(r, r.line.unit_price)),
  perKind(word('InvoiceId', (r) => r.invoice.number)),
  decimal('ListUnitPrice', (r) => onUsage(r, r.line.list_unit_price ?? r.line.unit_price)),
  byResource(text('RegionId', (r) => r.line.location)),
  byResource(text('RegionName', (r) => r.line.location)),
  byResource(text('ResourceId', (r) => r.line.resource_uri)),
  // The last segment of the resource id.
  byResource(
    text('ResourceName', (r) =>
      r.line.resource_uri === null ? null : r.line.resource_uri.slice(r.line.resource_uri.lastIndexOf('/') + 1),
    ),
  ),
  // The resource's ARM type (`resourceTypeOf`); none for an id that is not a resource's.
  byResource(text('ResourceType', (r) => resourceType(r.line.resource_uri))),
  perKind(
    word('ServiceSubcategory', (r) => (r.usage ? (r.meter?.service.subcategory ?? 'Other (Other)') : 'Other (Other)')),
  ),
  perKind(word('SkuId', (r) => r.line.meter_id)),
  perKind(text('SkuMeter', (r) => (r.line.meter_id === null ? null : r.meterName))),
  // A meter's price on the list sheet is one SKU price: its id is the meter's.
  perKind(word('SkuPriceId', (r) => r.line.meter_id)),
  bySubscription(word('SubAccountId', (r) => r.line.subscription_id)),
  bySubscription(
    text('SubAccountName', (r) =>
      r.line.subscription_id === null ? null : (r.names.get(r.line.subscription_id)?.name ?? null),
    ),
  ),
];

/** A row's FOCUS columns by name. */
export const focusColumns = (r: FocusRow): Record<string, string | null> =>
  Object.fromEntries(FOCUS_COLUMNS.map((c) => [c.name, c.value(r)]));

/** A column's value as the file writes it. */
const cell = (c: FocusColumn, value: string | null) => (value === null ? '' : c.quoted ? csvField(value) : value);

/**
 * The FOCUS row's parts, in order: a line's own column; a run of columns the same for every line
 * of a kind (`run`: its place in a kind's texts), written once per kind; or a run of columns of
 * the line's resource or subscription (`by`), whose text is the row before's when those are.
 */
type RowPart =
  | { kind: 'own'; column: FocusColumn }
  | { kind: 'run'; run: number }
  | { kind: 'by'; by: 'resource' | 'subscription'; columns: FocusColumn[]; keyed: number };
const KIND_RUNS: FocusColumn[][] = [];
const ROW_PARTS: RowPart[] = [];
let keyedRuns = 0;
for (const [c, focusColumn] of FOCUS_COLUMNS.entries()) {
  const before = ROW_PARTS.at(-1);
  if (focusColumn.perKind) {
    if (c > 0 && FOCUS_COLUMNS[c - 1]?.perKind) KIND_RUNS.at(-1)?.push(focusColumn);
    else ROW_PARTS.push({ kind: 'run', run: KIND_RUNS.push([focusColumn]) - 1 });
  } else if (focusColumn.by === undefined) ROW_PARTS.push({ kind: 'own', column: focusColumn });
  else if (before?.kind === 'by' && before.by === focusColumn.by) before.columns.push(focusColumn);
  else ROW_PARTS.push({ kind: 'by', by: focusColumn.by, columns: [focusColumn], keyed: keyedRuns++ });
}

/**
 * Rows of the FOCUS file for an invoice's lines, with the names they read: each row one string,
 * concatenated, not joined (its parts are copied once, when the chunk writes them). Most of a
 * row is its line's own columns: written as runs kept by value (row-runs.ts), as the other
 * formats' rows are, its rows cost 5–10% more. Its resource's and its subscription's columns are
 * the row before's when its resource or subscription is (a close numbers lines by subscription,
 * meter, resource and day).
 */
export function focusRows(invoice: ExportInvoice, names: Names): LineRows {
  // The kind runs' texts of each kind of line (an invoice has lines of a few kinds).
  const kinds = new ByKind((r: FocusRow) => KIND_RUNS.map((run) => run.map((c) => cell(c, c.value(r))).join(',')));
  // Each keyed run's text for the values of the row before.
  const lastTexts = Array.from({ length: keyedRuns }, () => new KeptForLast<string>());
  return (line, out) => {
    const r = focusShared({ line, invoice, names });
    const texts = kinds.of(line.line_type, line.meter_id, r);
    let row = '';
    for (let p = 0; p < ROW_PARTS.length; p++) {
      const part = ROW_PARTS[p] as RowPart;
      if (p > 0) row += ',';
      if (part.kind === 'own') row += cell(part.column, part.column.value(r));
      else if (part.kind === 'run') row += texts[part.run];
      else {
        const resource = part.by === 'resource';
        const first = resource ? line.resource_uri : line.subscription_id;
        const second = resource ? line.location : null;
        const last = lastTexts[part.keyed] as KeptForLast<string>;
        let text = last.of(first, second);
        if (text === undefined) {
          text = '';
          for (let i = 0; i < part.columns.length; i++) {
            const c = part.columns[i] as FocusColumn;
            text += i === 0 ? cell(c, c.value(r)) : `,${cell(c, c.value(r))}`;
          }
          last.keep(first, second, text);
        }
        row += text;
      }
    }
    out.add(`${row}\n`);
  };
}

/** FOCUS's columns, in the file's order. */
export const FOCUS_COLUMN_NAMES = FOCUS_COLUMNS.map((c) => c.name);

/** The FOCUS version the export follows. */
export const FOCUS_VERSION = '1.2';

/** Each FOCUS column's type, as the schema metadata names it. */
export const FOCUS_COLUMN_TYPES = Object.fromEntries(FOCUS_COLUMNS.map((c) => [c.name, c.type]));
