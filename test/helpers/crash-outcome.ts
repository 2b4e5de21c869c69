// What the hub holds at the end of a crash month (test/helpers/crash-month.ts), in a form two runs
// can be compared in: usage per billed subscription and meter, invoices, and whether the ledger verifies.
import pg from 'pg';
import { cli } from './cli.ts';

export interface HubOutcome {
  /** Usage records the hub received. */
  records: number;
  /** Attributed quantity per billed subscription and meter (ids replaced by stable labels). */
  usage: string[];
  /** Every invoice's content: stream, seller, buyer, period, date, totals and lines (labels, no numbers). */
  invoices: string[];
  balanced: boolean;
}

/** Reads the hub's database and runs `usage verify` on its folder; `labels` replace ids (lower case) by names. */
export async function hubOutcome(
  hubDatabase: string,
  hubDir: string,
  labels: Map<string, string>,
): Promise<HubOutcome> {
  const label = (text: string) =>
    [...labels].reduce((s, [id, name]) => s.replaceAll(id.toLowerCase(), name), text.toLowerCase());
  const db = new pg.Client({ connectionString: hubDatabase });
  await db.connect();
  try {
    const records = Number(
      (await db.query(`select count(*) as n from usage_received where source like 'deployment:%'`)).rows[0].n,
    );
    const usage = (
      await db.query(`select a.billed_subscription_id::text as sub, r.meter_id::text as meter, sum(a.quantity)::text as q
                      from usage_attributions a join usage_received r on r.id = a.received_id group by 1, 2 order by 1, 2`)
    ).rows
      .map((r) => label(`${r.sub} ${r.meter} ${r.q}`))
      .sort();
    // Lines are numbered in id order (customers, subscriptions), which differs between runs: compared as a set.
    const invoices = (
      await db.query(`select i.stream, i.kind, i.seller, i.buyer_id::text as buyer, i.period, i.invoice_date, i.subtotal::text, i.tax::text, i.total::text,
                             (select json_agg(json_build_array(l.line_type, l.customer_id, l.subscription_id, l.meter_id, l.resource_uri, l.location,
                                                               l.usage_date, l.usage_to, l.tier, l.quantity::text, l.unit_price::text, l.amount::text, l.description))
                              from invoice_lines l where l.invoice_id = i.id) as lines
                      from invoices i`)
    ).rows
      .map(
        ({ lines, ...invoice }) =>
          `${label(JSON.stringify(invoice))} lines ${JSON.stringify((lines ?? []).map((l: unknown[]) => label(JSON.stringify(l))).sort())}`,
      )
      .sort();
    const verify = await cli(['usage', 'verify', '--data', hubDir, '--json']);
    const balanced = verify.code === 0 && JSON.parse(verify.stdout).balanced === true;
    return { records, usage, invoices, balanced };
  } finally {
    await db.end();
  }
}
