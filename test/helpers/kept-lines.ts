// The partner center's kept unbilled lines against their rule computed afresh, for the tests of
// what changes them (closes, voids, drafts rated again).
import { type TestSystem, withHubDatabase } from './system.ts';

/**
 * The kept lines that differ from the rule computed afresh: every daily aggregate less what
 * partner invoices billed of it (their usage lines but a voided invoice's, and their rows of
 * billed_daily from before the lines said it), where not 0. A partner
 * close deletes the lines it bills itself; this is the same rule, from scratch.
 */
export const keptApartFromRule = (t: TestSystem) =>
  withHubDatabase(t, async (c) => {
    await c.query('select usage_daily_fold()');
    const { rows } = await c.query(`
      with kept as (select subscription_id, meter_id, usage_date, resource_uri, location, quantity from partner_unbilled_lines),
      billed as (
        select subscription_id, meter_id, usage_date, resource_uri, location, sum(quantity) as quantity
        from (
          select subscription_id, meter_id, usage_date, resource_uri, location, quantity from billed_daily where stream = 'partner'
          union all
          select l.subscription_id, l.meter_id, l.usage_date, l.resource_uri, l.location, l.quantity
          from invoices i join invoice_lines l on l.invoice_id = i.id
          where i.billed_in_lines and i.status <> 'voided' and l.line_type in ('usage', 'late usage')
        ) x group by 1, 2, 3, 4, 5
      ),
      rule as (
        select d.billed_subscription_id, d.meter_id, d.usage_date, d.resource_uri, d.location, d.quantity - coalesce(b.quantity, 0)
        from usage_daily d left join billed b on b.subscription_id = d.billed_subscription_id and b.meter_id = d.meter_id
          and b.usage_date = d.usage_date and b.resource_uri = d.resource_uri and b.location = d.location
        where d.quantity <> coalesce(b.quantity, 0)
      )
      select * from ((table kept except all table rule) union all (table rule except all table kept)) x`);
    return rows;
  });
