import { notificationStore } from '../notifications/store.ts';
import { Decimal } from 'decimal.js';
import { type RawBuilder, sql } from 'kysely';
import { armStore } from '../arm/store.ts';
import { identityStore } from '../identity/store.ts';
import { LIST_SHEET } from '../rating/migrations.ts';
import { ratingCtes, roundMoneySql } from '../rating/rating.ts';
import { usageStore } from '../usage/store.ts';
import type { BillingDb, StoredLine } from './store.ts';
import type { Seller, Stream } from './tables.ts';

// The SQL of rating on the hub: what each buyer has not been billed yet (the daily aggregates usage
// keeps, minus what the buyer's invoices have billed, per key), rated (the CTEs invoice-writes.ts
// writes invoices from); and previews of an open period, whole or a keyset page at a time.

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

/** The order of usage lines on an invoice, and of an unbilled page's keyset. */
const USAGE_KEY = sql`subscription_id, meter_id, resource_uri, usage_date, location`;
const keyValues = (k: LineKey) =>
  sql`${k.subscriptionId}::uuid, ${k.meterId}::uuid, ${k.resourceUri}::text, ${k.usageDate}::date, ${k.location}::text`;

/**
 * The rated lines of a set of invoice windows, as CTEs ending in `all_lines` and `totals`. What a
 * buyer owes is, per subscription, usage day, meter, resource and location, the daily aggregate
 * minus what its invoices of the stream have billed (`unbilled`): exact whatever order the
 * attributions committed in. Tiers accumulate over the invoice per subscription and meter (by day,
 * then resource); each day is priced by the segment in force that day; amounts are rounded once,
 * at the line. Partner invoices keep one line per day (the partner center's daily-rated lines); a
 * customer's invoice sums each subscription, meter, resource and price over the period. Late usage
 * (from before the period) keeps its day and is labelled. With `page`, only the (subscription,
 * meter) runs holding the next `limit` usage keys at or after `after` are rated, whole, so that
 * their tiers accumulate as on the invoice.
 */
