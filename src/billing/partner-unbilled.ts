import { type Kysely, type RawBuilder, sql } from 'kysely';
import { LIST_SHEET } from '../rating/migrations.ts';
import { ratingCtes, roundMoneySql, UNTIERED_DAY_PRICES } from '../rating/rating.ts';
import { type DailyFolded, dailyStore } from '../usage/daily-store.ts';
import { BILLABLE_SUBSCRIPTIONS, type InvoiceWindow, type LineKey, PARTNER_DAILY_LINES } from './rated-store.ts';
import type { BillingDb, DailyRatedLine } from './store.ts';

// The partner center's unbilled lines, rated as usage arrives (issue #16, "incremental rating").
// `partner_unbilled_lines` keeps, per daily aggregate, what the partner stream has not billed of
// it (the aggregate less the partner invoices' billed quantities) and, where the day's price is
// untiered, its daily-rated line (quantity × price, `UNTIERED_DAY_PRICES`). Statement triggers on
// what it derives from keep it in the writer's transaction (migration 0670): the quantity by
// adding differences, as `usage_daily` is kept, so that writers of one run never wait for each
// other; the prices and buyers by re-pricing the rows a price, subscription or partner directory
// change touches. A partner close bills the kept rows themselves, deleting them as it reads them
// (`ratedLines`, migration 0695); taking an invoice back adds what it billed back. A page walks
// the kept rows in line order; a run whose running total matters (a tiered day) is rated whole on
// read, as the invoice does.

const KEY_COLUMNS = ['subscription_id', 'meter_id', 'usage_date', 'resource_uri', 'location'];
const KEY = sql.raw(KEY_COLUMNS.join(', '));
/** The key columns of the row named `a`. */
const keyOfRow = (a: string) => sql.raw(KEY_COLUMNS.map((c) => `${a}.${c}`).join(', '));
const sameKey = (a: string, b: string) => sql.raw(KEY_COLUMNS.map((c) => `${a}.${c} = ${b}.${c}`).join(' and '));

// One document for all partners: the provider's sales are priced alike (its prices, its overrides).
const PROVIDER_DOCUMENT = sql`w as (select '00000000-0000-0000-0000-000000000000'::uuid as invoice_id, array['provider'] as sellers, '-infinity'::timestamptz as period_start)`;

/**
 * Adds the differences in `changes` (key columns and `quantity`; a CTE the caller defines first) to
 * the kept rows of their keys (the amount follows), naming in `added` the keys it found. A row the
 * difference brings to 0 goes at once (`gone`): an invoice billing a whole day deletes its row, as
 * the daily aggregate's own, rather than updating it to 0 and deleting it after. A plain update
 * otherwise: what every attribution statement but a day's first costs.
 */
export function addToKeptStatement(): RawBuilder<unknown> {
  return sql`
    gone as (
      delete from partner_unbilled_lines p using changes c where ${sameKey('p', 'c')} and p.quantity + c.quantity = 0
      returning ${keyOfRow('p')}
    ),
    updated as (
      update partner_unbilled_lines p set quantity = p.quantity + c.quantity, amount = ${roundMoneySql(sql`(p.quantity + c.quantity) * p.unit_price`)}
      from changes c where ${sameKey('p', 'c')} and p.quantity + c.quantity <> 0
      returning ${keyOfRow('p')}
    ),
    added as (select * from gone union all select * from updated)`;
}

/**
 * The CTEs ending in `day_prices` (`UNTIERED_DAY_PRICES`) that price the keys of a CTE the caller
 * defines first (key columns and `quantity`), and `subs`, their buyers.
 */
const dayPricesOf = (keys: RawBuilder<unknown>) => sql`
    ${PROVIDER_DOCUMENT},
    subs as (${BILLABLE_SUBSCRIPTIONS}),
    usage as (
      select w.invoice_id, s.customer_id, s.offer_id, k.subscription_id, k.meter_id, k.resource_uri, k.location, k.usage_date, k.quantity
      from ${keys} k join subs s on s.subscription_id = k.subscription_id cross join w
    ),
    ${ratingCtes(LIST_SHEET)},
    ${UNTIERED_DAY_PRICES}`;

