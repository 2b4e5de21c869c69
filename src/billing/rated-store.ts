import { notificationStore } from '../notifications/store.ts';
import { type RawBuilder, sql } from 'kysely';
import type pg from 'pg';
import { armStore } from '../arm/store.ts';
import { identityStore } from '../identity/store.ts';
import { LIST_SHEET } from '../rating/migrations.ts';
import { ratingCtes, roundMoneySql } from '../rating/rating.ts';
import { type DailyFolded, dailyStore } from '../usage/daily-store.ts';
import type { BillingDb, StoredLine } from './store.ts';
import type { Seller, Stream } from './tables.ts';
import { transaction } from '../db/transactions.ts';

// The SQL of rating on the hub: what each buyer has not been billed yet (the daily aggregates usage
// keeps, minus what the buyer's invoices have billed, per key), rated (the CTEs invoice-writes.ts
// writes invoices from); and previews of an open period, whole, and its credits and adjustments a
// page at a time (the partner center's unbilled usage lines are kept rated: `partner-unbilled.ts`).

/** One buyer's next invoice: the usage of its subscriptions before `periodEnd` it has not been billed yet. */
export interface InvoiceWindow {
  invoiceId: string;
  seller: Seller;
  buyerId: string;
  periodStart: Date;
  periodEnd: Date;
  taxRate: string;
}

/** Where a page of unbilled usage lines starts: after the line with this key. */
export interface LineKey {
  subscriptionId: string;
  meterId: string;
  resourceUri: string;
  usageDate: string;
  location: string;
  tier: number;
}

/** A subscription's buyer: the directory that uses it, and the partner that sold it (a partner's own subscriptions bill to itself). */
export const BILLABLE_SUBSCRIPTIONS = sql`
  select s.subscription_id, s.tenant_id as customer_id, coalesce(s.offer_id, '') as offer_id, coalesce(s.sold_by, s.tenant_id) as partner_id
  from (${armStore.subscriptionOwnership()}) s left join (${identityStore.partnerDirectories()}) d on d.tenant_id = s.tenant_id
  where s.sold_by is not null or d.tenant_id is not null`;

/**
 * What a buyer's invoices of a stream have billed of the daily aggregate `d` (one row of
 * `billed_daily` per invoice that billed some of it): a join giving `b.quantity`, null for none.
 */
export const billedSoFar = (by: {
  stream: RawBuilder<unknown>;
  buyerId: RawBuilder<unknown>;
  seller: RawBuilder<unknown>;
}) =>
  sql`left join lateral (
        select sum(x.quantity) as quantity from billed_daily x
        where x.buyer_id = ${by.buyerId} and x.stream = ${by.stream} and x.seller = ${by.seller} and x.subscription_id = d.billed_subscription_id
          and x.usage_date = d.usage_date and x.meter_id = d.meter_id and x.resource_uri = d.resource_uri and x.location = d.location
      ) b on true`;

/** The list unit price of a line's quantities (none for a line whose quantities cancel out). */
const BLENDED_LIST = sql`case when sum(quantity) <> 0 then round(sum(quantity * list_unit_price) / sum(quantity), 6) end`;

/**
 * A partner's daily-rated lines, from `rated` (of `ratingCtes`): one line per key and day whatever
 * the tiers (a day across a tier bound carries the blended unit price and its split in the
 * description), with the list price blended the same way. Invoices and the partner center's
 * unbilled lines (`partner-unbilled.ts`) both group with it.
 */
export const PARTNER_DAILY_LINES = sql`
  select invoice_id, case when late then 'late usage' else 'usage' end as line_type, customer_id, subscription_id, meter_id, resource_uri, location,
         usage_date, usage_date as usage_to, min(tier_no) as tier, sum(quantity) as quantity,
         case when count(*) = 1 then min(unit_price) else round(sum(quantity * unit_price) / sum(quantity), 6) end as unit_price,
         ${roundMoneySql(sql`sum(quantity * unit_price)`)} as amount,
         ${BLENDED_LIST} as list_unit_price,
         case when count(*) > 1 then 'Blended unit price of its tiers: '
           || string_agg(trim_scale(quantity) || ' at ' || trim_scale(unit_price) || ' (tier ' || tier_no || ')', '; ' order by tier_no) end as description
  -- grouped by the line key first (then what it decides): the sort before grouping settles rows on
  -- their subscription, not on the invoice id that all of a document's rows share
  from rated group by subscription_id, meter_id, resource_uri, usage_date, location, invoice_id, late, customer_id`;

