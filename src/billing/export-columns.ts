import { Transform } from 'node:stream';
import type { ByteChunks } from '../core/byte-chunks.ts';
import { csvField } from './csv-field.ts';
import { FOCUS_COLUMN_NAMES, focusRows } from './focus-columns.ts';
import { RowRuns } from './row-runs.ts';
import type { DailyRatedLine, StoredLine } from './store.ts';
import { jsonString } from '../core/json-text.ts';
import {
  customerLineView,
  DAILY_RATED_FIELDS,
  type DailyRatedField,
  type Names,
  type RatedLineContext,
} from './views.ts';

// The exports' rows, each made from one invoice line as the database stores it (its columns as
// text, read by exports.ts), its invoice and the names it looks up. The partner center's files
// and the JSON export are the API's own views of a line (views.ts); FOCUS's columns are
// focus-columns.ts's. Each value is written as the files have always had it: text, or a number as
// JavaScript prints it.

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
 * A row of an export: an invoice line, or (FOCUS only) the invoice's tax as a line of type `tax`.
 * With FOCUS's list and contracted costs, as the database works them out (exports.ts): a line's
 * own, the tax's on what it is levied on.
 */
export type ExportLine = Omit<StoredLine, 'line_type'> & {
  line_type: StoredLine['line_type'] | 'tax';
  /** None where it is the contracted cost. */
  list_cost: string | null;
  contracted_cost: string | null;
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
  list_cost: null,
  contracted_cost: null,
};

/** What a row is made from. */
export interface RowInput {
  line: ExportLine;
  invoice: ExportInvoice;
  names: Names;
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

/** The daily-rated field each reconciliation column is. */
const RECON_FIELDS = RECON_COLUMNS.map((c) => {
  const field = DAILY_RATED_FIELDS.find((f) => f.name.toLowerCase() === c.toLowerCase());
  if (!field) throw new Error(`no daily-rated field for the reconciliation column ${c}`);
  return field;
});

/** A field's text in a row of one format, from a line and what it reads beside it. */
type Cell = (line: DailyRatedLine, ctx: RatedLineContext) => string;

/** How a format writes a field: what goes before its value (after `separator`, ',' but for the first), text that may need quotes or escapes, and text that never does. */
interface CellFormat {
  prefix: (field: DailyRatedField, separator: string) => string;
  text: (s: string) => string;
  plainText: (s: string) => string;
}

/** A field's cell: its text as the format writes it; a number as JavaScript prints it (from the database's text where the field has it); an object as JSON. */
function cellOf(field: DailyRatedField, separator: string, format: CellFormat): Cell {
  const { value, numberText } = field;
  const prefix = format.prefix(field, separator);
  if (numberText) return (line, ctx) => `${prefix}${numberText(line, ctx)}`;
  const text = field.quoted ? format.text : format.plainText;
  return (line, ctx) => {
    const v = value(line, ctx);
    return `${prefix}${typeof v === 'string' ? text(v) : typeof v === 'number' ? String(v) : JSON.stringify(v)}`;
  };
}

/** Writes rows of an invoice's lines into chunks, keeping what its rows repeat. */
export type LineRows = (line: ExportLine, out: ByteChunks) => void;

/**
 * Rows of daily-rated fields as one format writes them (their cells joined by commas between
 * `open` and `close`), as runs of fields written once per kind and value (row-runs.ts), for an
 * invoice and the names its rows read.
 */
function dailyRatedRows(
  fields: readonly DailyRatedField[],
  format: CellFormat,
  open: string,
  close: string,
): (invoice: ExportInvoice, names: Names) => LineRows {
  const runs = new RowRuns<DailyRatedLine, RatedLineContext>([
    { dependsOn: 'kind', text: () => open },
    ...fields.map((field, i) => ({ dependsOn: field.dependsOn, text: cellOf(field, i > 0 ? ',' : '', format) })),
    { dependsOn: 'kind', text: () => `${close}\n` },
  ]);
  return (invoice, names) => {
    const rows = runs.writer({
      partnerId: invoice.buyerId,
      invoiceNumber: invoice.number,
      currency: invoice.currency,
      names,
    });
    return (line, out) => rows.write(out, line as StoredLine, line.line_type, line.meter_id);
  };
}

const reconRows = dailyRatedRows(
  RECON_FIELDS,
  { prefix: (_, before) => before, text: csvField, plainText: (s) => s },
  '',
  '',
);
const jsonRows = dailyRatedRows(
  DAILY_RATED_FIELDS,
  { prefix: (f, before) => `${before}${jsonString(f.name)}:`, text: jsonString, plainText: (s) => `"${s}"` },
  '{',
  '},',
);

/** The JSON export's row of a customer invoice's line: our own invoice line's view. */
const customerJsonRows =
  (invoice: ExportInvoice, names: Names): LineRows =>
  (line, out) => {
    const view = {
      invoiceNumber: invoice.number,
      customerId: invoice.buyerId,
      ...customerLineView(line as StoredLine, names),
    };
    out.add(`${JSON.stringify(view)},\n`);
  };

/** A line's columns that a row reads: all, or the daily-rated line item's (`DailyRatedLine`; the others are null). */
export type ColumnsRead = 'all' | 'dailyRated';

/**
 * The export formats: each one's first line (CSV's header), the columns its rows of an invoice's
 * lines read, and how it writes them (`rows`, each ending in a newline).
 */
export const ROW_FORMATS = {
  focus: {
    header: `${FOCUS_COLUMN_NAMES.join(',')}\n`,
    reads: (): ColumnsRead => 'all',
    rows: focusRows,
  },
  recon: {
    header: `${RECON_COLUMNS.join(',')}\n`,
    reads: (): ColumnsRead => 'dailyRated',
    rows: reconRows,
  },
  /** The API's line items, one JSON object a line, each followed by a comma (`jsonArray` ends the array). */
  json: {
    header: '[\n',
    reads: (invoice: ExportInvoice): ColumnsRead => (invoice.stream === 'partner' ? 'dailyRated' : 'all'),
    rows: (invoice: ExportInvoice, names: Names) =>
      invoice.stream === 'partner' ? jsonRows(invoice, names) : customerJsonRows(invoice, names),
  },
} as const;

const LAST_COMMA = Buffer.from(',\n');

/**
 * The JSON export's text (`[`, then rows `{…},` a line) ended as one JSON array: its last two
 * bytes held back as it goes, and at its end the last row's comma left out (`[\n{…},\n{…}\n]\n`;
 * `[\n]\n` without rows). Every other byte passes as it came, uncopied.
 */
export function jsonArray(): Transform {
  let held: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      // What was held and this chunk: all but their last two bytes go on.
      let all: Buffer = chunk;
      if (held.length > 0) {
        if (chunk.length >= 2) this.push(held);
        else all = Buffer.concat([held, chunk]);
      }
      const cut = Math.max(0, all.length - 2);
      held = all.subarray(cut);
      if (cut > 0) this.push(all.subarray(0, cut));
      done();
    },
    flush(done) {
      done(null, held.equals(LAST_COMMA) ? '\n]\n' : Buffer.concat([held, Buffer.from(']\n')]));
    },
  });
}
