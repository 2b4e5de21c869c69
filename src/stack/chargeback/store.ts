import { type Kysely, sql } from 'kysely';
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

export const chargebackStore = {
  /** The month's chargeback lines: of every tenant subscription, or of one. */
  lines: async (db: ChargebackDb, start: Date, end: Date, subscriptionId?: string): Promise<ChargebackLine[]> => {
    // Each tenant subscription is its own document (`invoice_id`) for the rating CTEs.
    const r = await sql<ChargebackLine>`
      with usage as (
        select d.subscription_id as invoice_id, d.tenant_id as customer_id, ''::text as offer_id, d.subscription_id, d.meter_id,
               d.resource_uri, d.location, d.usage_date, d.quantity
        from (${outboxStore.dailyUsage(start, end, subscriptionId)}) d
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

  /** Every subscription's display name, by id (through ARM's published ownership query). */
  subscriptionNames: async (db: ChargebackDb): Promise<Map<string, string>> => {
    const r = await sql<{ subscription_id: string; display_name: string }>`
      select subscription_id::text, display_name from (${armStore.subscriptionOwnership()}) o
    `.execute(db);
    return new Map(r.rows.map((s) => [s.subscription_id, s.display_name]));
  },
};
