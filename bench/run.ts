// `npm run bench`: measured figures, each as a ratio to a baseline measured in the same run.
// Uses the embedded PostgreSQL server (or STACKLEDGER_BENCH_DATABASE_URL), in a fresh database.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedCluster } from '../src/db/embedded.ts';
import { benchCloseHour } from './close-hour.ts';
import { benchIngest } from './ingest.ts';
import { benchBillingRun, benchExport } from './billing-run.ts';
import { benchUnbilledPage } from './unbilled-page.ts';

const only = process.argv.slice(2);
let serverUrl = process.env.STACKLEDGER_BENCH_DATABASE_URL;
let cleanup = async () => {};
if (!serverUrl) {
  const dir = await mkdtemp(path.join(tmpdir(), 'stackledger-bench-pg-'));
  const cluster = await startEmbeddedCluster(path.join(dir, 'pg'));
  serverUrl = cluster.url('postgres');
  cleanup = async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
try {
  if (only.length === 0 || only.includes('close-hour'))
    await benchCloseHour(serverUrl, Number(process.env.BENCH_RESOURCES ?? 100_000));
  if (only.length === 0 || only.includes('ingest'))
    await benchIngest(serverUrl, Number(process.env.BENCH_RECORDS ?? 200_000));
  if (only.length === 0 || only.includes('billing'))
    await benchBillingRun(serverUrl, Number(process.env.BENCH_CUSTOMERS ?? 1000));
  if (only.length === 0 || only.includes('unbilled-page'))
    await benchUnbilledPage(serverUrl, Number(process.env.BENCH_CUSTOMERS ?? 1000));
  if (only.length === 0 || only.includes('export'))
    await benchExport(serverUrl, Number(process.env.BENCH_EXPORT_LINES ?? 10_000_000));
} finally {
  await cleanup();
}