/**
 * What the partner stream has not billed of each daily aggregate of the windows' buyers, before
 * their ends: the kept lines (`partner-unbilled.ts`), which hold the aggregate less every partner
 * invoice's billed quantity, kept as usage folds. `retireWhere` (a condition on `w`): the close
 * deletes the lines of the windows it writes and bills what the deletes return, so what it bills
 * leaves the kept lines in the same statement, each key under its row lock.
 */
function keptUnbilled(retireWhere: RawBuilder<unknown> | undefined): RawBuilder<unknown> {
  const columns = sql`w.invoice_id, w.buyer_id, w.seller, s.customer_id, s.offer_id, p.subscription_id, p.meter_id, p.resource_uri, p.location, p.usage_date, p.quantity`;
  const joined = sql`p.partner_id = w.buyer_id and p.usage_date < (w.period_end at time zone 'UTC')::date and s.subscription_id = p.subscription_id`;
  return retireWhere
    ? sql`delete from partner_unbilled_lines p using w, subs s where ${joined} and ${retireWhere} returning ${columns}`
    : sql`select ${columns} from partner_unbilled_lines p join w on true join subs s on ${joined}`;
}

/**
 * The rated lines of a set of invoice windows, as CTEs ending in `all_lines` and `totals`. What a
 * buyer owes is, per subscription, usage day, meter, resource and location, the daily aggregate
 * minus what its invoices of the stream have billed (`unbilled`: a partner's, its kept lines):
 * exact whatever order the attributions committed in. Tiers accumulate over the invoice per
 * subscription and meter (by day, then resource); each day is priced by the segment in force that
 * day; amounts are rounded once, at the line. Partner invoices keep one line per day (the partner
 * center's daily-rated lines); a customer's invoice sums each subscription, meter, resource and
 * price over the period. Late usage (from before the period) keeps its day and is labelled. With
 * `retireWhere`, the statement bills the partner windows it names (`keptUnbilled`).
 */
export function ratedLines(
  folded: DailyFolded,
  stream: Stream,
  windows: InvoiceWindow[],
  retireWhere?: RawBuilder<unknown>,
): RawBuilder<unknown> {
  const json = JSON.stringify(
    windows.map((w, ord) => ({
      ord,
      invoice_id: w.invoiceId,
      seller: w.seller,
      buyer_id: w.buyerId,
      period_start: w.periodStart.toISOString(),
      period_end: w.periodEnd.toISOString(),
      tax_rate: w.taxRate,
    })),
  );
  const partner = stream === 'partner';
  const unbilled = partner
    ? keptUnbilled(retireWhere)
    : sql`select w.invoice_id, w.buyer_id, w.seller, s.customer_id, s.offer_id, s.subscription_id, d.meter_id, d.resource_uri, d.location, d.usage_date,
             d.quantity - coalesce(b.quantity, 0) as quantity
      from w
      join subs s on s.customer_id = w.buyer_id and s.partner_id::text = w.seller
      join (${dailyStore.dailyUsage(folded)}) d on d.billed_subscription_id = s.subscription_id and d.usage_date < (w.period_end at time zone 'UTC')::date
      ${billedSoFar({ stream: sql`'customer'`, buyerId: sql`w.buyer_id`, seller: sql`w.seller` })}
      where d.quantity <> coalesce(b.quantity, 0)`;
  return sql`
    w as (
      select x.*, ${partner ? sql`array['provider']` : sql`array['provider', x.seller]`} as sellers
      from jsonb_to_recordset(${json}::jsonb) as x(ord int, invoice_id uuid, seller text, buyer_id uuid, period_start timestamptz, period_end timestamptz, tax_rate numeric)
    ),
    subs as (${BILLABLE_SUBSCRIPTIONS}),
    unbilled as (${unbilled}),
    usage as (
      select invoice_id, customer_id, offer_id, subscription_id, meter_id, resource_uri, location, usage_date, quantity from unbilled
    ),
    ${ratingCtes(LIST_SHEET, { listPrices: true })},
    -- Partner invoices: one line per key and day (PARTNER_DAILY_LINES); a customer's invoice: one
    -- per subscription, meter, resource, tier and price over the period, with the list price (the
    -- list sheet's, before overrides) blended the same way.
    usage_lines as (
      ${
        partner
          ? PARTNER_DAILY_LINES
          : sql`select invoice_id, case when late then 'late usage' else 'usage' end as line_type, customer_id, subscription_id, meter_id, resource_uri, location,
                  min(usage_date) as usage_date, max(usage_date) as usage_to, tier_no as tier, sum(quantity) as quantity, unit_price, ${roundMoneySql(sql`sum(quantity) * unit_price`)} as amount,
                  ${BLENDED_LIST} as list_unit_price, null::text as description
                from rated group by invoice_id, late, customer_id, subscription_id, meter_id, resource_uri, location, tier_no, unit_price`
      }
    )${documentLines()}`;
}

