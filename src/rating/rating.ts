import { Decimal } from 'decimal.js';
import { type RawBuilder, sql } from 'kysely';

// The rounding rule of money, once, in its two forms: amounts are rounded once, at the line (and
// tax once, on the subtotal), to the cent, half away from zero. PostgreSQL's `round(numeric, 2)`
// and decimal.js's ROUND_HALF_UP are both that rule, for positive and negative amounts alike.
const MONEY_PLACES = 2;

/** A money amount in SQL: `round(expression, 2)`. */
export const roundMoneySql = (amount: RawBuilder<unknown>): RawBuilder<unknown> =>
  sql`round(${amount}, ${sql.lit(MONEY_PLACES)})`;

/** A money amount in TypeScript: the same rule as `roundMoneySql`. */
export const roundMoney = (amount: Decimal): Decimal => amount.toDecimalPlaces(MONEY_PLACES, Decimal.ROUND_HALF_UP);

/**
 * A unit price scaled by a markup or discount, in TypeScript: 6 decimals, half away from zero, as
 * `price_segments` rounds each tier (in PL/pgSQL, in rating's migrations).
 */
export const roundUnitPrice = (price: Decimal): Decimal => price.toDecimalPlaces(6, Decimal.ROUND_HALF_UP);

// Rating, shared by the hub's invoices and the stack's chargeback: the CTEs that price usage.
// They read two CTEs the caller defines first:
//   w(invoice_id, sellers text[], period_start): one row per document being rated;
//   usage(invoice_id, customer_id, offer_id, subscription_id, meter_id, resource_uri, location,
//         usage_date, quantity): its usage per day.
// and define `rated`: each day's quantity split at the tiers it crosses, with the unit price in
// force that day (`price_segments`). Tiers accumulate over the document per subscription and
// meter, by day then resource; a negative quantity (a correction) is split at the tiers it takes
// back, from the total before it downwards. Below 0 is the first tier's, both ways: a day's parts
// add up to its quantity, so a run is billed at its net. With `listPrices`, `rated` also carries
// `list_unit_price`: the sheet's own price of the same tier that day, before any seller's override
// (looked up once per meter; a fixed price's one tier is the sheet's first).
export function ratingCtes(sheet: string, options: { listPrices?: boolean } = {}): RawBuilder<unknown> {
  const list = options.listPrices
    ? {
        ctes: sql`list_in_force as materialized (
      select k.meter_id, p.*
      from (select meter_id, min(d_from) as d_from, max(d_to) as d_to from combos group by meter_id) k
      cross join lateral price_segments(${sheet}, array[]::text[], null, null, k.meter_id, k.d_from, k.d_to) p
    ),`,
        column: sql`, l.unit_price as list_unit_price`,
        // an override keeps the sheet's tiers or makes one: the sheet always has the tier it names
        join: sql`left join list_in_force l on l.meter_id = c.meter_id and l.tier_no = g.tier_no
        and c.usage_date >= l.valid_from and c.usage_date < l.valid_to`,
      }
    : { ctes: sql``, column: sql``, join: sql`` };
  return sql`
    -- per document: rating joins its usage to its prices by the document's id, which compares and
    -- hashes faster than its sellers' array (the prices are still looked up once per sellers)
    combos as (
      select w.invoice_id, w.sellers, u.customer_id, u.offer_id, u.meter_id, min(u.usage_date) as d_from, max(u.usage_date) + 1 as d_to
      from usage u join w on w.invoice_id = u.invoice_id
      group by w.invoice_id, w.sellers, u.customer_id, u.offer_id, u.meter_id
    ),
    -- a customer or offer that no override of these sellers names is priced as any other such one
    -- (price_segments then reads only the overrides that name neither): the prices are looked up
    -- once per (sellers, meter) for all of them, not once per customer
    price_keys as (
      select c.*,
             case when exists (select 1 from price_overrides o where o.customer_id = c.customer_id and o.seller = any (c.sellers))
                  then c.customer_id end as price_customer,
             case when exists (select 1 from price_overrides o where o.offer_id = c.offer_id and o.seller = any (c.sellers))
                  then c.offer_id end as price_offer
      from combos c
    ),
    -- materialized: the prices are looked up once per combination, not once per day of usage
    prices_in_force as materialized (
      select k.sellers, k.price_customer, k.price_offer, k.meter_id, p.*
      from (select sellers, price_customer, price_offer, meter_id, min(d_from) as d_from, max(d_to) as d_to
            from price_keys group by sellers, price_customer, price_offer, meter_id) k
      cross join lateral price_segments(${sheet}, k.sellers, k.price_customer, k.price_offer, k.meter_id, k.d_from, k.d_to) p
    ),
    ${list.ctes}
    segments as (
      select k.invoice_id, k.customer_id, k.offer_id, k.meter_id, p.valid_from, p.valid_to, p.tier_no, p.tier_from, p.tier_to, p.unit_price
      from price_keys k join prices_in_force p on p.sellers = k.sellers and p.meter_id = k.meter_id
        and p.price_customer is not distinct from k.price_customer and p.price_offer is not distinct from k.price_offer
    ),
    cumulative as (
      select u.*, (w.period_start at time zone 'UTC')::date as first_day,
             sum(u.quantity) over (partition by u.invoice_id, u.subscription_id, u.meter_id order by u.usage_date, u.resource_uri, u.location rows unbounded preceding) - u.quantity as before
      from usage u join w on w.invoice_id = u.invoice_id
    ),
    rated as (
      select c.invoice_id, c.customer_id, c.subscription_id, c.meter_id, c.resource_uri, c.location, c.usage_date,
             c.usage_date < c.first_day as late, g.tier_no, g.unit_price ${list.column},
             case when c.quantity < 0
                  -- the part of [before + quantity, before] in this tier, negative (below 0: the first tier)
                  then greatest(c.before + c.quantity, case when g.tier_from = 0 then c.before + c.quantity else g.tier_from end)
                       - least(c.before, coalesce(g.tier_to, c.before))
                  -- the part of [before, before + quantity] in this tier (below 0: the first tier, as a correction's)
                  else least(c.before + c.quantity, coalesce(g.tier_to, c.before + c.quantity))
                       - case when g.tier_from = 0 then c.before else greatest(c.before, g.tier_from) end end as quantity
      from cumulative c
      join segments g on g.invoice_id = c.invoice_id and g.customer_id = c.customer_id and g.offer_id = c.offer_id and g.meter_id = c.meter_id
        and c.usage_date >= g.valid_from and c.usage_date < g.valid_to
        -- a correction takes back the tiers of the quantity before it, from its top down
        and case when c.quantity < 0
                 then (g.tier_from = 0 or g.tier_from < c.before) and (g.tier_to is null or g.tier_to > c.before + c.quantity)
                 else (g.tier_from = 0 or g.tier_from < c.before + c.quantity) and (g.tier_to is null or g.tier_to > c.before) end
      ${list.join}
    )`;
}

/**
 * After `ratingCtes`: `day_prices`, per row of `usage` whose day one untiered segment prices (one
 * tier, from 0, without end), that tier and its unit price. For such a row `rated` gives its whole
 * quantity at that price whatever its run held before it: its
 * line is quantity × price, which a writer can keep as the quantity changes. Tiered days are not in it.
 */
export const UNTIERED_DAY_PRICES = sql`
    day_prices as (
      select u.subscription_id, u.meter_id, u.resource_uri, u.usage_date, u.location, min(g.tier_no) as tier, min(g.unit_price) as unit_price
      from usage u
      join segments g on g.invoice_id = u.invoice_id and g.customer_id = u.customer_id and g.offer_id = u.offer_id and g.meter_id = u.meter_id
        and u.usage_date >= g.valid_from and u.usage_date < g.valid_to
      group by u.subscription_id, u.meter_id, u.resource_uri, u.usage_date, u.location
      having count(*) = 1 and min(g.tier_from) = 0 and bool_and(g.tier_to is null)
    )`;
