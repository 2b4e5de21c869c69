// The partner center's unbilled charges mid-month: a partner with N customers, each with a VM
// running since the 1st, asks on the 16th for the first pages of its open period's daily-rated
// lines. Ours rates each page over the daily aggregates (minus what was billed); the baseline is
// the raw SQL of the same page over the same aggregates: join the subscriptions, price at the list
// price, order by the line key, limit, returning the same columns.
import { type BenchResult, median } from './report.ts';
import { sql } from 'kysely';
import { unbilledPage } from '../src/billing/invoices.ts';
import type { UnbilledPosition } from '../src/billing/rules.ts';
import { SimulatedClock } from '../src/core/clock.ts';
import { ensureDatabase, openDatabase, withDatabase } from '../src/db/database.ts';
import type { HubTables } from '../src/hub/app.ts';
import { migrateHub } from '../src/hub/migrations.ts';
import { PARTNER, seed } from './billing-run.ts';

const PAGE = 2000;
const PAGES = 2;
/** Measured runs (BENCH_UNBILLED_RUNS), after unmeasured ones. */
const RUNS = Number(process.env.BENCH_UNBILLED_RUNS ?? 21);
const WARM_UP = 3;

// The columns a page shows (the partner center's daily-rated line), as ours returns them.
const baselinePage = (offset: number) => sql<{ amount: string }>`
  select s.tenant_id as customer_id, d.billed_subscription_id as subscription_id, d.meter_id, d.resource_uri, d.location, d.usage_date,
         1 as tier, d.quantity, p.unit_price, round(d.quantity * p.unit_price, 2) as amount
  from usage_daily d
  join subscriptions s on s.subscription_id = d.billed_subscription_id and s.sold_by = ${PARTNER}
  join prices p on p.sheet = 'list' and p.meter_id = d.meter_id
  where d.usage_date < '2026-02-01'
  order by d.billed_subscription_id, d.meter_id, d.resource_uri, d.usage_date, d.location
  offset ${offset} limit ${PAGE}`;

export async function benchUnbilledPage(serverUrl: string, customers: number): Promise<BenchResult> {
  const url = withDatabase(serverUrl, `bench_unbilled_${Date.now()}`);
  await ensureDatabase(url);
  const { db, pool, close } = openDatabase<HubTables>(url, 4);
  try {
    await migrateHub(db);
    await seed(db, customers, 15 * 24);
    const ctx = {
      db,
      pool,
      clock: new SimulatedClock(new Date('2026-01-16T00:00:00Z')),
      system: { require: async () => {}, may: async () => true },
    };
    const buyer = { seller: 'provider', buyerId: PARTNER, since: new Date('2026-01-01T00:00:00Z') };
    const ours: number[] = [];
    const baseline: number[] = [];
    const oursPages = async () => {
      const start = performance.now();
      let from: UnbilledPosition | undefined;
      const amounts: string[] = [];
      for (let p = 0; p < PAGES; p++) {
        const page = await unbilledPage(ctx, 'partner', buyer, from, PAGE);
        amounts.push(...page.lines.map((l) => l.amount));
        from = page.next;
        if (!from) break;
      }
      return { ms: performance.now() - start, amounts };
    };
    const baselinePages = async () => {
      const start = performance.now();
      const amounts: string[] = [];
      for (let p = 0; p < PAGES; p++)
        amounts.push(...(await baselinePage(p * PAGE).execute(db)).rows.map((r) => r.amount));
      return { ms: performance.now() - start, amounts };
    };
    // Pages of tens of milliseconds: a few unmeasured runs first (plans, caches, the JIT), then
    // many runs, each side first in every other one, and their medians.
    for (let run = -WARM_UP; run < RUNS; run++) {
      const oursFirst = run % 2 === 0;
      const first = await (oursFirst ? oursPages() : baselinePages());
      const second = await (oursFirst ? baselinePages() : oursPages());
      const [o, b] = oursFirst ? [first, second] : [second, first];
      if (o.amounts.join() !== b.amounts.join())
        throw new Error('the pages differ from the raw SQL over the aggregates');
      if (run < 0) continue;
      ours.push(o.ms);
      baseline.push(b.ms);
    }
    const o = median(ours);
    const b = median(baseline);
    return {
      benchmark: 'unbilled-page',
      title: `the partner center's unbilled line items mid-month: ${PAGES} pages of ${PAGE} daily-rated lines`,
      ours_ms: o,
      baseline_ms: b,
      baseline: 'the raw SQL of the same pages over the daily aggregates',
      target: 2,
      sizes: { customers, pages: PAGES, pageSize: PAGE },
      details: { runs: { ours: ours.map(Math.round), baseline: baseline.map(Math.round) } },
    };
  } finally {
    await close();
  }
}
