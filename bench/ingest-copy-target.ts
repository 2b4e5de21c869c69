// What ingestion's COPY costs the database by the table it names: the parent `usage_received`
// (partitioned, with its statement triggers), the month's partition (with the same triggers since
// migration 0564) and a plain table of the same shape without triggers (the ingest bench's
// baseline). The same run of records each time, in COPYs of 5,000 on one connection, each side
// first in every other round, from empty tables; the backend's CPU time is the steadier figure.
// Not one of `npm run bench`'s benches: `node --import tsx bench/ingest-copy-target.ts`
// (BENCH_RECORDS, TARGET_ROUNDS).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ByteChunks } from '../src/core/byte-chunks.ts';
import { copyInAtOnce } from '../src/db/copy-in.ts';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import { startEmbeddedCluster } from '../src/db/embedded.ts';
import { hubMigrations } from '../src/hub/migrations.ts';
import { processCpuMs } from './cpu.ts';
import { median } from './report.ts';

const total = Number(process.env.BENCH_RECORDS ?? 200_000);
const rounds = Number(process.env.TARGET_ROUNDS ?? 6);
const batchSize = 5000;
const COLUMNS =
  'source, cloud_id, registration_id, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, tenant_id, location, tags, received_at, batch_id, billed_subscription_id, link_id';
const TARGETS = { parent: 'usage_received', partition: 'usage_received_2026_01', plain: 'copy_baseline' };

const dir = await mkdtemp(path.join(tmpdir(), 'stackledger-copy-target-'));
const cluster = await startEmbeddedCluster(path.join(dir, 'pg'));
const url = withDatabase(cluster.url('postgres'), 'copy_target');
const pool = new pg.Pool({ connectionString: url, max: 1 });
let client: pg.PoolClient | undefined;
try {
  await ensureDatabase(url);
  const { db, close } = openDatabase(url, 1);
  await migrate(db, hubMigrations);
  await close();
  client = await pool.connect();
  await client.query(`select usage_create_month('2026-01-01')`);
  await client.query('create table copy_baseline (like usage_received including all)');
  const backend = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
  const backendCpuMs = () => processCpuMs(backend).ms;
  // A run's records as the hub's COPY sends them (20,000 resources × 10 hours of January 2026), by batch.
  const cloud = randomUUID();
  const fixed = `deployment:${cloud}\t${cloud}\t${randomUUID()}`;
  const billed = randomUUID();
  const batches: Buffer[][] = [];
  for (let start = 0; start < total; start += batchSize) {
    const rows = new ByteChunks();
    for (let i = start; i < Math.min(total, start + batchSize); i++) {
      const hour = new Date(Date.UTC(2026, 0, 1) + Math.floor(i / 20000) * 3_600_000).toISOString();
      rows.add(
        `${fixed}\tr${i % 20000}\t/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm${i % 20000}\tfab6eb84-500b-4a09-a8ca-7358f8bbaea5\t${hour}\t1\t2.000000000\t11111111-1111-1111-1111-111111111111\t22222222-2222-2222-2222-222222222222\tlocal\t{}\t2026-01-02T00:00:00Z\t${randomUUID()}\t${billed}\t\\N\n`,
      );
    }
    batches.push(rows.take());
  }
  const runs: Record<keyof typeof TARGETS, { ms: number; cpuMs: number }[]> = { parent: [], partition: [], plain: [] };
  const names = Object.keys(TARGETS) as (keyof typeof TARGETS)[];
  for (let round = 0; round < rounds; round++)
    for (const name of round % 2 ? [...names].reverse() : names) {
      await client.query(
        'truncate usage_received, copy_baseline, usage_counters, usage_received_days, usage_daily_pending',
      );
      await client.query('checkpoint');
      const cpu = backendCpuMs();
      const start = performance.now();
      for (const rows of batches) {
        await client.query('begin');
        await copyInAtOnce(client, `copy ${TARGETS[name]} (${COLUMNS}) from stdin`, rows);
        await client.query('commit');
      }
      runs[name].push({ ms: performance.now() - start, cpuMs: backendCpuMs() - cpu });
      // Each way through the triggers keeps every record once.
      if (name !== 'plain') {
        const kept = (
          await client.query(`select (select sum(records) from usage_counters)::int as counted,
                                     (select sum(cardinality(quantities)) from usage_daily_pending)::int as pending`)
        ).rows[0];
        if (kept.counted !== total || kept.pending !== total) throw new Error(`${name}: ${JSON.stringify(kept)}`);
      }
    }
  const plain = median(runs.plain.map((r) => r.cpuMs));
  for (const name of names) {
    const cpu = median(runs[name].map((r) => r.cpuMs));
    process.stdout.write(
      `${JSON.stringify({
        target: TARGETS[name],
        records: total,
        medianMs: Math.round(median(runs[name].map((r) => r.ms))),
        medianBackendCpuMs: cpu,
        cpuRatioToPlain: Number((cpu / plain).toFixed(2)),
        runs: runs[name].map((r) => [Math.round(r.ms), r.cpuMs]),
      })}\n`,
    );
  }
} finally {
  client?.release();
  await pool.end().catch(() => {});
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
}
