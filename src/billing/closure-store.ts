import { type RawBuilder, sql } from 'kysely';
import { type DailyFolded, dailyStore } from '../usage/daily-store.ts';
import { BILLABLE_SUBSCRIPTIONS, billedSoFar } from './rated-store.ts';

// Published for usage's archive: whether billing is done with a range of usage days. A query (the
// archive runs it on its own transaction's client, next to its COPY) and what its rows mean.

interface NotBilledRow {
  stream: string;
  buyer_id: string;
  usage_date: string | null;
  open: boolean;
}

/**
 * Why the usage of [start, end) (whole UTC days) may not leave the database yet, or undefined when
 * it may: every buyer's billing period that takes in the range's last day has closed (an invoice
 * that is no longer a draft exists whose period ends at or after `end`), and, per usage key, what its invoices billed equals
 * the daily aggregate (nothing unbilled, nothing billed since corrected; a partner's, as its close
 * reads it: no kept unbilled line). Usage of subscriptions
 * that no one buys (not billable) has no invoice to wait for.
 */
export function usageNotYetBilledQuery(folded: DailyFolded, start: Date, end: Date): RawBuilder<NotBilledRow> {
  const inRange = (day: RawBuilder<unknown>) =>
    sql`${day} >= (${start}::timestamptz at time zone 'UTC')::date and ${day} < (${end}::timestamptz at time zone 'UTC')::date`;
  return sql<NotBilledRow>`
    with subs as (${BILLABLE_SUBSCRIPTIONS}),
    buyers as (
      select 'partner' as stream, 'provider' as seller, s.partner_id as buyer_id, s.subscription_id from subs s
      union all
      select 'customer', s.partner_id::text, s.customer_id, s.subscription_id from subs s where s.customer_id <> s.partner_id
    ),
    daily as (
      select * from (${dailyStore.dailyUsage(folded)}) d
      where ${inRange(sql`d.usage_date`)}
    ),
    open_buyers as (
      select distinct b.stream, b.buyer_id, true as open, null::date as usage_date
      from buyers b join daily d on d.billed_subscription_id = b.subscription_id
      where not exists (
        select 1 from invoices i
        where i.kind = 'invoice' and i.status <> 'draft' and i.stream = b.stream and i.seller = b.seller and i.buyer_id = b.buyer_id and i.period_end >= ${end}::timestamptz
      )
    ),
    -- a partner's: its kept unbilled lines, which its close bills (ratedLines); a customer's: the
    -- aggregates less what its partner's invoices to it billed
    unbilled as (
      select 'partner' as stream, p.partner_id as buyer_id, false as open, p.usage_date
      from partner_unbilled_lines p
      where p.partner_id is not null and ${inRange(sql`p.usage_date`)}
      union all
      select u.stream, u.buyer_id, false as open, d.usage_date
      from buyers u join daily d on d.billed_subscription_id = u.subscription_id
      ${billedSoFar({ stream: sql`u.stream`, buyerId: sql`u.buyer_id`, seller: sql`u.seller` })}
      where u.stream = 'customer' and d.quantity <> coalesce(b.quantity, 0)
    )
    (select stream, buyer_id::text, usage_date::text, open from open_buyers limit 1)
    union all
    (select stream, buyer_id::text, usage_date::text, open from unbilled order by usage_date limit 1)
  `;
}

/** Why the rows of `usageNotYetBilledQuery` keep the range in the database (undefined: they do not). */
export function whyNotBilled(rows: NotBilledRow[]): string | undefined {
  const open = rows.find((r) => r.open);
  if (open) return `the ${open.stream} billing period of ${open.buyer_id} that takes in its last day is not closed`;
  const unbilled = rows[0];
  if (unbilled) return `usage of ${unbilled.usage_date} is not billed to ${unbilled.stream} ${unbilled.buyer_id}`;
  return undefined;
}
