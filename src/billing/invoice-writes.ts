import { type RawBuilder, sql } from 'kysely';
import { type DailyFolded, dailyStore } from '../usage/daily-store.ts';
import {
  type FinalizedInvoice,
  type InvoiceWindow,
  invoiceEventData,
  invoicesFinalized,
  LINE_COLUMNS,
  ratedLines,
  taxOn,
} from './rated-store.ts';
import { notificationStore } from '../notifications/store.ts';
import { partnerUnbilledStore } from './partner-unbilled.ts';
import type { BillingDb } from './store.ts';
import type { Seller, Stream } from './tables.ts';

// The statements that write invoices: closing windows (as drafts or finalized), re-rating and
// finalizing drafts, a replacement for a voided invoice; taking back what an invoice billed; and
// the per-seller number counters. Callers open the transaction (numbers, locks and undo must
// commit with the write).

export interface InvoiceWrite {
  stream: Stream;
  period: string;
  windows: InvoiceWindow[];
  invoiceDate: Date;
  currency: string;
  status: 'draft' | 'finalized';
  /**
   * `insert`: new invoices (a close, or a replacement); `update`: the drafts the windows' ids name,
   * locked by the caller and emptied with `takeBack` first.
   */
  write: 'insert' | 'update';
  /** A new draft stays open this many days after its period ends. */
  graceDays?: number;
  /** The voided invoice a (single-window) insert replaces. */
  replaces?: string;
  /**
   * The caller's fold, just before this transaction (a run closing both streams side by side):
   * what is billed is every attribution committed before it. Without it, the write folds in its
   * own transaction, and holds the fold until it commits.
   */
  folded?: DailyFolded;
}

/**
 * Tells the seller's webhooks of new drafts: a partner's reach the partner (not the customer),
 * the provider's only the system's (not the buying partner): drafts are the seller's alone.
 */
function draftsCreated(tx: BillingDb, stream: Stream, added: FinalizedInvoice[], at: Date) {
  return notificationStore.record(
    tx,
    added.map((i) => ({
      key: `invoice.draft_created:${i.id}`,
      type: 'invoice.draft_created',
      occurredAt: at,
      data: { invoiceName: i.name, ...invoiceEventData(stream, i) },
      partnerId: stream === 'customer' ? i.seller : null,
      customerId: null,
    })),
  );
}

/** The prefix of a number: the provider's invoices G, a partner's INV, credit notes CN. */
export const numberPrefix = (stream: Stream) => (stream === 'partner' ? 'G' : 'INV');
const formatNumber = (prefix: string, n: RawBuilder<unknown>) => sql`${prefix} || lpad((${n})::text, 9, '0')`;

/**
 * Takes the counters of these sellers and prefix for the transaction (made at 0 when new): the
 * closes and finalizations of one seller number one at a time, so numbers are gapless, and a
 * statement run after this one sees every invoice the previous holder committed.
 */
export async function lockCounters(tx: BillingDb, sellers: Seller[], prefix: string): Promise<void> {
  const distinct = [...new Set(sellers)].sort();
  if (distinct.length === 0) return;
  await sql`
    insert into invoice_number_counters (seller, prefix, last) select s, ${prefix}, 0 from unnest(${distinct}::text[]) s
    on conflict do nothing`.execute(tx);
  await sql`
    select 1 from invoice_number_counters where prefix = ${prefix} and seller = any(${distinct}::text[]) order by seller for update
  `.execute(tx);
}

/** The seller's next number of a prefix, taken in the caller's transaction. */
export async function takeNumber(tx: BillingDb, seller: Seller, prefix: string): Promise<string> {
  await lockCounters(tx, [seller], prefix);
  const r = await sql<{ number: string }>`
    update invoice_number_counters set last = last + 1 where seller = ${seller} and prefix = ${prefix}
    returning ${formatNumber(prefix, sql`last`)} as number`.execute(tx);
  return r.rows[0].number;
}

/**
 * Takes back what one invoice billed: what its usage lines billed (a partner invoice's, back to
 * the kept unbilled lines), its shares of `billed_daily`, the credits and adjustments it took,
 * and, for a draft, its lines.
 */
export async function takeBack(tx: BillingDb, invoiceId: string): Promise<void> {
  await partnerUnbilledStore.giveBackLines(tx, invoiceId);
  await sql`
    delete from billed_daily b using invoices i
    where i.id = ${invoiceId}::uuid and b.buyer_id = i.buyer_id and b.invoice_id = i.id
  `.execute(tx);
  await sql`delete from billed_adjustments where invoice_id = ${invoiceId}::uuid`.execute(tx);
  await sql`delete from invoice_lines l using invoices i where i.id = ${invoiceId}::uuid and l.invoice_id = i.id and i.status = 'draft'`.execute(
    tx,
  );
}