/** The rest of a whole document's lines after its usage lines: credits and adjustments, line numbers, totals. */
function documentLines(): RawBuilder<unknown> {
  return sql`,
    -- credits and adjustments no invoice has taken in yet
    adjustments_due as (
      select w.invoice_id, w.buyer_id, a.id, a.kind, a.customer_id, a.subscription_id, a.created_at, a.amount, a.description, a.reason, a.created_by
      from w join billing_adjustments a on a.seller = w.seller and a.customer_id = w.buyer_id and a.credit_note_for is null
      where not exists (select 1 from billed_adjustments x where x.buyer_id = w.buyer_id and x.adjustment_id = a.id)
    ),
    adjustment_lines as (
      select invoice_id, kind as line_type, customer_id, subscription_id, null::uuid as meter_id, null::text as resource_uri, null::text as location,
             (created_at at time zone 'UTC')::date as usage_date, null::date as usage_to, null::int as tier, null::numeric as quantity, null::numeric as unit_price,
             amount, null::numeric as list_unit_price, description, reason, created_by
      from adjustments_due
    ),
    all_lines as (
      select l.*, (row_number() over (partition by l.invoice_id order by l.line_type in ('credit', 'adjustment'), l.subscription_id, l.meter_id, l.resource_uri, l.usage_date, l.tier, l.unit_price))::int as line_no
      from (
        select invoice_id, line_type, customer_id, subscription_id, meter_id, resource_uri, location, usage_date, usage_to, tier, quantity, unit_price, amount,
               list_unit_price, description, null::text as reason, null::text as created_by
        from usage_lines
        union all select * from adjustment_lines
      ) l
    ),
    totals as (select invoice_id, sum(amount) as subtotal from all_lines group by invoice_id)`;
}

/** Tax on a subtotal at a rate in percent, rounded once (as in `tax` of `billing/invoices.ts`'s preview). */
export const taxOn = (subtotal: RawBuilder<unknown>, ratePercent: RawBuilder<unknown>) =>
  roundMoneySql(sql`${subtotal} * ${ratePercent} / 100`);

/** Rating groups and sorts a month of usage: in memory, rather than in temporary files. */
function withRatingMemory<T>(db: BillingDb, work: (tx: BillingDb) => Promise<T>): Promise<T> {
  return transaction(db, async (tx) => {
    await sql`set local work_mem = '256MB'`.execute(tx);
    return work(tx);
  });
}

export interface FinalizedInvoice {
  id: string;
  number: string;
  /** The number, or a draft's name. */
  name: string;
  seller: string;
  buyer_id: string;
  period: string;
  period_start: string;
  period_end: string;
  total: string;
  currency: string;
}

/** What an invoice event says of the invoice, besides its number or name. */
export function invoiceEventData(stream: Stream, i: FinalizedInvoice) {
  return {
    stream,
    period: i.period,
    periodStart: i.period_start,
    periodEnd: i.period_end,
    total: i.total,
    currency: i.currency,
    ...(stream === 'customer' ? { customerId: i.buyer_id } : { partnerId: i.buyer_id }),
  };
}

/**
 * Tells webhooks of the invoices a statement finalized, in its transaction: the partner's from
 * the provider reach the partner, a customer's reach its partner and the customer.
 */