export function ratedLines(
  stream: Stream,
  windows: InvoiceWindow[],
  page?: { after: LineKey | null; limit: number },
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
  // The list unit price of a line's quantities (none for a line whose quantities cancel out).
  const blendedList = sql`case when sum(quantity) <> 0 then round(sum(quantity * list_unit_price) / sum(quantity), 6) end`;
  const buyerSubscriptions = partner
    ? sql`s.partner_id = w.buyer_id`
    : sql`s.customer_id = w.buyer_id and s.partner_id::text = w.seller`;
  const billedKey = sql`b.buyer_id = w.buyer_id and b.stream = ${stream} and b.seller = w.seller and b.subscription_id = d.billed_subscription_id
        and b.usage_date = d.usage_date and b.meter_id = d.meter_id and b.resource_uri = d.resource_uri and b.location = d.location`;
  // A page's keys: the aggregates walked in line order (index `usage_daily_line_order`) less what
  // was billed, stopping at the page; only their (subscription, meter) runs are rated, whole, read
  // through the same index.
  const pageKeys = page
    ? sql`buyer_subscriptions as materialized (select s.subscription_id from w join subs s on ${buyerSubscriptions}),
      page_keys as materialized (
        select d.billed_subscription_id as subscription_id, d.meter_id
        from w join (${usageStore.dailyUsage()}) d on d.usage_date < (w.period_end at time zone 'UTC')::date
        left join billed_daily b on ${billedKey}
        where d.billed_subscription_id in (select subscription_id from buyer_subscriptions)
          and d.quantity <> coalesce(b.quantity, 0)
          ${page.after ? sql`and (d.billed_subscription_id, d.meter_id, d.resource_uri, d.usage_date, d.location) >= (${keyValues(page.after)})` : sql``}
        order by d.billed_subscription_id, d.meter_id, d.resource_uri, d.usage_date, d.location limit ${page.limit}
      ),
      page_runs as (select distinct subscription_id, meter_id from page_keys),`
    : sql``;
  return sql`
    w as (
      select x.*, ${partner ? sql`array['provider']` : sql`array['provider', x.seller]`} as sellers
      from jsonb_to_recordset(${json}::jsonb) as x(ord int, invoice_id uuid, seller text, buyer_id uuid, period_start timestamptz, period_end timestamptz, tax_rate numeric)
    ),
    subs as (${BILLABLE_SUBSCRIPTIONS}),
    ${pageKeys}
    unbilled as (
      select w.invoice_id, w.buyer_id, w.seller, s.customer_id, s.offer_id, s.subscription_id, d.meter_id, d.resource_uri, d.location, d.usage_date,
             d.quantity - coalesce(b.quantity, 0) as quantity
      from w
      ${page ? sql`cross join page_runs r join subs s on s.subscription_id = r.subscription_id` : sql`join subs s on ${buyerSubscriptions}`}
      join (${usageStore.dailyUsage()}) d on d.billed_subscription_id = s.subscription_id and d.usage_date < (w.period_end at time zone 'UTC')::date
        ${page ? sql`and d.meter_id = r.meter_id` : sql``}
      left join billed_daily b on ${billedKey}
      where d.quantity <> coalesce(b.quantity, 0)
    ),
    usage as (
      select invoice_id, customer_id, offer_id, subscription_id, meter_id, resource_uri, location, usage_date, quantity from unbilled
    ),
    ${ratingCtes(LIST_SHEET, { listPrices: true })},
    -- Partner invoices: one line per key and day whatever the tiers (a day across a tier bound
    -- carries the blended unit price and its split in the description); a customer's invoice: one
    -- per subscription, meter, resource, tier and price over the period. Each with the list price
    -- (the list sheet's, before overrides), blended the same way.
    usage_lines as (
      ${
        partner
          ? sql`select invoice_id, case when late then 'late usage' else 'usage' end as line_type, customer_id, subscription_id, meter_id, resource_uri, location,
                  usage_date, usage_date as usage_to, min(tier_no) as tier, sum(quantity) as quantity,
                  case when count(*) = 1 then min(unit_price) else round(sum(quantity * unit_price) / sum(quantity), 6) end as unit_price,
                  ${roundMoneySql(sql`sum(quantity * unit_price)`)} as amount,
                  ${blendedList} as list_unit_price,
                  case when count(*) > 1 then 'Blended unit price of its tiers: '
                    || string_agg(trim_scale(quantity) || ' at ' || trim_scale(unit_price) || ' (tier ' || tier_no || ')', '; ' order by tier_no) end as description
                from rated group by invoice_id, late, customer_id, subscription_id, meter_id, resource_uri, location, usage_date`
          : sql`select invoice_id, case when late then 'late usage' else 'usage' end as line_type, customer_id, subscription_id, meter_id, resource_uri, location,
                  min(usage_date) as usage_date, max(usage_date) as usage_to, tier_no as tier, sum(quantity) as quantity, unit_price, ${roundMoneySql(sql`sum(quantity) * unit_price`)} as amount,
                  ${blendedList} as list_unit_price, null::text as description
                from rated group by invoice_id, late, customer_id, subscription_id, meter_id, resource_uri, location, tier_no, unit_price`
      }
    ),
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
  return db.transaction().execute(async (tx) => {
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

export const ratedStore = {
  /** The lines one window would have if it closed now (the open period's unbilled usage), with their subtotal. */
  async previewWindow(
    db: BillingDb,
    stream: Stream,
    window: InvoiceWindow,
  ): Promise<{ lines: StoredLine[]; subtotal: string }> {
    const r = await withRatingMemory(db, (tx) =>
      sql<StoredLine>`
      with ${ratedLines(stream, [window])}
      select ${LINE_COLUMNS} from all_lines order by line_no
    `.execute(tx),
    );
    const subtotal = r.rows.reduce((sum, l) => sum.plus(l.amount), new Decimal(0));
    return { lines: r.rows, subtotal: subtotal.toFixed(2) };
  },

  /**
   * Up to `limit` unbilled usage lines of one window after `after`, in invoice order: one page, rated
   * on its own. The runs rated hold `limit` keys after the token's own (whose lines may all be shown).
   * Usage lines only, without line numbers: the invoice's are given when it closes.
   */
  async previewUsagePage(
    db: BillingDb,
    stream: Stream,
    window: InvoiceWindow,
    after: LineKey | null,
    limit: number,
  ): Promise<StoredLine[]> {
    const r = await sql<StoredLine>`
      with ${ratedLines(stream, [window], { after, limit: after ? limit + 1 : limit })}
      -- the usage lines alone: no line numbers (a page's are not the invoice's), no adjustments
      select invoice_id, 0 as line_no, line_type, customer_id, subscription_id, meter_id, resource_uri, location, usage_date, usage_to, tier,
             quantity, unit_price, amount, list_unit_price, description, null::text as reason, null::text as created_by
      from usage_lines
      ${after ? sql`where (${USAGE_KEY}, tier) > (${keyValues(after)}, ${after.tier}::int)` : sql``}
      order by ${USAGE_KEY}, tier limit ${limit}
    `.execute(db);
    return r.rows;
  },

  /** Up to `limit` credits and adjustments of one window with ids after `afterId`: the open period's last lines. */
  async previewAdjustmentPage(
    db: BillingDb,
    stream: Stream,
    window: InvoiceWindow,
    afterId: string,
    limit: number,
  ): Promise<(StoredLine & { adjustment_id: string })[]> {
    const r = await sql<StoredLine & { adjustment_id: string }>`
      with ${ratedLines(stream, [window])}
      select id::text as adjustment_id, invoice_id, 0 as line_no, kind as line_type, customer_id, subscription_id, null::uuid as meter_id,
             null::text as resource_uri, null::text as location, (created_at at time zone 'UTC')::date as usage_date, null::date as usage_to,
             null::int as tier, null::numeric as quantity, null::numeric as unit_price, amount, null::numeric as list_unit_price, description, reason, created_by
      from adjustments_due where id > ${afterId}::bigint order by id limit ${limit}
    `.execute(db);
    return r.rows;
  },
};
