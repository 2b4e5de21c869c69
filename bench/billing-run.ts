// The billing run for N customers × one month of hourly usage (the hub), against one SQL query
// that computes the same totals from the raw records in the same run (the run reads the daily
// aggregates that attribution kept, seeded here by the same trigger); and an export of a large invoice, streamed, with
// its memory sampled, against a raw COPY of the same lines.
import { sql } from 'kysely';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { partnerUnbilledStore } from '../src/billing/partner-unbilled.ts';
import { closeDuePeriods } from '../src/billing/billing-run.ts';
import { FOCUS_COLUMN_NAMES } from '../src/billing/focus-columns.ts';
import { exportStream } from '../src/billing/exports.ts';
import { LINE_COLUMNS } from '../src/billing/rated-store.ts';
import { SimulatedClock } from '../src/core/clock.ts';
import { ensureDatabase, openDatabase, withDatabase } from '../src/db/database.ts';
import type { HubTables } from '../src/hub/app.ts';
import { migrateHub } from '../src/hub/migrations.ts';
import { dailyStore } from '../src/usage/daily-store.ts';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { type BenchResult, median } from './report.ts';

export const PARTNER = '99999999-0000-0000-0000-000000000001';
export const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const VM_HOURS = '6dab500f-a4fd-49c4-956d-229bb9c8c793';

/** A partner with `customers` customers, each a subscription with one VM running for the first `hours` hours of January 2026. */
export async function seed(db: ReturnType<typeof openDatabase<HubTables>>['db'], customers: number, hours = 744) {
  const t0 = new Date('2026-01-01T00:00:00Z');
  await sql`insert into directories (tenant_id, display_name, default_domain, kind, created_at) values (${PARTNER}, 'Bench CSP', 'bench.example', 'partner', ${t0})`.execute(
    db,
  );
  await sql`
    insert into customers (id, partner_tenant_id, commerce_id, company_name, domain, billing_profile, relationship, admin_object_id, created_at, etag)
    select md5('c' || i)::uuid, ${PARTNER}, md5('k' || i)::uuid, 'Customer ' || i, 'c' || i || '.bench.example', '{}', 'reseller', md5('a' || i)::uuid, ${t0}, '1'
    from generate_series(1, ${customers}) i
  `.execute(db);
  await sql`
    insert into subscriptions (subscription_id, tenant_id, display_name, state, created_at, offer_id, sold_by)
    select md5('s' || i)::uuid, md5('c' || i)::uuid, 'Subscription ' || i, 'Enabled', ${t0}, 'MS-AZR-0145P', ${PARTNER}
    from generate_series(1, ${customers}) i
  `.execute(db);
  // One VM per customer, running all month: 2 vCPUs (Base VM Size Hours) and 1 VM hour each hour.
  await sql`
    insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, tenant_id, location, tags, received_at, batch_id,
                                billed_subscription_id)
    select 'bench', 'vm' || i, '/subscriptions/' || md5('s' || i)::uuid || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm', m.meter::uuid,
           ${t0}::timestamptz + h * interval '1 hour', 1, m.q, md5('s' || i)::uuid, md5('c' || i)::uuid, 'local', '{}', ${t0}::timestamptz + (h + 1) * interval '1 hour', md5('b')::uuid,
           md5('s' || i)::uuid -- each record holds its attribution, as ingestion stores it
    from generate_series(1, ${customers}) i cross join generate_series(0, ${hours - 1}) h
    cross join (values (${BASE}, 2.0), (${VM_HOURS}, 1.0)) m(meter, q)
  `.execute(db);
  // The daily aggregates, as the hub's job keeps them (outside the measured time, as ingestion is).
  await dailyStore.fold(db);
  // The folded rows leave the pending table full of dead tuples until autovacuum comes (within a
  // minute on a live hub); until then every fold scans them. And autovacuum would otherwise come
  // for the month just loaded while the runs are measured, on one of the two cores both sides
  // share. Vacuumed here, as a live hub's would have been.
  await sql`vacuum analyze`.execute(db);
}

/** The same totals in one query: per customer, the provider's daily lines and the customer's monthly lines at the list price. */
const baselineTotals = sql<{ partner_total: string; customer_total: string }>`
  with daily as (
    select s.tenant_id as customer_id, r.meter_id, r.resource_uri, (r.hour at time zone 'UTC')::date as day, sum(r.quantity) as q
    from usage_received r join subscriptions s on s.subscription_id = r.billed_subscription_id
    where r.hour >= '2026-01-01' and r.hour < '2026-02-01'
    group by 1, 2, 3, 4
  ), priced as (
    select d.*, p.unit_price from daily d join prices p on p.sheet = 'list' and p.meter_id = d.meter_id
  )
  select (select sum(round(q * unit_price, 2)) from priced)::text as partner_total,
         (select sum(t) from (select round(sum(q) * unit_price, 2) as t from priced group by customer_id, meter_id, resource_uri, unit_price) x)::text as customer_total
`;