export function invoicesFinalized(db: BillingDb, stream: Stream, added: FinalizedInvoice[], at: Date) {
  return notificationStore.record(
    db,
    added.map((i) => ({
      key: `invoice.finalized:${i.id}`,
      type: 'invoice.finalized',
      occurredAt: at,
      data: { invoiceNumber: i.number, ...invoiceEventData(stream, i) },
      partnerId: stream === 'partner' ? i.buyer_id : i.seller,
      customerId: stream === 'customer' ? i.buyer_id : null,
    })),
  );
}

export const LINE_COLUMNS = sql`invoice_id, line_no, line_type, customer_id, subscription_id, meter_id, resource_uri, location, usage_date, usage_to, tier, quantity, unit_price, amount, list_unit_price, description, reason, created_by`;

/** Per subscription (null: the buyer's own lines), in line order: what a window's lines sum to, and its usage lines alone. */
export type PreviewSums = { subscriptionId: string | null; amount: string; usage: string }[];

const previewSumsQuery = (folded: DailyFolded, stream: Stream, window: InvoiceWindow) => sql<PreviewSums[number]>`
  with ${ratedLines(folded, stream, [window])}
  select subscription_id::text as "subscriptionId", sum(amount)::text as amount,
         coalesce(sum(amount) filter (where line_type in ('usage', 'late usage')), 0)::text as usage
  from all_lines group by subscription_id order by min(line_no)`;

/** How many lines of an open period a fetch of its cursor reads. */
const PREVIEW_BATCH = 5000;

export const ratedStore = {
  /** What one window's lines would sum to if it closed now (the open period so far), no line leaving the database. */
  async previewSums(db: BillingDb, stream: Stream, window: InvoiceWindow): Promise<PreviewSums> {
    const folded = await dailyStore.fold(db);
    return (await withRatingMemory(db, (tx) => previewSumsQuery(folded, stream, window).execute(tx))).rows;
  },

  /**
   * One window's sums, then its lines in invoice order a batch at a time, both from one snapshot
   * (a cursor in a repeatable-read transaction on a client of its own): memory stays flat however
   * many lines the open period has. A consumer that stops early lets the client go.
   */
  async *previewStream(
    pool: pg.Pool,
    db: BillingDb,
    stream: Stream,
    window: InvoiceWindow,
    batch = PREVIEW_BATCH,
  ): AsyncGenerator<{ sums: PreviewSums } | { lines: StoredLine[] }> {
    const folded = await dailyStore.fold(db);
    const sums = previewSumsQuery(folded, stream, window).compile(db);
    const lines =
      sql`with ${ratedLines(folded, stream, [window])} select ${LINE_COLUMNS} from all_lines order by line_no`.compile(
        db,
      );
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(`begin isolation level repeatable read; set local work_mem = '256MB'`);
      yield { sums: (await client.query<PreviewSums[number]>(sums.sql, [...sums.parameters])).rows };
      await client.query(`declare preview no scroll cursor for ${lines.sql}`, [...lines.parameters]);
      for (;;) {
        const fetched = await client.query<StoredLine>(`fetch forward ${batch} from preview`);
        if (fetched.rows.length > 0) yield { lines: fetched.rows };
        if (fetched.rows.length < batch) break;
      }
    } finally {
      // Read only: ended the same way whether read to its end or not.
      await client.query('rollback').catch((e: unknown) => {
        broken = e instanceof Error ? e : new Error(String(e));
      });
      client.release(broken);
    }
  },

  /** Up to `limit` credits and adjustments of one window with ids after `afterId`: the open period's last lines. */
  async previewAdjustmentPage(
    db: BillingDb,
    folded: DailyFolded,
    stream: Stream,
    window: InvoiceWindow,
    afterId: string,
    limit: number,
  ): Promise<(StoredLine & { adjustment_id: string })[]> {
    const r = await sql<StoredLine & { adjustment_id: string }>`
      with ${ratedLines(folded, stream, [window])}
      select id::text as adjustment_id, invoice_id, 0 as line_no, kind as line_type, customer_id, subscription_id, null::uuid as meter_id,
             null::text as resource_uri, null::text as location, (created_at at time zone 'UTC')::date as usage_date, null::date as usage_to,
             null::int as tier, null::numeric as quantity, null::numeric as unit_price, amount, null::numeric as list_unit_price, description, reason, created_by
      from adjustments_due where id > ${afterId}::bigint order by id limit ${limit}
    `.execute(db);
    return r.rows;
  },
};
