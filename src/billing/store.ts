import { Decimal } from 'decimal.js';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { armStore } from '../arm/store.ts';
import { identityStore } from '../identity/store.ts';
import { partnerStore } from '../partner/store.ts';
import { LIST_SHEET } from '../rating/migrations.ts';
import { ratingCtes, roundMoneySql } from '../rating/rating.ts';
import { usageStore } from '../usage/store.ts';
import type { BillingTables, InvoiceLinesTable, InvoicesTable, Seller, Stream } from './tables.ts';
import { keyset, pageQuery, type Cursor } from '../core/paging.ts';

// All SQL of billing on the hub: the billing periods' windows, rating and closing in one
// statement per batch of buyers, and reading invoices back. Billing owns its tables and the price
// sheets it rates with; what it reads of other domains (usage, subscriptions, partners'
// directories, customers) it reads through the queries those domains publish.
export type BillingDb = Kysely<BillingTables>;

/** What one buyer's invoice for one period takes in: usage up to `periodEnd`, minus what earlier invoices took. */
export interface InvoiceWindow {
  invoiceId: string;
  seller: Seller;
  buyerId: string;
  periodStart: Date;
  periodEnd: Date;
  prevEnd: Date | null;
  prevWatermark: string | null;
  prevAdjustmentWatermark: string | null;
  taxRate: string;
}

export interface Watermarks {
  usage: string;
  adjustments: string;
}

/** A line of an invoice's document (see `documentLines`). */
export interface DocumentLine {
  customer_id: string | null;
  subscription_id: string | null;
  meter_id: string | null;
  line_type: string;
  unit_price: string | null;
  quantity: string | null;
  amount: string;
  usage_from: string | null;
  usage_to: string | null;
  description: string | null;
  reason: string | null;
}

export type StoredLine = InvoiceLinesTable;

/** A subscription's buyer: the directory that uses it, and the partner that sold it (a partner's own subscriptions bill to itself). */
const BILLABLE_SUBSCRIPTIONS = sql`
  select s.subscription_id, s.tenant_id as customer_id, coalesce(s.offer_id, '') as offer_id, coalesce(s.sold_by, s.tenant_id) as partner_id
  from (${armStore.subscriptionOwnership()}) s left join (${identityStore.partnerDirectories()}) d on d.tenant_id = s.tenant_id
  where s.sold_by is not null or d.tenant_id is not null`;

/**
 * The rated lines of a set of invoice windows, as CTEs ending in `all_lines`. Usage is grouped per
 * day; tiers accumulate over the invoice per subscription and meter (by day, then resource); each
 * day is priced by the segment in force that day; amounts are rounded once, at the line. Partner
 * invoices keep one line per day (the partner center's daily-rated lines); a customer's invoice
 * sums each subscription, meter, resource and price over the period. Late usage (from before the
 * period) keeps its day and is labelled.
 */
