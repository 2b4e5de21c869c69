import { type Readable, Transform, type Writable } from 'node:stream';
import type { RawBuilder } from 'kysely';
import type pg from 'pg';
import { armStore } from '../arm/store.ts';
import { copyOutInto, setLocal, streamFromConnection } from '../db/database.ts';
import { identityStore } from '../identity/store.ts';
import { partnerStore } from '../partner/store.ts';
import {
  type Column,
  csvColumns,
  CUSTOMER_LINE_FIELDS,
  DAILY_RATED_FIELDS,
  FOCUS,
  jsonObject,
  LINE_SHARED,
  METERS_JSON,
  RECON,
} from './export-columns.ts';
import type { BillingDb } from './store.ts';
import type { Seller, Stream } from './tables.ts';

// Exports of closed invoices at the database's speed: one SELECT per format maps every column in
// SQL (export-columns.ts), and PostgreSQL's `COPY (…) TO STDOUT WITH (FORMAT csv, HEADER)` streams
// it straight to the client, invoice by invoice, from one snapshot, so memory stays flat whatever
// the size. Three formats:
// - `recon`: the partner center's daily-rated usage reconciliation file (its PascalCase columns);
// - `focus`: the FinOps FOCUS 1.2 cost and usage columns (the 21 mandatory ones and the
//   conditional ones that apply to usage billed per resource), with a row for each document's tax
//   (so that BilledCost sums to the document's total); its schema metadata is `focusMetadata`;
// - `json`: a JSON array of the API's line items (COPY writes one object per line; `jsonArray`
//   joins them).
// The queries are billing's own (its invoices and lines) with the names other domains publish.

