import { isGuid } from '../core/ids.ts';
import { copyTextRows, type TextRow } from '../db/copy-text-rows.ts';
import type pg from 'pg';
import { type ExportLine, ROW_FORMATS } from './export-columns.ts';
import type { ExportFormat, InvoiceToExport } from './exports.ts';

// The lines an export reads: an invoice's range of lines as a binary COPY of their columns as
// text (exports.ts reads them in turn), each row made an `ExportLine`, and FOCUS's costs as the
// database works them out.

/** A uuid as an SQL literal (COPY takes no bind parameters): only a well-formed one. */
function uuidLiteral(id: string): string {
  if (!isGuid(id)) throw new Error('not a uuid');
  return `'${id}'::uuid`;
}

/** The lines of an invoice numbered after `after` up to `to` (only the customer's, when it names one). */
function linesWhere(invoiceId: string, after: number, to: number, customerId: string | undefined) {
  return `invoice_id = ${uuidLiteral(invoiceId)} and line_no > ${Math.trunc(after)} and line_no <= ${Math.trunc(to)}
    ${customerId === undefined ? '' : `and customer_id = ${uuidLiteral(customerId.toLowerCase())}`}`;
}

/**
 * A line's costs as FOCUS writes them (ListCost, ContractedCost): usage at its quantity times the
 * list price (the billed one when none was kept) or the billed price, exact (`trim_scale`: no
 * trailing zeros); any other line at its amount. A line's own list cost is read only where it
 * differs (a list price kept, and not the billed one): elsewhere it is the contracted cost, and
 * the database has one product less to make a line.
 */
export const LIST_COST = `case when line_type in ('usage', 'late usage') then trim_scale(quantity * coalesce(list_unit_price, unit_price)) else amount end`;
export const CONTRACTED_COST = `case when line_type in ('usage', 'late usage') then trim_scale(quantity * unit_price) else amount end`;
const OTHER_LIST_COST = `case when list_unit_price is not null and list_unit_price is distinct from unit_price then ${LIST_COST} end`;

/**
 * A line's columns as text, in `toLine`'s order, each with whether its text is ASCII whatever the
 * line (numbers, uuids and dates: read without a look for other characters), and whether the
 * partner center's daily-rated line item reads it (`DailyRatedLine`).
 */
const LINE_COLUMNS: [sql: string, ascii: boolean, dailyRated: boolean][] = [
  ['line_no::text', true, true],
  ['line_type', false, true],
  ['customer_id::text', true, true],
  ['subscription_id::text', true, true],
  ['meter_id::text', true, true],
  ['resource_uri', false, true],
  ['location', false, true],
  ['usage_date::text', true, true],
  ['usage_to::text', true, false],
  ['tier::text', true, true],
  ['quantity::text', true, true],
  ['unit_price::text', true, true],
  ['list_unit_price::text', true, false],
  ['amount::text', true, true],
  ['description', false, false],
  ['reason', false, false],
  ['created_by', false, false],
  [`(${OTHER_LIST_COST})::text`, true, false],
  [`(${CONTRACTED_COST})::text`, true, false],
];
/**
 * The columns a COPY reads: all of them, or the daily-rated line item's (the others null: the
 * database neither sends them nor works out the costs).
 */
const LINE_TEXT = {
  all: LINE_COLUMNS.map(([sql]) => sql).join(', '),
  dailyRated: LINE_COLUMNS.map(([sql, , dailyRated]) => (dailyRated ? sql : 'null::text')).join(', '),
};
const LINE_ASCII = LINE_COLUMNS.map(([, ascii]) => ascii);
/** The columns whose ids a row writes names of (`toLine`'s customer_id and subscription_id). */
export const NAMED_COLUMNS = ['customer_id::text', 'subscription_id::text'].map((c) =>
  LINE_COLUMNS.findIndex(([sql]) => sql === c),
);

export function toLine(r: TextRow): ExportLine {
  return {
    invoice_id: '',
    line_no: Number(r[0]),
    line_type: r[1] as ExportLine['line_type'],
    customer_id: r[2],
    subscription_id: r[3],
    meter_id: r[4],
    resource_uri: r[5],
    location: r[6],
    usage_date: r[7],
    usage_to: r[8],
    tier: r[9] === null ? null : Number(r[9]),
    quantity: r[10],
    unit_price: r[11],
    list_unit_price: r[12],
    amount: r[13] as string,
    description: r[14],
    reason: r[15],
    created_by: r[16],
    list_cost: r[17],
    contracted_cost: r[18],
  };
}

/** Lines of an invoice numbered after `after` up to `to` (only the customer's, when it names one). */
export interface LineRange {
  after: number;
  to: number;
  customerId?: string;
}

/** The SELECT of a range's lines, in line order (read by the key's index: `prepareExport`). */
export function rangeSelect(format: ExportFormat, invoice: InvoiceToExport, range: LineRange): string {
  const where = linesWhere(invoice.id, range.after, range.to, range.customerId);
  const columns = LINE_TEXT[ROW_FORMATS[format].reads(invoice)];
  return `select ${columns} from invoice_lines where ${where} order by invoice_lines.line_no`;
}

/** A range's lines, its COPY sent on `on` at once; its rows are read from what it answers. */
export function openRange(
  on: pg.ClientBase,
  format: ExportFormat,
  invoice: InvoiceToExport,
  range: LineRange,
): AsyncIterable<TextRow[]> {
  return copyTextRows(on, rangeSelect(format, invoice, range), LINE_ASCII);
}
