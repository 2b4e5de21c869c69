// Where the hub's ingestion time goes in the database: the same records stored by the ingestion
// statement itself (`usageStore.receiveFromDeployment`, batches of 5,000 on one connection), first
// with every write of the real schema, then with one piece taken away at a time (cumulative). Each
// step starts from empty tables; the difference between two steps is the piece's share, read as the
// database backend's CPU time (steadier than wall time on a shared machine).
// Not one of `npm run bench`'s benches: `node --import tsx bench/ingest-shares.ts` (BENCH_RECORDS,
// SHARES_ROUNDS).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'kysely';
import { from as copyFrom } from 'pg-copy-streams';
import pino from 'pino';
import { openDatabase, withDatabase } from '../src/db/database.ts';
import { startEmbeddedCluster } from '../src/db/embedded.ts';
import { type IncomingRecord, usageStore } from '../src/usage/store.ts';
import type { UsageTables } from '../src/usage/tables.ts';
import { startHubOnly } from '../src/system/up.ts';
import { processCpuMs } from './cpu.ts';

const total = Number(process.env.BENCH_RECORDS ?? 80_000);
const rounds = Number(process.env.SHARES_ROUNDS ?? 2);
const batchSize = 5000;
const dir = await mkdtemp(path.join(tmpdir(), 'stackledger-shares-'));
const cluster = await startEmbeddedCluster(path.join(dir, 'pg'));
const system = await startHubOnly({
  dataDir: path.join(dir, 'hub'),
  port: 0,
  http: true,
  databaseUrl: withDatabase(cluster.url('postgres'), 'shares'),
  logger: pino({ level: 'silent' }),
});
// One connection, so that its backend's CPU is the statements'.
const { db, pool, close } = openDatabase<UsageTables>(withDatabase(cluster.url('postgres'), 'shares_hub'), 1);
const backend = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0].pid;
function backendCpuMs(): number {
  try {
    return processCpuMs(backend).ms;
  } catch {
    return Number.NaN;
  }
}

const cloudId = randomUUID();
const registration = (
  await sql<{ id: string; subscription_id: string }>`
    insert into registrations (id, subscription_id, resource_group, resource_group_key, name, name_key, location, object_id,
       cloud_id, billing_model, registration_token, etag, created_at, updated_at)
    select gen_random_uuid(), subscription_id, 'rg', 'rg', 'shares', 'shares', 'global', gen_random_uuid(), ${cloudId}, 'PayAsYouUse', 'x', 'x', now(), now()
    from subscriptions limit 1 returning id, subscription_id`.execute(db)
).rows[0];

function records(): IncomingRecord[] {
  return Array.from({ length: total }, (_, i) => ({
    resourceId: `r${i % 20000}`,
    resourceUri: `/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm${i % 20000}`,
    meterId: 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5',
    hour: new Date(Date.UTC(2026, 0, 1) + Math.floor(i / 20000) * 3_600_000).toISOString(),
    revision: 1,
    quantity: '2.000000000',
    subscriptionId: '11111111-1111-1111-1111-111111111111',
    tenantId: '22222222-2222-2222-2222-222222222222',
    location: 'local',
    tags: {},
  }));
}

async function empty() {
  await sql`truncate usage_received, usage_attributed, usage_daily, usage_daily_pending, usage_counters`.execute(db);
  await sql`analyze usage_received`.execute(db);
}

/** The backend's CPU for the whole run, ms. */
async function ingest(): Promise<number> {
  await empty();
  const all = records();
  const before = backendCpuMs();
  for (let i = 0; i < all.length; i += batchSize)
    await db.transaction().execute((tx) =>
      usageStore.receiveFromDeployment(tx, {
        cloudId,
        registrationId: registration.id,
        registrationSubscriptionId: registration.subscription_id,
        batchId: randomUUID(),
        receivedAt: new Date(),
        records: all.slice(i, i + batchSize),
      }),
    );
  return backendCpuMs() - before;
}

/** The baseline: COPY of the same rows into a table like usage_received (its indexes, no triggers). */
async function copy(): Promise<number> {
  await sql`drop table if exists copy_baseline; create table copy_baseline (like usage_received including all)`.execute(
    db,
  );
  const lines = records().map(
    (r) =>
      `deployment:${cloudId}\t${cloudId}\t${r.resourceId}\t${r.resourceUri}\t${r.meterId}\t${r.hour}\t${r.revision}\t${r.quantity}\t${r.subscriptionId}\t${r.tenantId}\t${r.location}\t{}\t2026-01-02T00:00:00Z\t${randomUUID()}\t${registration.subscription_id}\n`,
  );
  const client = await pool.connect();
  try {
    const before = backendCpuMs();
    await pipeline(
      Readable.from(lines),
      client.query(
        copyFrom(
          `copy copy_baseline (source, cloud_id, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id,
             tenant_id, location, tags, received_at, batch_id, billed_subscription_id) from stdin`,
        ),
      ),
    );
    return backendCpuMs() - before;
  } finally {
    client.release();
  }
}

/** Each step takes one more piece of the schema away (cumulative). */
const steps: [string, string | null][] = [
  ['everything (the real schema)', null],
  ['− usage_received_billed_order (the usage API)', 'drop index usage_received_billed_order'],
  ['− usage_received_hour (cloud id, hour)', 'drop index usage_received_hour'],
  ['− the counters trigger', 'drop trigger usage_received_counters on usage_received'],
  ['− the daily trigger (its append to usage_daily_pending)', 'drop trigger usage_received_daily on usage_received'],
];

try {
  const copies: number[] = [];
  for (let k = 0; k < rounds; k++) copies.push(await copy());
  console.log(`COPY of ${total} rows into a table like usage_received: database CPU ${copies.join(' / ')} ms`);
  for (const [step, ddl] of steps) {
    if (ddl) await sql.raw(ddl).execute(db);
    const cpu: number[] = [];
    for (let k = 0; k < rounds; k++) cpu.push(await ingest());
    console.log(`${step}: database CPU ${cpu.join(' / ')} ms`);
  }
} finally {
  await close();
  await system.stop();
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
}