export async function benchBillingRun(serverUrl: string, customers: number): Promise<BenchResult> {
  const url = withDatabase(serverUrl, `bench_billing_${Date.now()}`);
  await ensureDatabase(url);
  const { db, pool, close } = openDatabase<HubTables>(url, 4);
  try {
    await migrateHub(db);
    await seed(db, customers);
    const records = Number(
      (await sql<{ n: string }>`select count(*)::text as n from usage_received`.execute(db)).rows[0].n,
    );
    const ctx = {
      db,
      pool,
      clock: new SimulatedClock(new Date('2026-02-01T01:00:00Z')),
      system: { require: async () => {}, may: async () => true },
    };
    const ours: number[] = [];
    const baseline: number[] = [];
    let closed = { invoices: 0, lines: 0 };
    let check = { partner: '', customers: '' };
    for (let run = 0; run < 5; run++) {
      // Closed invoices never change (a trigger refuses DELETE); TRUNCATE starts the next run afresh
      // (what was billed with them: the daily aggregates then stand unbilled again).
      await sql`truncate billed_daily, billed_adjustments, invoice_lines, invoices, billing_adjustments, invoice_number_counters`.execute(
        db,
      );
      // TRUNCATE fires no trigger: the partner center's kept unbilled lines are kept again from scratch.
      await partnerUnbilledStore.refill(db);
      let start = performance.now();
      const r = await closeDuePeriods(ctx, ctx.clock.now(), '2026-01');
      ours.push(performance.now() - start);
      closed = { invoices: r.invoices, lines: r.lines };
      start = performance.now();
      // The same memory for sorting and grouping as the billing run's statements.
      const totals = await db.transaction().execute(async (tx) => {
        await sql`set local work_mem = '256MB'`.execute(tx);
        return (await baselineTotals.execute(tx)).rows[0];
      });
      baseline.push(performance.now() - start);
      const got = (
        await sql<{ partner: string; customers: string }>`
        select (select sum(total) from invoices where stream = 'partner')::text as partner, (select sum(total) from invoices where stream = 'customer')::text as customers
      `.execute(db)
      ).rows[0];
      if (got.partner !== totals.partner_total || got.customers !== totals.customer_total) {
        throw new Error(`totals differ: ours ${JSON.stringify(got)}, the query's ${JSON.stringify(totals)}`);
      }
      check = got;
    }
    return {
      benchmark: 'billing',
      title: 'the billing run: close one month (the hub)',
      ours_ms: median(ours),
      baseline_ms: median(baseline),
      baseline: 'one SQL query computing the same totals, writing nothing',
      target: 1.5,
      sizes: { customers, usageRecords: records, invoices: closed.invoices, lines: closed.lines },
      details: { totals: check, runs: { ours: ours.map(Math.round), baseline: baseline.map(Math.round) } },
    };
  } finally {
    await close();
  }
}

const INVOICE = '99999999-0000-0000-0000-0000000000aa';

/**
 * Streams an export of an invoice with `lines` lines, sampling the heap, against a raw COPY of the
 * same rows (the line's own columns: the target's baseline) and, in `details`, a raw COPY of a
 * table holding the FOCUS columns of those rows (the database's own speed for the same bytes).
 */