/**
 * Keeps the keys of `fresh` (key columns and `quantity`; a CTE the caller defines first), which
 * were not kept: priced (`UNTIERED_DAY_PRICES`) with their buyer. A key a concurrent writer has
 * kept since adds to it.
 */
export function keepFreshStatement(): RawBuilder<unknown> {
  return sql`
    ${dayPricesOf(sql`fresh`)}
    insert into partner_unbilled_lines as p (${KEY}, partner_id, customer_id, quantity, tier, unit_price, amount)
    select f.subscription_id, f.meter_id, f.usage_date, f.resource_uri, f.location, s.partner_id, s.customer_id, f.quantity,
           dp.tier, dp.unit_price, ${roundMoneySql(sql`f.quantity * dp.unit_price`)}
    from fresh f left join subs s on s.subscription_id = f.subscription_id
    left join day_prices dp on ${sameKey('dp', 'f')}
    order by f.subscription_id, f.meter_id, f.usage_date, f.resource_uri, f.location
    on conflict (${KEY}) do update
      set quantity = p.quantity + excluded.quantity, amount = ${roundMoneySql(sql`(p.quantity + excluded.quantity) * p.unit_price`)}`;
}

/**
 * Sets the buyer and the untiered price of the kept rows of `targets` (a CTE of keys the caller
 * defines first) from what is in force now; the quantity stays (the latest, whatever committed).
 */
export function repriceStatement(): RawBuilder<unknown> {
  return sql`
    ${dayPricesOf(sql`targets`)}
    update partner_unbilled_lines p
    set partner_id = s.partner_id, customer_id = s.customer_id, tier = dp.tier, unit_price = dp.unit_price,
        amount = ${roundMoneySql(sql`p.quantity * dp.unit_price`)}
    from targets t left join subs s on s.subscription_id = t.subscription_id left join day_prices dp on ${sameKey('dp', 't')}
    where ${sameKey('p', 't')}`;
}

/** What partner invoices billed before migration 0696, per key and invoice: rows of `billed_daily`. */
const BILLED_ROWS = sql`select ${KEY}, quantity from billed_daily where stream = 'partner' and seller = 'provider'`;

/** The usage lines of partner invoices that say what they billed (since migration 0696): `i` the invoice, `l` a line. */
const LINES_THAT_BILL = sql`invoices i join invoice_lines l on l.invoice_id = i.id and l.buyer_id = i.buyer_id
  where i.billed_in_lines and l.line_type in ('usage', 'late usage')`;

/**
 * What partner invoices have billed, per key: since migration 0696 an invoice's usage lines (one
 * per key and day, `writeInvoices`); before, its rows of `billed_daily`. A voided invoice has given
 * back what its lines billed (`giveBackLines`).
 */
const PARTNER_BILLED = sql`
  ${BILLED_ROWS}
  union all
  select l.subscription_id, l.meter_id, l.usage_date, l.resource_uri, l.location, l.quantity
  from ${LINES_THAT_BILL} and i.status <> 'voided'`;

/**
 * The partner stream's unbilled quantity of every daily aggregate, where it is not 0 (of a
 * subscription no one buys: all of it): the aggregate less what any partner's invoices billed of
 * it, as the kept lines subtract it. What migration 0670 starts from.
 */
export function unbilledNow(folded: DailyFolded, billed = PARTNER_BILLED): RawBuilder<unknown> {
  return sql`
    select d.billed_subscription_id as subscription_id, d.meter_id, d.usage_date, d.resource_uri, d.location, d.quantity - coalesce(b.quantity, 0) as quantity
    from (${dailyStore.dailyUsage(folded)}) d
    left join (select ${KEY}, sum(quantity) as quantity from (${billed}) x group by ${KEY}) b
      on b.subscription_id = d.billed_subscription_id and b.meter_id = d.meter_id and b.usage_date = d.usage_date
      and b.resource_uri = d.resource_uri and b.location = d.location
    where d.quantity <> coalesce(b.quantity, 0)`;
}