function ratedLines(stream: Stream, windows: InvoiceWindow[], marks: Watermarks): RawBuilder<unknown> {
  const json = JSON.stringify(
    windows.map((w) => ({
      invoice_id: w.invoiceId,
      seller: w.seller,
      buyer_id: w.buyerId,
      period_start: w.periodStart.toISOString(),
      period_end: w.periodEnd.toISOString(),
      prev_end: w.prevEnd?.toISOString() ?? null,
      prev_watermark: w.prevWatermark,
      prev_adjustment_watermark: w.prevAdjustmentWatermark,
      tax_rate: w.taxRate,
    })),
  );
  // Usage attributions newer than the oldest previous watermark, and older ones whose hour is
  // after the earliest previous period's end: a superset of every window's share, read by index.
  const lowWatermark = windows.some((w) => w.prevWatermark === null)
    ? '0'
    : windows
        .map((w) => BigInt(w.prevWatermark!))
        .reduce((a, b) => (a < b ? a : b))
        .toString();
  const prevEnds = windows.filter((w) => w.prevEnd).map((w) => w.prevEnd!.getTime());
  const lowEnd = new Date(prevEnds.length ? Math.min(...prevEnds) : 8.64e15);
  const partner = stream === 'partner';
  return sql`
    w as (
      select x.*, ${partner ? sql`array['provider']` : sql`array['provider', x.seller]`} as sellers
      from jsonb_to_recordset(${json}::jsonb) as x(invoice_id uuid, seller text, buyer_id uuid, period_start timestamptz, period_end timestamptz,
        prev_end timestamptz, prev_watermark bigint, prev_adjustment_watermark bigint, tax_rate numeric)
    ),
    subs as (${BILLABLE_SUBSCRIPTIONS}),
    candidates as (${usageStore.billableUsage({ lowWatermark, highWatermark: marks.usage, lateSince: lowEnd })}),
    usage as (
      select w.invoice_id, s.customer_id, s.offer_id, s.subscription_id, c.meter_id, c.resource_uri, c.location,
             (c.hour at time zone 'UTC')::date as usage_date, sum(c.quantity) as quantity
      from candidates c
      join subs s on s.subscription_id = c.billed_subscription_id
      join w on ${partner ? sql`s.partner_id = w.buyer_id` : sql`s.customer_id = w.buyer_id and s.partner_id::text = w.seller`}
      where c.hour < w.period_end and (w.prev_watermark is null or c.id > w.prev_watermark or c.hour >= w.prev_end)
      group by w.invoice_id, s.customer_id, s.offer_id, s.subscription_id, c.meter_id, c.resource_uri, c.location, usage_date
      having sum(c.quantity) <> 0
    ),
    ${ratingCtes(LIST_SHEET)},
    usage_lines as (
      ${
        partner
          ? sql`select invoice_id, case when late then 'late usage' else 'usage' end as line_type, customer_id, subscription_id, meter_id, resource_uri, location,
                  usage_date, usage_date as usage_to, tier_no as tier, quantity, unit_price, ${roundMoneySql(sql`quantity * unit_price`)} as amount
                from rated`
          : sql`select invoice_id, case when late then 'late usage' else 'usage' end as line_type, customer_id, subscription_id, meter_id, resource_uri, location,
                  min(usage_date) as usage_date, max(usage_date) as usage_to, tier_no as tier, sum(quantity) as quantity, unit_price, ${roundMoneySql(sql`sum(quantity) * unit_price`)} as amount
                from rated group by invoice_id, late, customer_id, subscription_id, meter_id, resource_uri, location, tier_no, unit_price`
      }
    ),
    adjustment_lines as (
      select w.invoice_id, a.kind as line_type, a.customer_id, a.subscription_id, null::uuid as meter_id, null::text as resource_uri, null::text as location,
             (a.created_at at time zone 'UTC')::date as usage_date, null::date as usage_to, null::int as tier, null::numeric as quantity, null::numeric as unit_price,
             a.amount, a.description, a.reason, a.created_by
      from w join billing_adjustments a on a.seller = w.seller and a.customer_id = w.buyer_id and a.credit_note_for is null
      where a.id <= ${marks.adjustments}::bigint and a.id > coalesce(w.prev_adjustment_watermark, 0)
    ),
    all_lines as (
      select l.*, (row_number() over (partition by l.invoice_id order by l.line_type in ('credit', 'adjustment'), l.subscription_id, l.meter_id, l.resource_uri, l.usage_date, l.tier, l.unit_price))::int as line_no
      from (
        select invoice_id, line_type, customer_id, subscription_id, meter_id, resource_uri, location, usage_date, usage_to, tier, quantity, unit_price, amount,
               null::text as description, null::text as reason, null::text as created_by
        from usage_lines
        union all select * from adjustment_lines
      ) l
    ),
    totals as (select invoice_id, sum(amount) as subtotal from all_lines group by invoice_id)`;
}

/** Tax on a subtotal at a rate in percent, rounded once (as in `tax` of `billing/invoices.ts`'s preview). */
const taxOn = (subtotal: RawBuilder<unknown>, ratePercent: RawBuilder<unknown>) =>
  roundMoneySql(sql`${subtotal} * ${ratePercent} / 100`);

/** Rating groups and sorts a month of usage: in memory, rather than in temporary files. */
function withRatingMemory<T>(db: BillingDb, work: (tx: BillingDb) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await sql`set local work_mem = '256MB'`.execute(tx);
    return work(tx);
  });
}

const LINE_COLUMNS = sql`invoice_id, line_no, line_type, customer_id, subscription_id, meter_id, resource_uri, location, usage_date, usage_to, tier, quantity, unit_price, amount, description, reason, created_by`;