export async function benchExport(serverUrl: string, lines: number): Promise<BenchResult> {
  const url = withDatabase(serverUrl, `bench_export_${Date.now()}`);
  await ensureDatabase(url);
  const { db, pool, close } = openDatabase<HubTables>(url, 2);
  try {
    await migrateHub(db);
    const t0 = new Date('2026-01-01T00:00:00Z');
    await sql`insert into directories (tenant_id, display_name, default_domain, kind, created_at) values (${PARTNER}, 'Bench CSP', 'bench.example', 'partner', ${t0})`.execute(
      db,
    );
    await sql`
      insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark, invoice_date, currency, subtotal, tax_rate, tax, total, created_at)
      values (${INVOICE}, 'G000000001', 'partner', 'invoice', 'provider', ${PARTNER}, '2026-01', ${t0}, '2026-02-01', 0, 0, '2026-02-01', 'USD', 0, 0, 0, 0, '2026-02-01')
    `.execute(db);
    await sql`
      insert into invoice_lines (buyer_id, invoice_id, line_no, line_type, customer_id, subscription_id, meter_id, resource_uri, location, usage_date, usage_to, tier, quantity, unit_price, amount)
      select ${PARTNER}, ${INVOICE}, i, 'usage', ${PARTNER}, md5('s' || (i % 1000))::uuid, ${BASE}, uri,
             'local', date '2026-01-01' + (i % 31), date '2026-01-01' + (i % 31), 1, 48, 0.008, 0.38
      from generate_series(1, ${lines}) i, concat('/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm', i) uri
    `.execute(db);
    // The second baseline's table: exactly the FOCUS file's columns of the same rows, in order, as
    // text: the export's own file, loaded. Vacuumed, so that no side pays a first read's hint bits
    // (loading it reads the lines once, as a closed invoice's have been read before its export).
    const focusSelection = { stream: 'partner', buyerId: PARTNER, period: '2026-01', kind: 'invoice' } as const;
    const loader = await pool.connect();
    try {
      await loader.query(`create table bench_focus_rows (${FOCUS_COLUMN_NAMES.map((c) => `"${c}" text`).join(', ')})`);
      await pipeline(
        exportStream(db, pool, focusSelection, 'focus'),
        loader.query(copyFrom('copy bench_focus_rows from stdin with (format csv, header)')),
      );
    } finally {
      loader.release();
    }
    await sql`vacuum bench_focus_rows`.execute(db);

    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    let rssPeak = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      heapPeak = Math.max(heapPeak, m.heapUsed);
      rssPeak = Math.max(rssPeak, m.rss);
    }, 50);
    let bytes = 0;
    const counter = () =>
      new Writable({
        write: (chunk, _e, done) => {
          bytes += chunk.length;
          done();
        },
      });
    const cpuBefore = process.cpuUsage();
    let start = performance.now();
    await pipeline(exportStream(db, pool, focusSelection, 'focus'), counter());
    const oursMs = performance.now() - start;
    const cpu = process.cpuUsage(cpuBefore);
    clearInterval(sampler);
    const exportedBytes = bytes;

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    bytes = 0;
    start = performance.now();
    await pipeline(
      client.query(
        // The line's own columns (`select *` would also copy what migration 0650 derives from its resource id).
        copyTo(
          `copy (select ${LINE_COLUMNS.compile(db).sql} from invoice_lines order by invoice_id, line_no) to stdout with (format csv, header)`,
        ),
      ),
      counter(),
    );
    const copyMs = performance.now() - start;
    const copiedBytes = bytes;
    bytes = 0;
    start = performance.now();
    await pipeline(client.query(copyTo('copy bench_focus_rows to stdout with (format csv, header)')), counter());
    const focusCopyMs = performance.now() - start;
    const focusCopiedBytes = bytes;
    await client.end();
    // The other two formats of the same invoice, against the same baseline (the issue's target is
    // for every export): the reconciliation CSV and the JSON lines.
    const otherFormats: Record<string, number> = {};
    for (const format of ['recon', 'json'] as const) {
      bytes = 0;
      const cpuBefore = process.cpuUsage();
      start = performance.now();
      await pipeline(exportStream(db, pool, focusSelection, format), counter());
      const ms = performance.now() - start;
      const cpu = process.cpuUsage(cpuBefore);
      otherFormats[`${format}Ms`] = Math.round(ms);
      otherFormats[`${format}HubCpuMs`] = Math.round((cpu.user + cpu.system) / 1000);
      otherFormats[`${format}MB`] = Math.round(bytes / 1e6);
      otherFormats[`${format}Ratio`] = Math.round((ms / copyMs) * 100) / 100;
      // And against the database's own speed for the same bytes: the export's file, a line a row
      // of a table, COPYed out as it went in (no character of the file is CSV's quote or delimiter
      // as set here, so each line comes back unchanged).
      const raw = `(format csv, quote e'\\x01', delimiter e'\\x02')`;
      const table = `bench_${format}_rows`;
      const loader = await pool.connect();
      try {
        await loader.query(`create table ${table} (line text)`);
        await pipeline(
          exportStream(db, pool, focusSelection, format),
          loader.query(copyFrom(`copy ${table} from stdin with ${raw}`)),
        );
        await loader.query(`vacuum ${table}`);
        const exportedBytes = bytes;
        bytes = 0;
        start = performance.now();
        await pipeline(loader.query(copyTo(`copy ${table} to stdout with ${raw}`)), counter());
        const tableMs = performance.now() - start;
        otherFormats[`${format}TableMs`] = Math.round(tableMs);
        otherFormats[`${format}TableRatio`] = Math.round((ms / tableMs) * 100) / 100;
        otherFormats[`${format}TableSameBytes`] = Number(bytes === exportedBytes);
      } finally {
        loader.release();
      }
    }
    return {
      benchmark: 'export',
      title: 'export one invoice as FOCUS CSV, streamed (the hub)',
      ours_ms: oursMs,
      baseline_ms: copyMs,
      baseline: "a raw COPY (SELECT the line's columns … ORDER BY …) TO STDOUT of the same rows",
      target: 1.5,
      sizes: { lines },
      details: {
        exportedMB: Math.round(exportedBytes / 1e6),
        copiedMB: Math.round(copiedBytes / 1e6),
        // The database's own speed for the same bytes: a raw COPY of a table holding the FOCUS columns.
        focusTableCopyMs: Math.round(focusCopyMs),
        focusTableRatio: Math.round((oursMs / focusCopyMs) * 100) / 100,
        focusTableSameBytes: focusCopiedBytes === exportedBytes,
        linesPerSecond: Math.round(lines / (oursMs / 1000)),
        // The hub's CPU during ours (the database works on the other core meanwhile).
        hubCpuMs: Math.round((cpu.user + cpu.system) / 1000),
        heapBeforeMB: Math.round(heapBefore / 1e6),
        heapPeakMB: Math.round(heapPeak / 1e6),
        rssPeakMB: Math.round(rssPeak / 1e6),
        ...otherFormats,
      },
    };
  } finally {
    await close();
  }
}