/** A compiled statement's parameters written into its text (a function body takes no parameters); strings only. */
export function inlined(query: RawBuilder<unknown>, db: Kysely<unknown>): string {
  const { sql: text, parameters } = query.compile(db);
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = parameters[Number(n) - 1];
    if (typeof value !== 'string') throw new Error(`parameter $${n} of a function body is not a string`);
    return `'${value.replaceAll("'", "''")}'`;
  });
}

/** Where the unbilled lines' keys are compared: the invoice's line order. */
const LINE_KEY = sql`subscription_id, meter_id, resource_uri, usage_date, location`;
const keyValues = (k: LineKey) =>
  sql`${k.subscriptionId}::uuid, ${k.meterId}::uuid, ${k.resourceUri}::text, ${k.usageDate}::date, ${k.location}::text`;

const SHOWN = sql`customer_id, subscription_id, meter_id, resource_uri, location, usage_date, tier, quantity, unit_price, amount`;
/** The columns of a line the partner center shows; its type is the day's, against the period's start. */
type ShownRow = Omit<DailyRatedLine, 'line_type'>;

const utcDay = (t: Date) => t.toISOString().slice(0, 10);
const keyOf = (l: ShownRow) =>
  JSON.stringify([l.subscription_id, l.meter_id, l.resource_uri, l.usage_date, l.location]);

/**
 * The daily lines of a partner's (subscription, meter) runs, each rated whole over its kept
 * quantities before the window's end (tiers accumulate over the run as on the invoice).
 */
async function runLines(db: BillingDb, window: InvoiceWindow, runs: { subscription_id: string; meter_id: string }[]) {
  const r = await sql<ShownRow>`
    with runs as (select * from jsonb_to_recordset(${JSON.stringify(runs)}::jsonb) as r(subscription_id uuid, meter_id uuid)),
    w as (select ${window.invoiceId}::uuid as invoice_id, array['provider'] as sellers, ${window.periodStart}::timestamptz as period_start),
    subs as (${BILLABLE_SUBSCRIPTIONS}),
    usage as (
      select w.invoice_id, s.customer_id, s.offer_id, s.subscription_id, p.meter_id, p.resource_uri, p.location, p.usage_date, p.quantity
      from runs r join subs s on s.subscription_id = r.subscription_id cross join w
      join partner_unbilled_lines p on p.subscription_id = r.subscription_id and p.meter_id = r.meter_id and p.partner_id = ${window.buyerId}::uuid
        and p.usage_date < ${utcDay(window.periodEnd)}::date
    ),
    ${ratingCtes(LIST_SHEET, { listPrices: true })},
    usage_lines as (${PARTNER_DAILY_LINES})
    select ${SHOWN} from usage_lines
  `.execute(db);
  return new Map(r.rows.map((l) => [keyOf(l), l]));
}