/**
 * What a customer's invoice billed of each daily aggregate's key: a row of `billed_daily` per key.
 * A partner invoice's usage lines say it (one per key and day, with the quantity it retired from
 * the kept lines: a day's rated parts add up to its quantity): rows repeating them were a quarter
 * of a partner close.
 */
const BILLED_PER_KEY = sql`
  usage_billed as (
    insert into billed_daily (buyer_id, stream, seller, subscription_id, usage_date, meter_id, resource_uri, location, quantity, invoice_id)
    select u.buyer_id, 'customer', u.seller, u.subscription_id, u.usage_date, u.meter_id, u.resource_uri, u.location, u.quantity, u.invoice_id
    from unbilled u join written i on i.id = u.invoice_id
    returning 1
  ),`;

/**
 * Whether a partner close's usage lines carry other than what it retired from the kept lines (as
 * many, the same total): a kept line deleted and not billed would be lost.
 */
const LINES_APART_FROM_RETIRED = sql`
  (select row(count(*), coalesce(sum(quantity), 0)) from unbilled)
  is distinct from (select row(count(*), coalesce(sum(l.quantity), 0)) from all_lines l join written i on i.id = l.invoice_id
                    where l.line_type in ('usage', 'late usage'))`;

/**
 * Writes the invoices of one stream and period in one statement: each with all its lines, what
 * it billed per usage key (a customer's invoice its own rows of `billed_daily`, a partner
 * invoice its usage lines), the credits and adjustments it took,
 * and — when finalized — its number from its seller's counter (locked by the caller) and the
 * `invoice.finalized` event. An insert writes nothing for a buyer whose
 * invoice of the period exists (the unique index `invoices_once`); an update only drafts.
 */
