import { type Kysely, sql } from 'kysely';
import { CHARGEBACK_SHEET } from '../../rating/migrations.ts';
import { ratingCtes, roundMoneySql } from '../../rating/rating.ts';

// The chargeback report's SQL: a month of the stack's closed usage, per tenant subscription,
// rated with the operator's own sheet (the same rating as the hub's invoices).

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

/** The month's chargeback lines: of every tenant subscription, or of one. */
export async function chargebackLines(
  db: Kysely<any>,
  start: Date,
  end: Date,
  subscriptionId?: string,
): Promise<ChargebackLine[]> {
  const only = subscriptionId === undefined ? sql`true` : sql`r.subscription_id = ${subscriptionId}::uuid`;
  const r = await sql<ChargebackLine>`
    with w as (
      select distinct r.subscription_id as invoice_id, array['operator'] as sellers, ${start}::timestamptz as period_start
      from usage_records r where r.hour >= ${start}::timestamptz and r.hour < ${end}::timestamptz and ${only}
    ),
    usage as (
      select r.subscription_id as invoice_id, r.tenant_id as customer_id, ''::text as offer_id, r.subscription_id, r.meter_id, r.resource_uri, r.location,
             (r.hour at time zone 'UTC')::date as usage_date, sum(r.quantity) as quantity
      from usage_records r where r.hour >= ${start}::timestamptz and r.hour < ${end}::timestamptz and ${only}
      group by r.subscription_id, r.tenant_id, r.meter_id, r.resource_uri, r.location, usage_date
      having sum(r.quantity) <> 0
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
}