/** Invoices by period, then number (unique); index invoices_buyer_order, migration 0603. */
export const INVOICE_ORDER = keyset(
  'invoices',
  [
    ['period', 'text'],
    ['number', 'text'],
  ],
  (r: InvoicesTable) => [r.period, r.number],
);
/** An invoice's lines by line number (its primary key). */
export const LINE_ORDER = keyset('invoiceLines', [['line_no', 'int']], (l: { line_no: number }) => [l.line_no]);

export const billingStore = {
  /**
   * The watermarks of a close: every usage attribution and adjustment committed so far. The brief
   * SHARE lock waits for writers in flight, so nothing below the mark can still appear.
   */
  async watermarks(db: BillingDb): Promise<Watermarks> {
    return db.transaction().execute(async (tx) => {
      await usageStore.lockAttributions(tx);
      await sql`lock table billing_adjustments in share mode`.execute(tx);
      return billingStore.currentMarks(tx);
    });
  },

  /** What is committed now, without waiting for writers in flight: enough for a preview. */
  async currentMarks(db: BillingDb): Promise<Watermarks> {
    const r = await sql<Watermarks>`
      select ${usageStore.attributionMark()}::text as usage, (select coalesce(max(id), 0) from billing_adjustments)::text as adjustments
    `.execute(db);
    return r.rows[0];
  },

  /** Closes a batch of windows in one statement: each invoice with all its lines, or nothing if it exists already. */
  async closeWindows(
    db: BillingDb,
    q: {
      stream: Stream;
      period: string;
      windows: InvoiceWindow[];
      marks: Watermarks;
      invoiceDate: Date;
      currency: string;
    },
  ): Promise<{ invoices: number; lines: number }> {
    if (q.windows.length === 0) return { invoices: 0, lines: 0 };
    const prefix = q.stream === 'partner' ? 'G' : 'INV';
    const r = await withRatingMemory(db, (tx) =>
      sql<{ invoices: string; lines: string }>`
      with ${ratedLines(q.stream, q.windows, q.marks)},
      invoices_added as (
        insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark,
                              invoice_date, currency, subtotal, tax_rate, tax, total, credit_note_for, created_at)
        select w.invoice_id, ${prefix} || lpad(nextval('invoice_numbers')::text, 9, '0'), ${q.stream}, 'invoice', w.seller, w.buyer_id, ${q.period},
               w.period_start, w.period_end, ${q.marks.usage}::bigint, ${q.marks.adjustments}::bigint, ${q.invoiceDate}::timestamptz, ${q.currency},
               coalesce(t.subtotal, 0), w.tax_rate, ${taxOn(sql`coalesce(t.subtotal, 0)`, sql`w.tax_rate`)},
               coalesce(t.subtotal, 0) + ${taxOn(sql`coalesce(t.subtotal, 0)`, sql`w.tax_rate`)}, null, ${q.invoiceDate}::timestamptz
        from w left join totals t on t.invoice_id = w.invoice_id
        on conflict (stream, seller, buyer_id, period) where kind = 'invoice' do nothing
        returning id
      ),
      lines_added as (
        insert into invoice_lines (${LINE_COLUMNS})
        select l.invoice_id, l.line_no, l.line_type, l.customer_id, l.subscription_id, l.meter_id, l.resource_uri, l.location, l.usage_date, l.usage_to, l.tier,
               l.quantity, l.unit_price, l.amount, l.description, l.reason, l.created_by
        from all_lines l join invoices_added i on i.id = l.invoice_id
        returning 1
      )
      select (select count(*) from invoices_added)::text as invoices, (select count(*) from lines_added)::text as lines
    `.execute(tx),
    );
    return { invoices: Number(r.rows[0].invoices), lines: Number(r.rows[0].lines) };
  },

  /** The lines one window would have if it closed now (the open period's unbilled usage). */
  async previewWindow(
    db: BillingDb,
    stream: Stream,
    window: InvoiceWindow,
    marks: Watermarks,
  ): Promise<{ lines: StoredLine[]; subtotal: string }> {
    const r = await withRatingMemory(db, (tx) =>
      sql<StoredLine>`
      with ${ratedLines(stream, [window], marks)}
      select ${LINE_COLUMNS} from all_lines order by line_no
    `.execute(tx),
    );
    const subtotal = r.rows.reduce((sum, l) => sum.plus(l.amount), new Decimal(0));
    return { lines: r.rows, subtotal: subtotal.toFixed(2) };
  },

  /** The last invoice of each buyer of a seller set (to continue from). */
  async lastInvoices(db: BillingDb, stream: Stream): Promise<Map<string, InvoicesTable>> {
    const rows = await sql<InvoicesTable>`
      select distinct on (seller, buyer_id) * from invoices where stream = ${stream} and kind = 'invoice' order by seller, buyer_id, period_end desc
    `.execute(db);
    return new Map(rows.rows.map((r) => [`${r.seller}/${r.buyer_id}`, r]));
  },

  /** Who buys on each stream: partners from the provider, customers from their partner. */
  async buyers(db: BillingDb, stream: Stream): Promise<{ seller: Seller; buyerId: string; since: Date }[]> {
    const { rows } =
      stream === 'partner'
        ? await sql<{ seller: Seller; buyerId: string; since: Date }>`
            select 'provider' as seller, tenant_id::text as "buyerId", created_at as since
            from (${identityStore.partnerDirectories()}) d order by tenant_id`.execute(db)
        : await sql<{ seller: Seller; buyerId: string; since: Date }>`
            select partner_tenant_id::text as seller, id::text as "buyerId", created_at as since
            from (${partnerStore.allCustomers()}) c order by partner_tenant_id, id`.execute(db);
    return rows;
  },

  /** Changes when buyers, billing days or invoices change: what the billing job's shortcut depends on. */
  async fingerprint(db: BillingDb): Promise<string> {
    const r = await sql<{ f: string }>`
      select concat_ws('/', (select count(*) from (${partnerStore.allCustomers()}) c), (select count(*) from (${identityStore.partnerDirectories()}) d),
                       (select max(updated_at) from billing_profiles), (select count(*) from invoices)) as f
    `.execute(db);
    return r.rows[0].f;
  },

  async profiles(db: BillingDb) {
    return db.selectFrom('billing_profiles').selectAll().execute();
  },

  async upsertProfile(
    db: BillingDb,
    p: { seller: Seller; customerId: string | null; billingDay: number; taxRate: string; by: string; at: Date },
  ) {
    await sql`
      insert into billing_profiles (seller, customer_id, billing_day, tax_rate, updated_by, updated_at)
      values (${p.seller}, ${p.customerId}::uuid, ${p.billingDay}, ${p.taxRate}::numeric, ${p.by}, ${p.at}::timestamptz)
      on conflict (seller, customer_id) do update set billing_day = excluded.billing_day, tax_rate = excluded.tax_rate,
        updated_by = excluded.updated_by, updated_at = excluded.updated_at
    `.execute(db);
  },

  async listInvoices(
    db: BillingDb,
    f: { stream: Stream; seller?: Seller; buyerId?: string; period?: string; kind?: 'invoice' | 'credit_note' },
    cursor: Cursor,
  ): Promise<InvoicesTable[]> {
    let q = db.selectFrom('invoices').selectAll().where('stream', '=', f.stream);
    if (f.seller) q = q.where('seller', '=', f.seller);
    if (f.buyerId) q = q.where('buyer_id', '=', f.buyerId);
    if (f.period) q = q.where('period', '=', f.period);
    if (f.kind) q = q.where('kind', '=', f.kind);
    return pageQuery(q, INVOICE_ORDER, cursor).execute();
  },

  async findInvoice(db: BillingDb, number: string): Promise<InvoicesTable | undefined> {
    return db
      .selectFrom('invoices')
      .selectAll()
      .where(sql`lower(number)`, '=', number.toLowerCase())
      .executeTakeFirst();
  },

  /** Lines after `afterLineNo`, in order (keyset paging holds for invoices of any size). */
  async lines(
    db: BillingDb,
    invoiceId: string,
    afterLineNo: number,
    limit: number,
    customerId?: string,
  ): Promise<StoredLine[]> {
    let q = db
      .selectFrom('invoice_lines')
      .selectAll()
      .where('invoice_id', '=', invoiceId)
      .where('line_no', '>', afterLineNo);
    if (customerId) q = q.where('customer_id', '=', customerId);
    return q.orderBy('line_no').limit(limit).execute();
  },

  async insertAdjustment(
    db: BillingDb,
    a: {
      seller: Seller;
      customerId: string;
      subscriptionId: string | null;
      kind: 'credit' | 'adjustment';
      amount: string;
      description: string;
      reason: string;
      by: string;
      at: Date;
      creditNoteFor: string | null;
    },
  ) {
    const r = await sql<{ id: string }>`
      insert into billing_adjustments (seller, customer_id, subscription_id, kind, amount, description, reason, created_by, created_at, credit_note_for)
      values (${a.seller}, ${a.customerId}::uuid, ${a.subscriptionId}::uuid, ${a.kind}, ${a.amount}::numeric, ${a.description}, ${a.reason}, ${a.by}, ${a.at}::timestamptz, ${a.creditNoteFor}::uuid)
      returning id::text
    `.execute(db);
    return r.rows[0].id;
  },

  /** A credit note: its own document with one line, referring to the closed invoice it corrects. */
  async insertCreditNote(
    db: BillingDb,
    n: {
      id: string;
      of: InvoicesTable;
      amount: string;
      description: string;
      reason: string;
      by: string;
      at: Date;
      subscriptionId: string | null;
    },
  ) {
    await sql`
      with note as (
        insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark,
                              invoice_date, currency, subtotal, tax_rate, tax, total, credit_note_for, created_at)
        values (${n.id}::uuid, 'CN' || lpad(nextval('invoice_numbers')::text, 9, '0'), ${n.of.stream}, 'credit_note', ${n.of.seller}, ${n.of.buyer_id}::uuid, ${n.of.period},
                ${n.of.period_start}::timestamptz, ${n.of.period_end}::timestamptz, 0, 0, ${n.at}::timestamptz, ${n.of.currency},
                ${n.amount}::numeric, ${n.of.tax_rate}::numeric, ${taxOn(sql`${n.amount}::numeric`, sql`${n.of.tax_rate}::numeric`)},
                ${n.amount}::numeric + ${taxOn(sql`${n.amount}::numeric`, sql`${n.of.tax_rate}::numeric`)}, ${n.of.id}::uuid, ${n.at}::timestamptz)
        returning id
      )
      insert into invoice_lines (invoice_id, line_no, line_type, customer_id, subscription_id, amount, description, reason, created_by)
      select id, 1, 'credit', ${n.of.buyer_id}::uuid, ${n.subscriptionId}::uuid, ${n.amount}::numeric, ${n.description}, ${n.reason}, ${n.by} from note
    `.execute(db);
  },

  /** Names for the lines: customers' companies, partners' directories, subscriptions' display names. */
  /**
   * An invoice's lines as its document shows them: usage summed per customer, subscription, meter,
   * line type and unit price (the amounts are the lines' own, already rounded, so the document's
   * sums are the invoice's), and each credit or adjustment as it is.
   */
  async documentLines(db: BillingDb, invoiceId: string): Promise<DocumentLine[]> {
    const r = await sql<DocumentLine>`
      select customer_id::text, subscription_id::text, meter_id::text, line_type, unit_price::text,
        sum(quantity)::text as quantity, sum(amount)::text as amount, min(usage_date)::text as usage_from,
        max(coalesce(usage_to, usage_date))::text as usage_to, null::text as description, null::text as reason
      from invoice_lines where invoice_id = ${invoiceId} and meter_id is not null
      group by customer_id, subscription_id, meter_id, line_type, unit_price
      union all
      select customer_id::text, subscription_id::text, null, line_type, null, null, amount::text,
        usage_date::text, usage_date::text, description, reason
      from invoice_lines where invoice_id = ${invoiceId} and meter_id is null
      order by 1 nulls last, 2 nulls last, 3 nulls last, 4, 5`.execute(db);
    return r.rows;
  },

  /** The number of the invoice with this id. */
  async invoiceNumber(db: BillingDb, id: string): Promise<string | undefined> {
    const row = await db.selectFrom('invoices').select('number').where('id', '=', id).executeTakeFirst();
    return row?.number;
  },

  async names(db: BillingDb, ids: string[]): Promise<Map<string, { name: string; domain: string | null }>> {
    if (ids.length === 0) return new Map();
    const r = await sql<{ id: string; name: string; domain: string | null }>`
      select id::text, company_name as name, domain from (${partnerStore.allCustomers()}) c where id = any(${ids}::uuid[])
      union all select tenant_id::text, display_name, default_domain from (${identityStore.partnerDirectories()}) d where tenant_id = any(${ids}::uuid[])
      union all select subscription_id::text, display_name, null from (${armStore.subscriptionOwnership()}) s where subscription_id = any(${ids}::uuid[])
    `.execute(db);
    const out = new Map<string, { name: string; domain: string | null }>();
    for (const row of r.rows) if (!out.has(row.id)) out.set(row.id, { name: row.name, domain: row.domain });
    return out;
  },
};