export async function writeInvoices(tx: BillingDb, q: InvoiceWrite): Promise<{ invoices: number; lines: number }> {
  if (q.windows.length === 0) return { invoices: 0, lines: 0 };
  await sql`set local work_mem = '256MB'`.execute(tx);
  // The planner's row counts for these CTEs are guesses of a row or two (a JSON recordset, CTE
  // scans): on them it nests loops that compare every line with every invoice and resource id,
  // quadratic in a close's size. Hash joins cost the same whatever the count. (The lateral look-up
  // of what was billed stays an index look-up per aggregate.)
  await sql`set local enable_nestloop = off`.execute(tx);
  // A nested loop that remains (the look-up above) then costs 10^10 to the planner, which on a server
  // with JIT (PostgreSQL's default where built with LLVM) compiles the statement: seconds, for
  // a statement that runs in milliseconds.
  await sql`set local jit = off`.execute(tx);
  // Folded here unless the caller folded just before (`folded`): what is billed is every attribution
  // committed before the fold.
  const folded = q.folded ?? (await dailyStore.fold(tx));
  const finalized = q.status === 'finalized';
  const partner = q.stream === 'partner';
  const prefix = numberPrefix(q.stream);
  const subtotal = sql`coalesce(t.subtotal, 0)`;
  const tax = taxOn(subtotal, sql`w.tax_rate`);
  // Which windows this statement writes: they take a number, and a partner's bill its kept lines.
  const eligible =
    q.write === 'update'
      ? sql`exists (select 1 from invoices i where i.id = w.invoice_id and i.status = 'draft')`
      : q.replaces
        ? sql`true`
        : sql`not exists (select 1 from invoices i where i.stream = ${q.stream} and i.seller = w.seller and i.buyer_id = w.buyer_id
                and i.period = ${q.period} and i.kind = 'invoice' and i.replaces is null)`;
  const numbering = finalized
    ? sql`numbered as (
        select w.invoice_id, row_number() over (partition by w.seller order by w.ord) as n from w where ${eligible}
      ),
      counted as (
        update invoice_number_counters c set last = c.last + x.cnt
        from (select w.seller, count(*) as cnt from w join numbered nb on nb.invoice_id = w.invoice_id group by w.seller) x
        where c.seller = x.seller and c.prefix = ${prefix}
        returning c.seller, c.last - x.cnt as base
      ),`
    : sql``;
  const number = finalized ? formatNumber(prefix, sql`k.base + nb.n`) : sql`null::text`;
  const numberJoins = finalized
    ? sql`join numbered nb on nb.invoice_id = w.invoice_id join counted k on k.seller = w.seller`
    : sql``;
  const written =
    q.write === 'insert'
      ? sql`insert into invoices (id, number, status, draft_name, finalize_after, replaces, stream, kind, seller, buyer_id, period, period_start, period_end,
                                  watermark, adjustment_watermark, invoice_date, currency, subtotal, tax_rate, tax, total, credit_note_for, created_at,
                                  billed_in_lines)
          select w.invoice_id, ${number}, ${q.status}, case when ${finalized} then null else 'DRAFT-' || w.invoice_id end,
                 case when ${finalized} then null else w.period_end + make_interval(days => ${q.graceDays ?? 0}) end,
                 ${q.replaces ?? null}::uuid, ${q.stream}, 'invoice', w.seller, w.buyer_id, ${q.period},
                 w.period_start, w.period_end, 0, 0, ${q.invoiceDate}::timestamptz, ${q.currency},
                 ${subtotal}, w.tax_rate, ${tax}, ${subtotal} + ${tax}, null, ${q.invoiceDate}::timestamptz, ${partner}
          from w left join totals t on t.invoice_id = w.invoice_id ${numberJoins}
          -- buyers in one order (numbers follow it; two runs meet on the unique index in the same order)
          order by w.ord
          on conflict (stream, seller, buyer_id, period) where kind = 'invoice' and replaces is null do nothing
          returning id, number, name, seller, buyer_id, period, period_start, period_end, total, currency`
      : sql`update invoices i set number = ${number}, status = ${q.status}, invoice_date = ${q.invoiceDate}::timestamptz,
            finalize_after = case when ${finalized} then null else i.finalize_after end,
            subtotal = ${subtotal}, tax = ${tax}, total = ${subtotal} + ${tax}, billed_in_lines = ${partner}
          from w left join totals t on t.invoice_id = w.invoice_id ${numberJoins}
          where i.id = w.invoice_id and i.status = 'draft'
          returning i.id, i.number, i.name, i.seller, i.buyer_id, i.period, i.period_start, i.period_end, i.total, i.currency`;
  const r = await sql<{ invoices: string; lines: string; lines_apart: boolean; added: FinalizedInvoice[] }>`
    with ${ratedLines(folded, q.stream, q.windows, eligible)},
    ${numbering}
    written as (${written}),
    lines_added as (
      insert into invoice_lines (buyer_id, ${LINE_COLUMNS})
      select i.buyer_id, l.invoice_id, l.line_no, l.line_type, l.customer_id, l.subscription_id, l.meter_id, l.resource_uri, l.location, l.usage_date, l.usage_to, l.tier,
             l.quantity, l.unit_price, l.amount, l.list_unit_price, l.description, l.reason, l.created_by
      from all_lines l join written i on i.id = l.invoice_id
      returning 1
    ),
    ${partner ? sql`` : BILLED_PER_KEY}
    adjustments_billed as (
      insert into billed_adjustments (buyer_id, adjustment_id, invoice_id)
      select a.buyer_id, a.id, a.invoice_id from adjustments_due a join written i on i.id = a.invoice_id
      returning 1
    )
    select (select count(*) from written)::text as invoices, (select count(*) from lines_added)::text as lines,
      ${partner ? LINES_APART_FROM_RETIRED : sql`false`} as lines_apart,
      (select coalesce(jsonb_agg(jsonb_build_object('id', i.id, 'number', i.number, 'name', i.name, 'seller', i.seller, 'buyer_id', i.buyer_id,
        'period', i.period, 'period_start', i.period_start, 'period_end', i.period_end, 'total', i.total::text, 'currency', i.currency)), '[]')
        from written i) as added
  `.execute(tx);
  // A partner close deletes the kept lines it bills (`ratedLines`): only those of the windows it
  // writes (its sellers' counters are held), each its invoice's usage line. Otherwise: undone.
  if (r.rows[0].lines_apart) throw new Error('a partner close retired unbilled lines its invoices do not bill');
  await sql`set local enable_nestloop = default`.execute(tx);
  await sql`set local jit = default`.execute(tx);
  if (finalized) await invoicesFinalized(tx, q.stream, r.rows[0].added, q.invoiceDate);
  else if (q.write === 'insert') await draftsCreated(tx, q.stream, r.rows[0].added, q.invoiceDate);
  return { invoices: Number(r.rows[0].invoices), lines: Number(r.rows[0].lines) };
}
