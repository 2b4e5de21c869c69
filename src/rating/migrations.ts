import { type Kysely, type Migration, sql } from 'kysely';
import {
  LIST_CURRENCY,
  LIST_PRICE_SOURCE,
  LIST_PRICES,
  LIST_PRICES_EFFECTIVE_FROM,
  MANAGED_DISK_LIST_PRICES,
  MANAGED_DISK_PRICE_SOURCE,
  MANAGED_DISK_PRICES_EFFECTIVE_FROM,
} from './list-prices.ts';

// Price sheets, in both roles: on the hub the provider's list sheet (what partners pay) with the
// overrides of the provider and of each partner (what a partner's customers pay); on a stack the
// operator's chargeback sheet. Money is PostgreSQL `numeric` (exact decimal) throughout.
//
// `price_segments` is the one definition of "the price in force": for a meter, a customer and an
// offer over a range of days, the tiers and unit prices of each run of days in which nothing
// changes. The sheet's tiers in force at a day are those of its latest `effective_from` on or
// before that day; each seller of the chain then applies its most specific override in force
// (customer and meter > customer > offer and meter > offer > meter > everything; then the latest).
// A markup or discount scales every tier and is rounded half away from zero to 6 decimals; a fixed
// price replaces the tiers with one. A meter the sheet does not price is priced 0, never dropped.

export function pricingMigrations(sheet: string, description: string): Record<string, Migration> {
  return {
    '0601_pricing': {
      async up(db: Kysely<unknown>) {
        await sql`
          create table price_sheets (
            name text primary key,
            currency text not null,
            description text not null,
            created_at timestamptz not null
          );
          create table prices (
            sheet text not null references price_sheets (name),
            meter_id uuid not null,
            effective_from date not null,
            tier_from numeric(38, 9) not null check (tier_from >= 0),
            unit_price numeric(18, 6) not null check (unit_price >= 0),
            created_by text not null,
            created_at timestamptz not null,
            primary key (sheet, meter_id, effective_from, tier_from)
          );
          create table price_overrides (
            id bigserial primary key,
            seller text not null,
            customer_id uuid,
            offer_id text,
            meter_id uuid,
            kind text not null check (kind in ('markup', 'discount', 'fixed')),
            value numeric(18, 6) not null check (value >= 0),
            effective_from date not null,
            reason text not null,
            created_by text not null,
            created_at timestamptz not null
          );
          create index price_overrides_seller on price_overrides (seller, effective_from);

          create function price_segments(p_sheet text, p_sellers text[], p_customer uuid, p_offer text, p_meter uuid, p_from date, p_to date)
          returns table (valid_from date, valid_to date, tier_no int, tier_from numeric, tier_to numeric, unit_price numeric)
          language plpgsql stable as $$
          declare
            days date[];
            v_day date;
            froms numeric[];
            units numeric[];
            v_seller text;
            chosen record;
          begin
            select array_agg(x order by x) into days from (
              select p_from as x
              union select p.effective_from from prices p
                where p.sheet = p_sheet and p.meter_id = p_meter and p.effective_from > p_from and p.effective_from < p_to
              union select o.effective_from from price_overrides o
                where o.seller = any (p_sellers) and o.effective_from > p_from and o.effective_from < p_to
                  and (o.customer_id is null or o.customer_id = p_customer) and (o.offer_id is null or o.offer_id = p_offer)
                  and (o.meter_id is null or o.meter_id = p_meter)
            ) s;
            for i in 1 .. array_length(days, 1) loop
              v_day := days[i];
              select array_agg(p.tier_from order by p.tier_from), array_agg(p.unit_price order by p.tier_from) into froms, units
              from prices p
              where p.sheet = p_sheet and p.meter_id = p_meter
                and p.effective_from = (select max(q.effective_from) from prices q where q.sheet = p_sheet and q.meter_id = p_meter and q.effective_from <= v_day);
              if froms is null then froms := array[0::numeric]; units := array[0::numeric]; end if;
              foreach v_seller in array p_sellers loop
                select o.kind, o.value into chosen from price_overrides o
                where o.seller = v_seller and o.effective_from <= v_day
                  and (o.customer_id is null or o.customer_id = p_customer) and (o.offer_id is null or o.offer_id = p_offer)
                  and (o.meter_id is null or o.meter_id = p_meter)
                order by (o.customer_id is not null)::int * 4 + (o.offer_id is not null)::int * 2 + (o.meter_id is not null)::int desc,
                         o.effective_from desc, o.id desc
                limit 1;
                if found then
                  if chosen.kind = 'fixed' then
                    froms := array[0::numeric]; units := array[chosen.value];
                  elsif chosen.kind = 'markup' then
                    select array_agg(round(u * (1 + chosen.value / 100), 6) order by n) into units from unnest(units) with ordinality t(u, n);
                  else
                    select array_agg(greatest(round(u * (1 - chosen.value / 100), 6), 0) order by n) into units from unnest(units) with ordinality t(u, n);
                  end if;
                end if;
              end loop;
              return query
                select v_day, coalesce(days[i + 1], p_to), k, froms[k], froms[k + 1], units[k]
                from generate_subscripts(froms, 1) k;
            end loop;
          end $$;
        `.execute(db);
        await sql`insert into price_sheets (name, currency, description, created_at) values (${sheet}, ${LIST_CURRENCY}, ${description}, now())`.execute(
          db,
        );
        await sql`
          insert into prices (sheet, meter_id, effective_from, tier_from, unit_price, created_by, created_at)
          select ${sheet}, x."meterId"::uuid, ${LIST_PRICES_EFFECTIVE_FROM}::date, 0, x."unitPrice"::numeric, ${LIST_PRICE_SOURCE}, now()
          from jsonb_to_recordset(${JSON.stringify(LIST_PRICES)}::jsonb) as x("meterId" text, "unitPrice" text)
        `.execute(db);
      },
    },
    '0610_managed_disk_prices': {
      // The managed-disk meters came after the first prices: a sheet of an existing folder gets them too.
      async up(db: Kysely<unknown>) {
        await sql`
          insert into prices (sheet, meter_id, effective_from, tier_from, unit_price, created_by, created_at)
          select ${sheet}, x."meterId"::uuid, ${MANAGED_DISK_PRICES_EFFECTIVE_FROM}::date, 0, x."unitPrice"::numeric, ${MANAGED_DISK_PRICE_SOURCE}, now()
          from jsonb_to_recordset(${JSON.stringify(MANAGED_DISK_LIST_PRICES)}::jsonb) as x("meterId" text, "unitPrice" text)
          on conflict do nothing
        `.execute(db);
      },
    },
    '0611_price_overrides_page_order': {
      // Keyset pages of a seller's overrides (OVERRIDE_ORDER): a page is a range of this index.
      async up(db: Kysely<unknown>) {
        await sql`create index if not exists price_overrides_seller_id on price_overrides (seller, id)`.execute(db);
      },
    },
  };
}

/** The provider's sheet on the hub: the list prices partners pay. */
export const LIST_SHEET = 'list';
/** The operator's sheet on a stack: the prices of its chargeback to tenant subscriptions. */
export const CHARGEBACK_SHEET = 'chargeback';
