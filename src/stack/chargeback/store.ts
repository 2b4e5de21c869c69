import { type Kysely, sql } from 'kysely';
import { keyset, pageQuery, type Cursor } from '../../core/paging.ts';
import { armStore } from '../../arm/store.ts';
import { CHARGEBACK_SHEET } from '../../rating/migrations.ts';
import { ratingCtes, roundMoneySql } from '../../rating/rating.ts';
import type { PricingTables } from '../../rating/tables.ts';
import { outboxStore } from '../metering/outbox-store.ts';

// The chargeback report's SQL: a month of the stack's closed usage per day (metering's query),
// per tenant subscription, rated with the operator's own sheet (the same rating as the hub's
// invoices).

export type ChargebackDb = Kysely<PricingTables>;

export interface ChargebackLine {
  subscription_id: string;
  tenant_id: string;
  meter_id: string;
  resource_uri: string;
  location: string;
  tier_no: number;
  unit_price: string;
  quantity: string;
  amount: string;
  usage_from: string;
  usage_to: string;
}

/** A subscription of a chargeback page, with its name. */
export interface ChargebackSubscription {
  subscription_id: string;
  display_name: string;
}

/** A chargeback's pages: the stack's subscriptions by id, each page's lines read for its subscriptions alone. */
export const CHARGEBACK_ORDER = keyset(
  'chargeback',
  [[sql.ref('o.subscription_id'), 'uuid']],
  (s: ChargebackSubscription) => [s.subscription_id],
);

export const chargebackStore = {
  /** A page of subscriptions (CHARGEBACK_ORDER; one, when `only` names it), through ARM's published ownership query. */
  subscriptionPage: (db: ChargebackDb, cursor: Cursor, only?: string): Promise<ChargebackSubscription[]> => {
    const owned = sql<ChargebackSubscription>`(${armStore.subscriptionOwnership()})`.as('o');
    let q = db.selectFrom(owned).select(['o.subscription_id', 'o.display_name']);
    if (only !== undefined) q = q.where('o.subscription_id', '=', only);
    return pageQuery(q, CHARGEBACK_ORDER, cursor).execute();
  },

  /** The month's chargeback lines of these subscriptions. */
  lines: async (
    db: ChargebackDb,
    start: Date,
    end: Date,
    subscriptionIds: readonly string[],
  ): Promise<ChargebackLine[]> => {
    // Each tenant subscription is its own document (`invoice_id`) for the rating CTEs.
    const r = await sql<ChargebackLine>`
      with usage as (
        select d.subscription_id as invoice_id, d.tenant_id as customer_id, ''::text as offer_id, d.subscription_id, d.meter_id,
               d.resource_uri, d.location, d.usage_date, d.quantity
        from (${outboxStore.dailyUsage(start, end, subscriptionIds)}) d
      ),
      w as (
        select distinct invoice_id, array['operator'] as sellers, ${start}::timestamptz as period_start from usage
      ),
      ${ratingCtes(CHARGEBACK_SHEET)}
      select invoice_id::text as subscription_id, customer_id::text as tenant_id, meter_id::text, resource_uri, location, tier_no, unit_price::text,
             sum(quantity)::text as quantity, ${roundMoneySql(sql`sum(quantity) * unit_price`)}::text as amount,
             min(usage_date)::text as usage_from, max(usage_date)::text as usage_to
      from rated
      group by invoice_id, customer_id, meter_id, resource_uri, location, tier_no, unit_price
      order by 1, 3, 4, 6
    `.execute(db);
    return r.rows;
  },
};
