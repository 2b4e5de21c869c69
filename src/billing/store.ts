import { type Kysely, type RawBuilder, sql } from 'kysely';
import { armStore } from '../arm/store.ts';
import { identityStore } from '../identity/store.ts';
import { partnerStore } from '../partner/store.ts';
import { taxOn } from './rated-store.ts';
import type { BillingTables, InvoiceLinesTable, InvoicesTable, Seller, Stream } from './tables.ts';
import { keyset, pageQuery, type Cursor } from '../core/paging.ts';

// The SQL of billing on the hub apart from rating (rated-store.ts): buyers, profiles, invoices
// and their lines, adjustments and credit notes. Billing owns its tables and the price sheets it
// rates with; what it reads of other domains (usage, subscriptions, partners' directories,
// customers) it reads through the queries those domains publish.
export type BillingDb = Kysely<BillingTables>;

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

/** A line as views show it (an open period's preview is rated, not stored, and has no buyer column). */
export type StoredLine = Omit<InvoiceLinesTable, 'buyer_id'>;
/** What the partner center shows of a usage line (`dailyRatedLineView`): an invoice's, or an unbilled one. */
export type DailyRatedLine = Pick<
  StoredLine,
  | 'customer_id'
  | 'subscription_id'
  | 'meter_id'
  | 'resource_uri'
  | 'location'
  | 'usage_date'
  | 'tier'
  | 'quantity'
  | 'unit_price'
  | 'amount'
  | 'line_type'
>;

/** Invoices by period, then name (a draft's name, else its number); index invoices_buyer_order, migration 0630. */
export const INVOICE_ORDER = keyset(
  'invoices',
  [
    ['period', 'text'],
    ['name', 'text'],
  ],
  (r: InvoicesTable) => [r.period, r.name],
);
/** An invoice's lines by line number (its primary key). */
export const LINE_ORDER = keyset('invoiceLines', [['line_no', 'int']], (l: { line_no: number }) => [l.line_no]);

