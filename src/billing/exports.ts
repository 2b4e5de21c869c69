import type { Readable, Writable } from 'node:stream';
import type { RawBuilder } from 'kysely';
import type pg from 'pg';
import { ByteChunks } from '../core/byte-chunks.ts';
import { ReadAhead } from '../core/together.ts';
import type { TextRow } from '../db/copy-text-rows.ts';
import { setLocal, streamFromConnection, withSnapshotTwin, writeInto } from '../db/database.ts';
import { type AskNames, ExportNames, namesInSnapshot } from './export-names.ts';
import {
  type ExportInvoice,
  type ExportLine,
  jsonArray,
  type LineRows,
  NO_LINE,
  ROW_FORMATS,
} from './export-columns.ts';
import { focusRows } from './focus-columns.ts';
import { CONTRACTED_COST, LIST_COST, type LineRange, NAMED_COLUMNS, openRange, toLine } from './export-lines.ts';
import { type BillingDb, buyerScopeNamesQuery, namesOf, namesQuery } from './store.ts';
import type { Seller, Stream } from './tables.ts';

// Exports of closed invoices at the database's speed. The database sends each invoice's lines,
// their own columns only, in the order of its primary key (no join, no sort), through a binary
// `COPY … TO STDOUT`, a range of line numbers at a time; this process makes each line's row
// (export-columns.ts: the API's own views for the partner center's files and the JSON, FOCUS's
// columns) on its own core as the next range arrives. Mapping the columns in SQL instead cost the
// database 2.4× the time of the lines' COPY; this way an export costs about what the COPY does
// (bench `export`). One snapshot, memory flat whatever the size. Three formats:
// - `recon`: the partner center's daily-rated usage reconciliation file (its PascalCase columns);
// - `focus`: the FinOps FOCUS 1.2 cost and usage columns (the 21 mandatory ones and the
//   conditional ones that apply to usage billed per resource), with a row for each document's tax
//   (so that BilledCost sums to the document's total); its schema metadata is `focusMetadata`;
// - `json`: a JSON array of the API's line items (one object a line; `jsonArray` ends it).

export type ExportFormat = 'recon' | 'focus' | 'json';
export const EXPORT_FORMATS: ExportFormat[] = ['recon', 'focus', 'json'];
/** FOCUS writes each taxed invoice's tax as a row of its own, after its lines. */
export const hasTaxRows = (format: ExportFormat) => format === 'focus';
export { RECON_COLUMNS } from './export-columns.ts';

/** Which invoices an export takes: all those of a stream and period that match, in number order. */
export interface ExportSelection {
  stream: Stream;
  period: string;
  seller?: Seller;
  buyerId?: string;
  kind?: 'invoice' | 'credit_note';
  /** Only this customer's lines of each invoice (a partner's invoices from the provider). */
  customerId?: string;
}

/** Invoices are listed in pages of this many. */
const INVOICE_PAGE = 1000;
/**
 * An invoice's lines are read in ranges of this many line numbers, one COPY each (the names a range
 * needs are read before it; in a streamed export, while the range before it streams).
 */
export const LINE_RANGE = 50_000;

/** An invoice of an export, with what its rows repeat. */
export interface InvoiceToExport extends ExportInvoice {
  lastLine: number;
  tax: string;
  taxRate: string;
}

/**
 * The rows an export holds, for its totals: the invoices' lines, and with `withTax` (FOCUS) each
 * taxed invoice's tax row (its customer is the buyer of a customer invoice's).
 */
export const exportRows = (withTax: boolean) =>
  withTax
    ? `(select invoice_id, customer_id, amount from invoice_lines
        union all select id, case when stream = 'customer' then buyer_id end, tax from invoices where tax <> 0)`
    : 'invoice_lines';

/** The condition on `invoices` that a selection names, its values bound as $1–$5 (`selectionParameters`). */
export const SELECTED_INVOICES = `status <> 'draft' and stream = $1 and period = $2 and ($3::text is null or seller = $3)
  and ($4::uuid is null or buyer_id = $4) and ($5::text is null or kind = $5)`;
export const selectionParameters = (s: ExportSelection) => [
  s.stream,
  s.period,
  s.seller ?? null,
  s.buyerId ?? null,
  s.kind ?? null,
];

/** Runs a published query on the export's connection (its snapshot). */
async function queryOn<R>(client: pg.ClientBase, db: BillingDb, query: RawBuilder<R>): Promise<R[]> {
  const compiled = query.compile(db);
  return (await client.query(compiled.sql, [...compiled.parameters])).rows as R[];
}