export type ExportFormat = 'recon' | 'focus' | 'json';
export const EXPORT_FORMATS: ExportFormat[] = ['recon', 'focus', 'json'];
/** The COPY options of a format: CSV with its header, or JSON lines (`JSON_LINES`). */
export const copyOptions = (format: ExportFormat) => (format === 'json' ? JSON_LINES : 'format csv');
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
 * An invoice's lines go out in ranges of this many line numbers, one COPY each: a range's rows
 * are sorted in memory (the joins do not keep the index's order), and the first bytes go out at once.
 */
const LINE_RANGE = 50_000;

// COPY takes no bind parameters: the query reads its inputs from these transaction settings.
const INVOICE = 'stackledger.export_invoice';
const LINES_AFTER = 'stackledger.export_lines_after';
const LINES_TO = 'stackledger.export_lines_to';
const CUSTOMER = 'stackledger.export_customer';
const METERS = 'stackledger.export_meters';

/** One JSON text per line, never quoted: JSON text has no raw control characters, so neither byte occurs. */
export const JSON_LINES = `format csv, delimiter e'\\x01', quote e'\\x02'`;

/**
 * FOCUS's rows of an invoice: its lines, then its tax as a line of its own numbered after the last
 * (type `tax`, only when there is tax), with the invoice's list and contracted costs it is levied
 * on. PostgreSQL pushes the outer query's invoice and line-number conditions into both branches,
 * so lines are still read by the primary key, a range at a time.
 */
const LINES_WITH_TAX = `
  select invoice_id, line_no, line_type, customer_id, subscription_id, meter_id, resource_uri, location, usage_date, usage_to,
         quantity, unit_price, list_unit_price, amount, description, resource_parts,
         null::numeric as tax_list_base, null::numeric as tax_contracted_base
  from invoice_lines
  union all
  select t.id, x.last_line + 1, 'tax', case when t.stream = 'customer' then t.buyer_id end, null, null, null, null, null, null,
         null, null, null, t.tax, 'Tax at ' || trim_scale(t.tax_rate)::text || '%', null, x.list_base, x.contracted_base
  from invoices t cross join lateral (
    select coalesce(max(line_no), 0) as last_line,
           sum(case when line_type in ('usage', 'late usage') then quantity * coalesce(list_unit_price, unit_price) else amount end) as list_base,
           sum(case when line_type in ('usage', 'late usage') then quantity * unit_price else amount end) as contracted_base
    from invoice_lines where invoice_id = t.id
  ) x
  where t.tax <> 0`;

/** The rows an export holds: the invoices' lines, and with `withTax` (FOCUS) each taxed invoice's tax row. */
export const exportRows = (withTax: boolean) => (withTax ? `(${LINES_WITH_TAX})` : 'invoice_lines');

/** The SELECT of one invoice's lines (the invoice the setting names), with `columns` as its select list. */
export function exportSelect(db: BillingDb, columns: string, withTax = false): string {
  const published = (query: RawBuilder<unknown>) => {
    const compiled = query.compile(db);
    if (compiled.parameters.length > 0) throw new Error('a published query with parameters cannot go into COPY');
    return compiled.sql;
  };
  return `
    with meters as (
      select * from jsonb_to_recordset(current_setting('${METERS}')::jsonb)
        as m(id uuid, name text, unit text, category text, subcategory text, focus_category text, focus_name text, focus_subcategory text)
    ), names as (
      -- The first of a customer's company, a partner's directory and a subscription's display name.
      select distinct on (id) id, name, domain from (
        select id, company_name as name, domain, 1 as rank from (${published(partnerStore.allCustomers())}) c
        union all select tenant_id, display_name, default_domain, 2 from (${published(identityStore.partnerDirectories())}) d
        union all select subscription_id, display_name, null, 3 from (${published(armStore.subscriptionOwnership())}) s
      ) n order by id, rank
    ), i as materialized (
      -- The invoice, with what each of its lines repeats: computed once (materialized), not per line.
      select i.*, buyer.name as buyer_name, i.buyer_id::text as buyer_text,
             case when i.stream = 'partner' then 'Partner' else 'Customer' end as account_type,
             i.kind = 'credit_note' or i.replaces is not null as corrects,
             case when i.seller = 'provider' then 'Stackledger' else coalesce(seller.name, i.seller) end as issuer_name,
             to_char(i.period_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as period_start_text,
             to_char(i.period_end at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as period_end_text
      from invoices i
      left join names buyer on buyer.id = i.buyer_id
      left join names seller on seller.id = case when i.seller = 'provider' then null else i.seller::uuid end
      where i.id = nullif(current_setting('${INVOICE}'), '')::uuid
    )
    select ${columns}
    from (
      -- The range's rows with what they look up, sorted before their columns are computed (rows
      -- of a few ids and numbers sort faster than ~40 columns of text).
      select l.*, m.name as meter_name, m.unit as meter_unit, m.category as meter_category,
             m.subcategory as meter_subcategory, m.focus_category as meter_focus_category,
             m.focus_name as meter_focus_name, m.focus_subcategory as meter_focus_subcategory,
             customer.name as customer_name, customer.domain as customer_domain, subscription.name as subscription_name
      from ${exportRows(withTax)} l
      left join meters m on m.id = l.meter_id
      left join names customer on customer.id = l.customer_id
      left join names subscription on subscription.id = l.subscription_id
      where l.invoice_id = nullif(current_setting('${INVOICE}'), '')::uuid
        and l.line_no > current_setting('${LINES_AFTER}')::int and l.line_no <= current_setting('${LINES_TO}')::int
        and (current_setting('${CUSTOMER}') = '' or l.customer_id = nullif(current_setting('${CUSTOMER}'), '')::uuid)
      order by l.line_no
    ) l
    join i on i.id = l.invoice_id
    -- once per line, not per column that writes it (offset 0: inlined, each column would compute it again)
    cross join lateral (select ${Object.entries(LINE_SHARED)
      .map(([name, value]) => `${value} as ${name}`)
      .join(', ')} offset 0) x
    order by l.line_no`;
}

export function selectList(format: ExportFormat, stream: Stream): string {
  if (format === 'focus') return csvColumns(FOCUS);
  if (format === 'recon') return csvColumns(RECON);
  const fields: Record<string, Column> = stream === 'partner' ? DAILY_RATED_FIELDS : CUSTOMER_LINE_FIELDS;
  return `${jsonObject(fields)} as line`;
}

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

/** The selected invoices (their ids and last line numbers), page by page. */
export async function* invoicesOf(
  client: pg.PoolClient,
  s: ExportSelection,
  withTax = false,
): AsyncGenerator<{ id: string; lastLine: number }> {
  // Numbers are unique per seller: a selection of several sellers' invoices pages by (number, id).
  let after = { number: '', id: '00000000-0000-0000-0000-000000000000' };
  for (;;) {
    const page = await client.query<{ id: string; number: string; last_line: number }>(
      `select id::text, number, coalesce((select max(line_no) from invoice_lines where invoice_id = i.id), 0)
                + case when $7 and i.tax <> 0 then 1 else 0 end as last_line
       from invoices i where ${SELECTED_INVOICES} and (number, id) > ($6, $8::uuid)
       order by number, id limit ${INVOICE_PAGE}`,
      [...selectionParameters(s), after.number, withTax, after.id],
    );
    for (const row of page.rows) yield { id: row.id, lastLine: row.last_line };
    if (page.rows.length < INVOICE_PAGE) return;
    const last = page.rows[page.rows.length - 1];
    after = { number: last.number, id: last.id };
  }
}

/** Sets what every COPY of the export's transaction reads (its meters, its customer, how numbers print). */
export async function prepareExport(client: pg.PoolClient, selection: ExportSelection): Promise<void> {
  // Numbers as JavaScript prints them need float8's shortest digits (the default, set in case a server differs).
  await setLocal(client, {
    [METERS]: METERS_JSON,
    [CUSTOMER]: selection.customerId ?? '',
    extra_float_digits: '1',
    DateStyle: 'ISO, YMD',
    // One connection's work: parallel workers would only compete for the same cores.
    max_parallel_workers_per_gather: '0',
    // A range's sort stays in memory.
    work_mem: '64MB',
  });
}

/** Points the next COPY of `exportSelect` at one invoice's lines numbered after `after` up to `to`. */
export async function selectLines(client: pg.PoolClient, invoiceId: string, after: number, to: number): Promise<void> {
  await setLocal(client, { [INVOICE]: invoiceId, [LINES_AFTER]: String(after), [LINES_TO]: String(to) });
}

/** The export as a stream of text (CSV or JSON). */
export function exportStream(db: BillingDb, pool: pg.Pool, selection: ExportSelection, format: ExportFormat): Readable {
  const withTax = hasTaxRows(format);
  const select = exportSelect(db, selectList(format, selection.stream), withTax);
  const options = copyOptions(format);
  const write = async (client: pg.PoolClient, out: Writable) => {
    await prepareExport(client, selection);
    let header = format !== 'json';
    const copy = async (invoiceId: string, after: number, to: number) => {
      await selectLines(client, invoiceId, after, to);
      await copyOutInto(client, `copy (${select}) to stdout with (${options}${header ? ', header' : ''})`, out);
      header = false;
    };
    for await (const invoice of invoicesOf(client, selection, withTax))
      for (let after = 0; after < invoice.lastLine; after += LINE_RANGE)
        await copy(invoice.id, after, Math.min(after + LINE_RANGE, invoice.lastLine));
    if (header) await copy('', 0, 0); // no line at all: the header alone
  };
  return streamFromConnection(pool, write, format === 'json' ? jsonArray() : undefined);
}

const COMMA_NEWLINE = Buffer.from(',\n');

/** JSON lines (`{…}\n{…}\n`) as one JSON array (`[\n{…},\n{…}\n]\n`), as they come. */
export function jsonArray(): Transform {
  let started = false;
  let newlineHeld = false; // a line's end: ',\n' if another line follows, '\n]' if none does
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (chunk.length === 0) return done();
      const parts: Buffer[] = [Buffer.from(started ? (newlineHeld ? ',\n' : '') : '[\n')];
      started = true;
      newlineHeld = chunk[chunk.length - 1] === 10;
      const body = newlineHeld ? chunk.subarray(0, -1) : chunk;
      let from = 0;
      for (let nl = body.indexOf(10); nl >= 0; nl = body.indexOf(10, from)) {
        parts.push(body.subarray(from, nl), COMMA_NEWLINE);
        from = nl + 1;
      }
      parts.push(body.subarray(from));
      done(null, Buffer.concat(parts));
    },
    flush(done) {
      done(null, started ? '\n]\n' : '[\n]\n');
    },
  });
}
