import { type Kysely, type Migration, sql } from 'kysely';
import type { StatementTriggerFunctions } from '../db/database.ts';
import { armStore } from '../arm/store.ts';
import { identityStore } from '../identity/store.ts';
import { pricingStore } from '../rating/store.ts';
import { dailyUsageTriggers } from '../usage/daily-triggers.ts';
import {
  addToKeptStatement,
  inlined,
  keepFreshStatement,
  partnerUnbilledStore,
  repriceStatement,
} from './partner-unbilled.ts';

// Billing's migrations of the partner center's unbilled lines, rated as usage arrives
// (`partner-unbilled.ts`).

export const partnerUnbilledMigrations: Record<string, Migration> = {
  '0670_partner_unbilled_lines': {
    // Per daily aggregate, what partner invoices have not billed of it (rows at 0 go) and, where its
    // day is untiered, its daily-rated line; the partner (null: the subscription is not billable)
    // and customer. Kept by billing's statement triggers on what it derives from, in the writer's
    // transaction: usage's daily aggregates and the partner invoices' billed quantities (adding
    // the differences), prices and overrides (every row re-priced), subscriptions and partner
    // directories (their subscriptions' rows). Filled from the existing aggregates.
    async up(db: Kysely<unknown>) {
      await sql`
        create table partner_unbilled_lines (
          subscription_id uuid not null,
          meter_id uuid not null,
          usage_date date not null,
          resource_uri text not null,
          location text not null,
          partner_id uuid,
          customer_id uuid,
          quantity numeric not null,
          tier int,
          unit_price numeric,
          amount numeric,
          primary key (subscription_id, meter_id, usage_date, resource_uri, location)
        );
        -- a partner's page: its lines in invoice order
        create index partner_unbilled_lines_page on partner_unbilled_lines (partner_id, subscription_id, meter_id, resource_uri, usage_date, location);
        -- the runs whose running total can go below 0 (a page rates them whole)
        create index partner_unbilled_lines_negative on partner_unbilled_lines (subscription_id, meter_id) where quantity < 0;
      `.execute(db);
      await sql.raw(functions(db)).execute(db);
      await partnerUnbilledStore.refill(db, { beforeBilledInLines: true });
      await sql.raw(TRIGGERS).execute(db);
    },
  },
  '0671_partner_unbilled_reprice_hashed': {
    // The re-pricing of 0670 as it now is (above): quadratic no longer, on hubs that ran 0670 first.
    async up(db: Kysely<unknown>) {
      await sql.raw(repriceFunction(db)).execute(db);
    },
  },
  '0672_partner_unbilled_zero_rows_deleted': {
    // Adding differences as it now is (above): a row brought to 0 is deleted, not updated to 0 and
    // then deleted (a partner invoice's close bills every row of its month: half the triggers' work).
    async up(db: Kysely<unknown>) {
      await sql.raw(addFunction(db)).execute(db);
    },
  },
  '0693_partner_unbilled_reprice_without_jit': {
    // The re-pricing as it now is (above): with nested loops off, without JIT either.
    async up(db: Kysely<unknown>) {
      await sql.raw(repriceFunction(db)).execute(db);
    },
  },
  '0695_partner_unbilled_retired_by_close': {
    // A partner close deletes the kept lines it bills and bills what the deletes return
    // (`ratedLines`), so its billed quantities no longer go through the trigger: it added each one
    // back to its line to delete it (a third of a close). Taking an invoice back still adds what
    // it billed back (`partner_unbilled_billed_deleted`).
    async up(db: Kysely<unknown>) {
      await sql`drop trigger partner_unbilled_billed_inserted on billed_daily`.execute(db);
    },
  },
  '0696_partner_billed_in_lines': {
    // A partner invoice's usage lines (one per key and day) say what it billed: its close writes no
    // rows of `billed_daily` (`writeInvoices`), and taking it back gives its lines' quantities back
    // to the kept lines (`giveBackLines`). Invoices closed before keep their rows (false).
    async up(db: Kysely<unknown>) {
      await sql`alter table invoices add column billed_in_lines boolean not null default false`.execute(db);
    },
  },
  '0697_partner_unbilled_below_zero_rated': {
    // Rating gives a day's part below 0 to the first tier both ways (`ratingCtes`): an untiered
    // day's kept line stands in a run that goes below 0 too, so the page no longer looks for
    // negative quantities. The functions take rating's text as it now is.
    async up(db: Kysely<unknown>) {
      await sql`drop index partner_unbilled_lines_negative`.execute(db);
      await sql.raw(addFunction(db)).execute(db);
      await sql.raw(repriceFunction(db)).execute(db);
    },
  },
};

