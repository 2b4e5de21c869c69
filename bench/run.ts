// `npm run bench [-- [--json] [name…]]`: measured figures, each as a ratio to a baseline measured
// in the same run (bench/report.ts prints them). Uses the embedded PostgreSQL server (or
// STACKLEDGER_BENCH_DATABASE_URL), in fresh databases. Sizes come from the environment.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedCluster } from '../src/db/embedded.ts';
import { benchBillingRun, benchExport } from './billing-run.ts';
import { benchClockMonth } from './clock-month.ts';
import { benchCloseHour } from './close-hour.ts';
import { benchIngest } from './ingest.ts';
import { type BenchResult, report } from './report.ts';
import { benchUnbilledPage } from './unbilled-page.ts';
import { benchUsagePage } from './usage-page.ts';

const size = (name: string, otherwise: number) => Number(process.env[name] ?? otherwise);

/** Every bench, by name, in the order they run: adding one is one line here. */
const BENCHES: Record<string, (serverUrl: string) => Promise<BenchResult | BenchResult[]>> = {
  'close-hour': (url) => benchCloseHour(url, size('BENCH_RESOURCES', 100_000)),
  'clock-month': (url) => benchClockMonth(url, size('BENCH_VMS', 1000)),
  ingest: (url) => benchIngest(url, size('BENCH_RECORDS', 200_000)),
  billing: (url) => benchBillingRun(url, size('BENCH_CUSTOMERS', 1000)),
  'unbilled-page': (url) => benchUnbilledPage(url, size('BENCH_CUSTOMERS', 1000)),
  export: (url) => benchExport(url, size('BENCH_EXPORT_LINES', 10_000_000)),
  'usage-page': (url) => benchUsagePage(url, size('BENCH_USAGE_RECORDS', 50_000_000)),
};

const args = process.argv.slice(2);
const json = args.includes('--json');
const names = args.filter((a) => a !== '--json');
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench ${unknown.join(', ')}: the benches are ${Object.keys(BENCHES).join(', ')}\n`);
  process.exit(2);
}

let serverUrl = process.env.STACKLEDGER_BENCH_DATABASE_URL;
let cleanup = async () => {};
// BENCH_KEEP: a folder that keeps the embedded cluster (and what a bench stored in it) between
// runs, so that a store that takes half an hour to load is measured again on a quieter machine.
const kept = process.env.BENCH_KEEP;
if (!serverUrl) {
  const dir = kept ? path.resolve(kept) : await mkdtemp(path.join(tmpdir(), 'stackledger-bench-pg-'));
  const cluster = await startEmbeddedCluster(path.join(dir, 'pg'));
  serverUrl = cluster.url('postgres');
  cleanup = async () => {
    await cluster.stop();
    if (!kept) await rm(dir, { recursive: true, force: true });
  };
}
/** The server's databases, read on `client`. */
async function databases(client: pg.Client): Promise<Set<string>> {
  const r = await client.query<{ datname: string }>('select datname from pg_database');
  return new Set(r.rows.map((row) => row.datname));
}

/**
 * Drops the databases a bench made (those not there before it), but a store it was asked to keep
 * (BENCH_KEEP): left behind, their autovacuum may run beside the benches after them, on one of
 * the two cores that both sides of a ratio share.
 */
async function dropMadeSince(client: pg.Client, before: Set<string>): Promise<void> {
  for (const d of await databases(client))
    if (!before.has(d) && !(kept && d.startsWith('bench_usage_kept')))
      await client.query(`drop database "${d.replaceAll('"', '""')}" with (force)`);
}

const admin = new pg.Client({ connectionString: serverUrl });
try {
  await admin.connect();
  for (const [name, bench] of Object.entries(BENCHES))
    if (names.length === 0 || names.includes(name)) {
      const before = await databases(admin);
      for (const r of [await bench(serverUrl)].flat()) report(r, json);
      await dropMadeSince(admin, before);
    }
} finally {
  await admin.end().catch(() => {});
  await cleanup();
}