export const billingStore = {
  /** One buyer's last invoice of a stream (to continue from). */
  async lastInvoice(
    db: BillingDb,
    stream: Stream,
    seller: Seller,
    buyerId: string,
  ): Promise<InvoicesTable | undefined> {
    return db
      .selectFrom('invoices')
      .selectAll()
      .where('stream', '=', stream)
      .where('kind', '=', 'invoice')
      .where('seller', '=', seller)
      .where('buyer_id', '=', buyerId)
      .orderBy('period_end', 'desc')
      .limit(1)
      .executeTakeFirst();
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

  /** Changes when buyers, billing days, invoices or drafts change: what the billing job's shortcut depends on. */
  async fingerprint(db: BillingDb): Promise<string> {
    const r = await sql<{ f: string }>`
      select concat_ws('/', (select count(*) from (${partnerStore.allCustomers()}) c), (select count(*) from (${identityStore.partnerDirectories()}) d),
                       (select max(updated_at) from billing_profiles), (select count(*) from invoices),
                       (select count(*) from invoices where status = 'draft')) as f
    `.execute(db);
    return r.rows[0].f;
  },

  async profiles(db: BillingDb) {
    return db.selectFrom('billing_profiles').selectAll().execute();
  },

  async upsertProfile(
    db: BillingDb,
    p: {
      seller: Seller;
      customerId: string | null;
      billingDay: number;
      taxRate: string;
      graceDays: number;
      by: string;
      at: Date;
    },
  ) {
    await sql`
      insert into billing_profiles (seller, customer_id, billing_day, tax_rate, grace_period_days, updated_by, updated_at)
      values (${p.seller}, ${p.customerId}::uuid, ${p.billingDay}, ${p.taxRate}::numeric, ${p.graceDays}, ${p.by}, ${p.at}::timestamptz)
      on conflict (seller, customer_id) do update set billing_day = excluded.billing_day, tax_rate = excluded.tax_rate,
        grace_period_days = excluded.grace_period_days,
        updated_by = excluded.updated_by, updated_at = excluded.updated_at
    `.execute(db);
  },

  async listInvoices(
    db: BillingDb,
    f: {
      stream: Stream;
      seller?: Seller;
      buyerId?: string;
      period?: string;
      kind?: 'invoice' | 'credit_note';
      finalOnly?: boolean;
    },
    cursor: Cursor,
  ): Promise<InvoicesTable[]> {
    let q = db.selectFrom('invoices').selectAll().where('stream', '=', f.stream);
    if (f.finalOnly) q = q.where('status', '<>', 'draft');
    if (f.seller) q = q.where('seller', '=', f.seller);
    if (f.buyerId) q = q.where('buyer_id', '=', f.buyerId);
    if (f.period) q = q.where('period', '=', f.period);
    if (f.kind) q = q.where('kind', '=', f.kind);
    return pageQuery(q, INVOICE_ORDER, cursor).execute();
  },

  async invoiceById(db: BillingDb, id: string): Promise<InvoicesTable | undefined> {
    return db.selectFrom('invoices').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /**
   * An invoice by what it is addressed by (a draft's name, else its number; numbers are unique per
   * seller), among the seller's or the buyer's; `finalOnly` leaves drafts out (what buyers see);
   * `draftName` finds a finalized invoice by the name it had as a draft too.
   */
  async findInvoice(
    db: BillingDb,
    name: string,
    f: { sellers?: Seller[]; buyerId?: string; stream?: Stream; finalOnly?: boolean; draftName?: boolean },
  ): Promise<InvoicesTable | undefined> {
    const lower = name.toLowerCase();
    // A draft's name is `DRAFT-` and its id, which PostgreSQL writes in lower case.
    const asDraftName = lower.startsWith('draft-') ? `DRAFT-${lower.slice('draft-'.length)}` : undefined;
    let q = db
      .selectFrom('invoices')
      .selectAll()
      .where((eb) =>
        f.draftName && asDraftName
          ? eb.or([eb(sql`lower(name)`, '=', lower), eb('draft_name', '=', asDraftName)])
          : eb(sql`lower(name)`, '=', lower),
      );
    if (f.sellers) q = q.where('seller', 'in', f.sellers);
    if (f.buyerId) q = q.where('buyer_id', '=', f.buyerId);
    if (f.stream) q = q.where('stream', '=', f.stream);
    if (f.finalOnly) q = q.where('status', '<>', 'draft');
    // A caller that is both a partner and the provider's administrator: its own sales first.
    return q
      .orderBy(sql`seller = 'provider'`)
      .limit(1)
      .executeTakeFirst();
  },

  /** The invoice generated to replace a voided one. */
  async replacementOf(db: BillingDb, id: string): Promise<InvoicesTable | undefined> {
    return db.selectFrom('invoices').selectAll().where('replaces', '=', id).executeTakeFirst();
  },

  /** Drafts whose grace period has ended by `now`, oldest first. */
  async draftsDue(db: BillingDb, now: Date): Promise<{ id: string }[]> {
    return db
      .selectFrom('invoices')
      .select('id')
      .where('status', '=', 'draft')
      .where('finalize_after', '<=', now)
      .orderBy('finalize_after')
      .execute();
  },

  /** When the earliest draft's grace period ends. */
  async earliestDraftEnd(db: BillingDb): Promise<Date | undefined> {
    const r = await db
      .selectFrom('invoices')
      .select((eb) => eb.fn.min('finalize_after').as('at'))
      .where('status', '=', 'draft')
      .executeTakeFirst();
    return r?.at ?? undefined;
  },

  /** Where the earliest draft's period starts. */
  async earliestDraftStart(db: BillingDb): Promise<Date | undefined> {
    const r = await db
      .selectFrom('invoices')
      .select((eb) => eb.fn.min('period_start').as('at'))
      .where('status', '=', 'draft')
      .executeTakeFirst();
    return r?.at ?? undefined;
  },

  /** The one change a finalized invoice may undergo (the trigger allows nothing else). */
  async markVoided(db: BillingDb, id: string, v: { reason: string; by: string; at: Date }): Promise<void> {
    await db
      .updateTable('invoices')
      .set({ status: 'voided', void_reason: v.reason, voided_by: v.by, voided_at: v.at })
      .where('id', '=', id)
      .where('status', '=', 'finalized')
      .execute();
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

  /** Per subscription, the sum of an invoice's lines, in the order the subscriptions first appear. */
  async subscriptionSubtotals(
    db: BillingDb,
    invoiceId: string,
  ): Promise<{ subscriptionId: string | null; amount: string }[]> {
    const r = await sql<{ subscriptionId: string | null; amount: string }>`
      select subscription_id::text as "subscriptionId", sum(amount)::text as amount
      from invoice_lines where invoice_id = ${invoiceId}::uuid group by subscription_id order by min(line_no)
    `.execute(db);
    return r.rows;
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
      /** From the seller's counter (`takeNumber`), in the same transaction. */
      number: string;
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
        values (${n.id}::uuid, ${n.number}, ${n.of.stream}, 'credit_note', ${n.of.seller}, ${n.of.buyer_id}::uuid, ${n.of.period},
                ${n.of.period_start}::timestamptz, ${n.of.period_end}::timestamptz, 0, 0, ${n.at}::timestamptz, ${n.of.currency},
                ${n.amount}::numeric, ${n.of.tax_rate}::numeric, ${taxOn(sql`${n.amount}::numeric`, sql`${n.of.tax_rate}::numeric`)},
                ${n.amount}::numeric + ${taxOn(sql`${n.amount}::numeric`, sql`${n.of.tax_rate}::numeric`)}, ${n.of.id}::uuid, ${n.at}::timestamptz)
        returning id
      )
      insert into invoice_lines (buyer_id, invoice_id, line_no, line_type, customer_id, subscription_id, amount, description, reason, created_by)
      select ${n.of.buyer_id}::uuid, id, 1, 'credit', ${n.of.buyer_id}::uuid, ${n.subscriptionId}::uuid, ${n.amount}::numeric, ${n.description}, ${n.reason}, ${n.by} from note
    `.execute(db);
  },

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

  /** Names for the lines: customers' companies, partners' directories, subscriptions' display names. */
  async names(db: BillingDb, ids: string[]): Promise<Map<string, { name: string; domain: string | null }>> {
    if (ids.length === 0) return new Map();
    return namesOf((await namesQuery(ids).execute(db)).rows);
  },
};

export type NameRow = { id: string; name: string; domain: string | null };

/**
 * The names of the ids `match` selects in each source: a customer's company, a partner's
 * directory, a subscription's display name, in that order (the first that has an id names it).
 */
function namesMatching(match: (column: string) => RawBuilder<unknown>) {
  return sql<NameRow>`
    select id::text, company_name as name, domain, 1 as rank from (${partnerStore.allCustomers()}) c where ${match('id')}
    union all select tenant_id::text, display_name, default_domain, 2 from (${identityStore.partnerDirectories()}) d where ${match('tenant_id')}
    union all select subscription_id::text, display_name, null, 3 from (${armStore.subscriptionOwnership()}) s where ${match('subscription_id')}
    order by rank`;
}

/** The names of `ids` (see `namesMatching`). */
export const namesQuery = (ids: string[]) => namesMatching((column) => sql`${sql.raw(column)} = any(${ids}::uuid[])`);

/**
 * The names an invoice's lines are expected to name, as `namesQuery` gives them: its buyer's, the
 * buyer's customers' (a partner's), and those of every subscription of theirs.
 */
export function buyerScopeNamesQuery(buyerId: string) {
  const scope = sql`select ${buyerId}::uuid as id
    union select id from (${partnerStore.allCustomers()}) c where partner_tenant_id = ${buyerId}::uuid`;
  const ids = sql`select id from (${scope}) b
    union select subscription_id from (${armStore.subscriptionOwnership()}) s where tenant_id in (select id from (${scope}) b)`;
  return namesMatching((column) => sql`${sql.raw(column)} in (${ids})`);
}

/** `namesQuery`'s rows as a map (the first name of each id). */
export function namesOf(rows: NameRow[]): Map<string, { name: string; domain: string | null }> {
  const out = new Map<string, { name: string; domain: string | null }>();
  for (const row of rows) if (!out.has(row.id)) out.set(row.id, { name: row.name, domain: row.domain });
  return out;
}