/** Adding differences and re-pricing, set-based (`partner-unbilled.ts`). */
const functions = (db: Kysely<unknown>) => `
  ${addFunction(db)}

  ${repriceFunction(db)}

  -- a directory becoming (or ceasing to be) a partner's makes its own subscriptions billable (or not)
  create function partner_unbilled_reprice_tenants(tenants uuid[]) returns void language plpgsql as $fn$
  begin
    perform partner_unbilled_reprice(array_agg(s.subscription_id))
    from (${inlined(armStore.subscriptionOwnership(), db)}) s where s.tenant_id = any (tenants) having count(*) > 0;
  end $fn$;
`;

/**
 * Adds differences to the kept lines (`addToKeptStatement`), keeping the keys it did not find
 * (`keepFreshStatement`, priced); the rows a difference brings to 0 go.
 */
const addFunction = (db: Kysely<unknown>) => `
  create or replace function partner_unbilled_add(subscriptions uuid[], meters uuid[], days date[], resources text[], locations text[], quantities numeric[])
  returns void language plpgsql as $fn$
  declare
    fresh_subscriptions uuid[];
    fresh_meters uuid[];
    fresh_days date[];
    fresh_resources text[];
    fresh_locations text[];
    fresh_quantities numeric[];
  begin
    with changes as (
      select subscription_id, meter_id, usage_date, resource_uri, location, sum(quantity) as quantity
      from unnest(subscriptions, meters, days, resources, locations, quantities) c(subscription_id, meter_id, usage_date, resource_uri, location, quantity)
      group by 1, 2, 3, 4, 5 having sum(quantity) <> 0
    ),
    ${inlined(addToKeptStatement(), db)}
    select array_agg(subscription_id), array_agg(meter_id), array_agg(usage_date), array_agg(resource_uri), array_agg(location), array_agg(quantity)
    into fresh_subscriptions, fresh_meters, fresh_days, fresh_resources, fresh_locations, fresh_quantities
    from changes c
    where not exists (select 1 from added a where a.subscription_id = c.subscription_id and a.meter_id = c.meter_id and a.usage_date = c.usage_date
                        and a.resource_uri = c.resource_uri and a.location = c.location);
    -- only new keys are priced (a day's first attribution of a resource)
    if fresh_subscriptions is not null then
      with fresh as (
        select * from unnest(fresh_subscriptions, fresh_meters, fresh_days, fresh_resources, fresh_locations, fresh_quantities)
          f(subscription_id, meter_id, usage_date, resource_uri, location, quantity)
      ),
      ${inlined(keepFreshStatement(), db)};
      -- a key a concurrent writer kept since may have come to 0 (the others went at once)
      delete from partner_unbilled_lines p
      using unnest(fresh_subscriptions, fresh_meters, fresh_days, fresh_resources, fresh_locations) c(subscription_id, meter_id, usage_date, resource_uri, location)
      where p.subscription_id = c.subscription_id and p.meter_id = c.meter_id and p.usage_date = c.usage_date
        and p.resource_uri = c.resource_uri and p.location = c.location and p.quantity = 0;
    end if;
  end $fn$;`;

/**
 * Re-prices the kept lines of some subscriptions (all: null). Its CTEs' row counts are guesses of
 * one, on which the planner nests loops of the rows against their own prices: the time grew with
 * the square of the rows (100 subscriptions of a month, 6,200 rows: 23 s). Past a few
 * subscriptions it plans hash joins instead (183 ms), for its own statement only, and without JIT:
 * a nested loop it cannot avoid then costs 10^10, past every JIT threshold (seconds of compiling).
 */
const repriceFunction = (db: Kysely<unknown>) => `
  create or replace function partner_unbilled_reprice(subscriptions uuid[]) returns void language plpgsql as $fn$
  declare
    nestloop text := current_setting('enable_nestloop');
    jit text := current_setting('jit');
  begin
    if subscriptions is null or cardinality(subscriptions) > 8 then
      perform set_config('enable_nestloop', 'off', true);
      perform set_config('jit', 'off', true);
    end if;
    with targets as (
      select subscription_id, meter_id, usage_date, resource_uri, location, quantity from partner_unbilled_lines
      where subscriptions is null or subscription_id = any (subscriptions)
    ),
    ${inlined(repriceStatement(), db)};
    perform set_config('enable_nestloop', nestloop, true);
    perform set_config('jit', jit, true);
  end $fn$;`;