export const partnerUnbilledStore = {
  /**
   * Keeps again, from scratch, what stands unbilled now: migration 0670's start, and the reset of a
   * bench that empties the billing tables with TRUNCATE (which fires no row or statement trigger
   * of the kept lines).
   */
  async refill<T>(db: Kysely<T>, options: { beforeBilledInLines?: boolean } = {}): Promise<void> {
    const folded = await dailyStore.fold(db);
    // (Before migration 0696 no invoice billed in its lines, nor had the column that says so.)
    const billed = options.beforeBilledInLines ? BILLED_ROWS : PARTNER_BILLED;
    await sql`
      truncate partner_unbilled_lines;
      insert into partner_unbilled_lines (subscription_id, meter_id, usage_date, resource_uri, location, quantity)
      select subscription_id, meter_id, usage_date, resource_uri, location, quantity from (${unbilledNow(folded, billed)}) u;
      select partner_unbilled_reprice(null);
    `.execute(db);
  },

  /**
   * Gives what a partner invoice's usage lines billed back to the kept lines (an invoice voided,
   * or a draft about to be rated again), in the caller's transaction; nothing for any other invoice.
   */
  async giveBackLines(db: BillingDb, invoiceId: string): Promise<void> {
    await sql`
      select partner_unbilled_add(array_agg(l.subscription_id), array_agg(l.meter_id), array_agg(l.usage_date), array_agg(l.resource_uri),
                                  array_agg(l.location), array_agg(l.quantity))
      from ${LINES_THAT_BILL} and i.id = ${invoiceId}::uuid
      having count(*) > 0
    `.execute(db);
  },

  /**
   * Up to `limit` unbilled usage lines of a partner's open period after `after`, in invoice order:
   * the kept rows of the days before the period's end (index `partner_unbilled_lines_page`). A
   * row's kept line stands when its day is untiered (an untiered price ignores the running total
   * before it, below 0 too); the page's other runs are rated whole. A line of a day before the
   * period is late usage.
   */
  async usagePage(
    db: BillingDb,
    // the kept lines follow the folds: proof that the caller folded
    _folded: DailyFolded,
    window: InvoiceWindow,
    after: LineKey | null,
    limit: number,
  ): Promise<DailyRatedLine[]> {
    // A page's lines come in runs of one resource's days: its customer, subscription, meter and
    // resource are sent with its first line only (null after it), which halves what is parsed.
    const r = await sql<ShownRow & { kept: boolean }>`
      select case when first then customer_id end as customer_id, case when first then subscription_id end as subscription_id,
             case when first then meter_id end as meter_id, case when first then resource_uri end as resource_uri,
             location, usage_date, tier, quantity, unit_price, amount, kept
      from (
        select p.*, (subscription_id, meter_id, resource_uri) is distinct from
                      (lag(subscription_id) over k, lag(meter_id) over k, lag(resource_uri) over k) as first
        from (
          select ${SHOWN}, unit_price is not null as kept
          from partner_unbilled_lines p
          where partner_id = ${window.buyerId}::uuid and usage_date < ${utcDay(window.periodEnd)}::date
            ${after ? sql`and (${LINE_KEY}) > (${keyValues(after)})` : sql``}
          order by ${LINE_KEY} limit ${limit}
        ) p
        window k as (order by ${LINE_KEY})
      ) p
      order by p.subscription_id, p.meter_id, p.resource_uri, p.usage_date, p.location
    `.execute(db);
    // one pass: each line takes its resource's columns, and the runs without a kept line are noted
    const unrated = new Map<string, { subscription_id: string; meter_id: string }>();
    let first: ShownRow | undefined;
    for (const row of r.rows) {
      if (row.resource_uri !== null) first = row;
      else if (first) {
        row.customer_id = first.customer_id;
        row.subscription_id = first.subscription_id;
        row.meter_id = first.meter_id;
        row.resource_uri = first.resource_uri;
      }
      if (!row.kept && row.subscription_id && row.meter_id)
        unrated.set(`${row.subscription_id} ${row.meter_id}`, {
          subscription_id: row.subscription_id,
          meter_id: row.meter_id,
        });
    }
    const rated = unrated.size > 0 ? await runLines(db, window, [...unrated.values()]) : undefined;
    const firstDay = utcDay(window.periodStart);
    const lines: DailyRatedLine[] = [];
    for (const row of r.rows) {
      // a run rated whole may price a day nothing (no price in force), as the invoice does
      const l = row.kept ? row : rated?.get(keyOf(row));
      if (!l) continue;
      lines.push({
        customer_id: l.customer_id,
        subscription_id: l.subscription_id,
        meter_id: l.meter_id,
        resource_uri: l.resource_uri,
        location: l.location,
        usage_date: l.usage_date,
        tier: l.tier,
        quantity: l.quantity,
        unit_price: l.unit_price,
        amount: l.amount,
        line_type: l.usage_date !== null && l.usage_date < firstDay ? 'late usage' : 'usage',
      });
    }
    return lines;
  },
};