/** The selected invoices, page by page, each with what its rows repeat. */
export async function* invoicesOf(
  client: pg.PoolClient,
  db: BillingDb,
  s: ExportSelection,
): AsyncGenerator<InvoiceToExport> {
  // Numbers are unique per seller: a selection of several sellers' invoices pages by (number, id).
  let after = { number: '', id: '00000000-0000-0000-0000-000000000000' };
  for (;;) {
    const page = await client.query<InvoiceToExport & { seller: string }>(
      `select id::text, number, stream, seller, buyer_id::text as "buyerId", currency, tax::text, tax_rate::text as "taxRate",
              to_char(period_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "periodStart",
              to_char(period_end at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as "periodEnd",
              kind = 'credit_note' or replaces is not null as corrects,
              coalesce((select max(line_no) from invoice_lines where invoice_id = i.id), 0) as "lastLine"
       from invoices i where ${SELECTED_INVOICES} and (number, id) > ($6, $7::uuid)
       order by number, id limit ${INVOICE_PAGE}`,
      [...selectionParameters(s), after.number, after.id],
    );
    const parties = page.rows.flatMap((i) => (i.seller === 'provider' ? [i.buyerId] : [i.buyerId, i.seller]));
    const names = namesOf(await queryOn(client, db, namesQuery([...new Set(parties)])));
    for (const { seller, ...invoice } of page.rows)
      yield {
        ...invoice,
        buyerName: names.get(invoice.buyerId)?.name ?? null,
        issuerName: seller === 'provider' ? 'Stackledger' : (names.get(seller)?.name ?? seller),
      };
    if (page.rows.length < INVOICE_PAGE) return;
    const last = page.rows[page.rows.length - 1];
    after = { number: last.number, id: last.id };
  }
}

/**
 * Sets what an export's transaction needs (on each of its connections): dates written as ISO's,
 * and a range's lines read by the key's index, in its order, by one process.
 */
export async function prepareExport(client: pg.ClientBase): Promise<void> {
  await setLocal(client, {
    DateStyle: 'ISO, YMD',
    // One connection's work: parallel workers would only compete for the same cores.
    max_parallel_workers_per_gather: '0',
    // Once the lines are analyzed, PostgreSQL estimated a range (50,000 lines) cheaper by a bitmap
    // scan and a sort (on disk) than by the key's index, which gives their order: 38 against 19 ms
    // for a range of a 500,000-line invoice (48 ms on three processes in parallel). Scans that
    // need a sort are left only where nothing else can read a table.
    enable_bitmapscan: 'off',
    enable_seqscan: 'off',
  });
}

/**
 * The names an invoice's rows write (export-names.ts): its buyer's scope's, read on `client` (in
 * the export's snapshot, before a COPY is sent there), others asked with `ask` as rows name them.
 */
export async function invoiceNames(
  client: pg.ClientBase,
  db: BillingDb,
  invoice: InvoiceToExport,
  ask: AskNames,
): Promise<ExportNames> {
  return new ExportNames(await queryOn(client, db, buyerScopeNamesQuery(invoice.buyerId)), ask);
}

/**
 * Writes the rows of an invoice's lines in `range` into `out` with `rows` (the invoice's writer,
 * `ROW_FORMATS[format].rows`, kept for its ranges), its lines read on `client`; answers how many.
 */
export async function writeLines(
  client: pg.PoolClient,
  format: ExportFormat,
  invoice: InvoiceToExport,
  names: ExportNames,
  rows: LineRows,
  range: LineRange,
  out: Writable,
): Promise<number> {
  return writeRows(rows, names, openRange(client, format, invoice, range), out);
}

/** Writes the rows of lines as they are read (`openRange`) into `out`; answers how many. */
async function writeRows(
  write: LineRows,
  names: ExportNames,
  lines: AsyncIterable<TextRow[]>,
  out: Writable,
): Promise<number> {
  const chunks = new ByteChunks();
  let rows = 0;
  for await (const batch of lines) {
    await names.complete(batch, NAMED_COLUMNS);
    for (const r of batch) write(toLine(r), chunks);
    rows += batch.length;
    for (const chunk of chunks.take()) await writeInto(out, chunk);
  }
  return rows;
}

/** The customer a tax row names: a customer invoice's buyer (a partner's tax is on the whole invoice). */
const taxCustomer = (invoice: InvoiceToExport) => (invoice.stream === 'customer' ? invoice.buyerId : null);

/**
 * Whether an export has a tax row (FOCUS) for an invoice: when it has tax and the export takes it
 * (a customer's lines of a partner's invoice do not).
 */
export const takesTaxRow = (invoice: InvoiceToExport, customerId: string | undefined) =>
  Number(invoice.tax) !== 0 && (customerId === undefined || customerId.toLowerCase() === taxCustomer(invoice));