/** Each table it derives from changes it in the writer's transaction, through its owner's published triggers. */
const TRIGGER_FUNCTIONS = `
  create function partner_unbilled_daily_inserted() returns trigger language plpgsql as $fn$
  begin
    perform partner_unbilled_add(array_agg(billed_subscription_id), array_agg(meter_id), array_agg(usage_date), array_agg(resource_uri),
                                 array_agg(location), array_agg(quantity))
    from new_daily having count(*) > 0;
    return null;
  end $fn$;
  -- the rows after less the rows before: partner_unbilled_add sums them per key (a join of the two
  -- transition tables, which have no statistics, was planned as a nested loop)
  create function partner_unbilled_daily_updated() returns trigger language plpgsql as $fn$
  begin
    perform partner_unbilled_add(array_agg(billed_subscription_id), array_agg(meter_id), array_agg(usage_date), array_agg(resource_uri),
                                 array_agg(location), array_agg(quantity))
    from (select billed_subscription_id, meter_id, usage_date, resource_uri, location, quantity from new_daily
          union all
          select billed_subscription_id, meter_id, usage_date, resource_uri, location, -quantity from old_daily) x
    having count(*) > 0;
    return null;
  end $fn$;
  -- an aggregate deleted (its month archived, billed) leaves nothing to bill
  create function partner_unbilled_daily_deleted() returns trigger language plpgsql as $fn$
  begin
    delete from partner_unbilled_lines p using old_daily g
    where p.subscription_id = g.billed_subscription_id and p.meter_id = g.meter_id and p.usage_date = g.usage_date
      and p.resource_uri = g.resource_uri and p.location = g.location;
    return null;
  end $fn$;

  -- what partner invoices bill is no longer unbilled; what they give back (taken back) is again
  create function partner_unbilled_billed() returns trigger language plpgsql as $fn$
  begin
    perform partner_unbilled_add(array_agg(subscription_id), array_agg(meter_id), array_agg(usage_date), array_agg(resource_uri),
                                 array_agg(location), array_agg(case when tg_op = 'INSERT' then -quantity else quantity end))
    from changed_billed where stream = 'partner' and seller = 'provider' having count(*) > 0;
    return null;
  end $fn$;
  create trigger partner_unbilled_billed_inserted after insert on billed_daily
    referencing new table as changed_billed for each statement execute function partner_unbilled_billed();
  create trigger partner_unbilled_billed_deleted after delete on billed_daily
    referencing old table as changed_billed for each statement execute function partner_unbilled_billed();

  create function partner_unbilled_prices_changed() returns trigger language plpgsql as $fn$
  begin
    perform partner_unbilled_reprice(null);
    return null;
  end $fn$;

  create function partner_unbilled_subscriptions_inserted() returns trigger language plpgsql as $fn$
  begin
    perform partner_unbilled_reprice(array_agg(subscription_id)) from new_subscriptions having count(*) > 0;
    return null;
  end $fn$;
  create function partner_unbilled_subscriptions_deleted() returns trigger language plpgsql as $fn$
  begin
    perform partner_unbilled_reprice(array_agg(subscription_id)) from old_subscriptions having count(*) > 0;
    return null;
  end $fn$;
  -- a subscription's buyer or offer changing re-prices its rows; its state or name does not
  create function partner_unbilled_subscriptions_updated() returns trigger language plpgsql as $fn$
  begin
    perform partner_unbilled_reprice(array_agg(n.subscription_id))
    from new_subscriptions n join old_subscriptions o using (subscription_id)
    where (n.tenant_id, n.offer_id, n.sold_by) is distinct from (o.tenant_id, o.offer_id, o.sold_by) having count(*) > 0;
    return null;
  end $fn$;

  -- a directory becoming (or ceasing to be) a partner's makes its own subscriptions billable (or not)
  create function partner_unbilled_directories_inserted() returns trigger language plpgsql as $fn$
  begin
    perform partner_unbilled_reprice_tenants(array_agg(tenant_id)) from new_directories where kind = 'partner' having count(*) > 0;
    return null;
  end $fn$;
  create function partner_unbilled_directories_deleted() returns trigger language plpgsql as $fn$
  begin
    perform partner_unbilled_reprice_tenants(array_agg(tenant_id)) from old_directories where kind = 'partner' having count(*) > 0;
    return null;
  end $fn$;
  create function partner_unbilled_directories_updated() returns trigger language plpgsql as $fn$
  begin
    perform partner_unbilled_reprice_tenants(array_agg(n.tenant_id))
    from new_directories n join old_directories o using (tenant_id)
    where (n.kind = 'partner') is distinct from (o.kind = 'partner') having count(*) > 0;
    return null;
  end $fn$;
`;

/** The trigger functions named for one table: `${name}_inserted`, `_updated`, `_deleted`. */
const triggers = (name: string): StatementTriggerFunctions => ({
  inserted: `${name}_inserted`,
  updated: `${name}_updated`,
  deleted: `${name}_deleted`,
});

const TRIGGERS = [
  TRIGGER_FUNCTIONS,
  dailyUsageTriggers('partner_unbilled_daily', triggers('partner_unbilled_daily')),
  pricingStore.priceTriggers('partner_unbilled', 'partner_unbilled_prices_changed'),
  armStore.subscriptionTriggers('partner_unbilled_subscriptions', triggers('partner_unbilled_subscriptions')),
  identityStore.directoryTriggers('partner_unbilled_directories', triggers('partner_unbilled_directories')),
].join('\n');