/** Writes an invoice's tax row (FOCUS), when the export takes one (`takesTaxRow`); answers 1 or 0. */
export async function writeTaxRow(
  client: pg.PoolClient,
  invoice: InvoiceToExport,
  customerId: string | undefined,
  out: Writable,
): Promise<number> {
  const row = await taxRow(client, invoice, customerId);
  for (const chunk of row ?? []) await writeInto(out, chunk);
  return row === undefined ? 0 : 1;
}

/** An invoice's tax row (FOCUS), when the export takes one (`takesTaxRow`). */
async function taxRow(
  client: pg.ClientBase,
  invoice: InvoiceToExport,
  customerId: string | undefined,
): Promise<Buffer[] | undefined> {
  if (!takesTaxRow(invoice, customerId)) return undefined;
  // The costs it is levied on, exact, as the invoice's rate applies to them.
  const costs = await client.query<{ list: string; contracted: string; description: string }>(
    `select trim_scale(sum(${LIST_COST}) * $2 / 100)::text as list,
            trim_scale(sum(${CONTRACTED_COST}) * $2 / 100)::text as contracted,
            'Tax at ' || trim_scale($2::numeric)::text || '%' as description
     from invoice_lines where invoice_id = $1`,
    [invoice.id, invoice.taxRate],
  );
  const { list, contracted, description } = costs.rows[0] as { list: string; contracted: string; description: string };
  const line: ExportLine = {
    ...NO_LINE,
    invoice_id: invoice.id,
    line_no: invoice.lastLine + 1,
    line_type: 'tax',
    customer_id: taxCustomer(invoice),
    amount: invoice.tax,
    description,
    list_cost: list,
    contracted_cost: contracted,
  };
  const row = new ByteChunks();
  focusRows(invoice, new Map())(line, row);
  return row.take();
}

/**
 * Writes an invoice's rows (and its tax row, FOCUS) into `out`, its ranges of lines read on
 * `client` and `twin` (a second connection with the export's snapshot) in turn, its names read
 * first (`invoiceNames`). Each range's COPY is sent while the range before it is written: read on
 * one connection in turn, the database was idle while this process wrote the end of each range
 * (bench `export`). The tax row's sums (after the last range) are read the same way.
 */
async function writeInvoice(
  client: pg.PoolClient,
  twin: pg.ClientBase,
  db: BillingDb,
  format: ExportFormat,
  invoice: InvoiceToExport,
  customerId: string | undefined,
  out: Writable,
  ask: AskNames,
): Promise<void> {
  const ranges: LineRange[] = [];
  for (let after = 0; after < invoice.lastLine; after += LINE_RANGE)
    ranges.push({ after, to: Math.min(after + LINE_RANGE, invoice.lastLine), customerId });
  const connections = [client, twin];
  const ahead = new ReadAhead();
  const open = (i: number) => openRange(connections[i % 2]!, format, invoice, ranges[i]!);
  const withTax = hasTaxRows(format);
  const names = await invoiceNames(client, db, invoice, ask);
  try {
    let next = ranges.length > 0 ? open(0) : undefined;
    const rows = ROW_FORMATS[format].rows(invoice, names.map);
    let tax: Promise<Buffer[] | undefined> | undefined;
    for (let i = 0; i < ranges.length; i++) {
      const lines = next!;
      next = i + 1 < ranges.length ? open(i + 1) : undefined;
      if (!next && withTax) tax = ahead.read(taxRow(connections[(i + 1) % 2]!, invoice, customerId));
      await writeRows(rows, names, lines, out);
    }
    const row = withTax ? await (tax ?? taxRow(twin, invoice, customerId)) : undefined;
    for (const chunk of row ?? []) await writeInto(out, chunk);
  } finally {
    await ahead.settled();
  }
}

/** The export as a stream of text (CSV or JSON). */
export function exportStream(db: BillingDb, pool: pg.Pool, selection: ExportSelection, format: ExportFormat): Readable {
  const write = async (client: pg.PoolClient, out: Writable) => {
    await prepareExport(client);
    await writeInto(out, ROW_FORMATS[format].header);
    await withSnapshotTwin(pool, client, async (twin, snapshot) => {
      await prepareExport(twin);
      // Names a row asks for while both connections are in a COPY: read in the snapshot on a third.
      const names = namesInSnapshot(pool, db, snapshot);
      try {
        for await (const invoice of invoicesOf(client, db, selection))
          await writeInvoice(client, twin, db, format, invoice, selection.customerId, out, names.ask);
      } finally {
        await names.close();
      }
    });
  };
  return streamFromConnection(pool, write, format === 'json' ? jsonArray() : undefined);
}
