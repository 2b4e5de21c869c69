// Where the hub's ingestion time goes in the database: the same records written in pure SQL (the
// statement of `usageStore.receiveFromDeployment`, batches of 5,000 under the deployment's lock),
// first with every write of the real schema, then with one piece taken away at a time. Each step
// starts from empty tables and new hours; the difference between two steps is the piece's share.
// After each run, the fold of its daily keys into usage_daily (the hub's job's work) is timed apart.
// Not one of `npm run bench`'s benches: `node --import tsx bench/ingest-shares.ts` (BENCH_RECORDS).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import pino from 'pino';
import { withDatabase } from '../src/db/database.ts';
import { startEmbeddedCluster } from '../src/db/embedded.ts';
import { startHubOnly } from '../src/system/up.ts';

const total = Number(process.env.BENCH_RECORDS ?? 80_000);
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
const db = new pg.Client({ connectionString: withDatabase(cluster.url('postgres'), 'shares_hub') });
await db.connect();

/**
 * The CPU time (user + system, ms) the connection's backend has used: on a shared machine far
 * steadier than wall time, which waits for the other loads' turns (Linux's /proc; else NaN).
 */
const backend = (await db.query('select pg_backend_pid() as pid')).rows[0].pid as number;
function backendCpuMs(): number {
  try {
    const fields = readFileSync(`/proc/${backend}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime and stime, in ticks of 10 ms
  } catch {
    return Number.NaN;
  }
}

const cloudId = randomUUID();
// A registration row for the records' foreign key, in the first subscription the bootstrap made.
const registration = (
  await db.query(
    `insert into registrations (id, subscription_id, resource_group, resource_group_key, name, name_key, location, object_id,
       cloud_id, billing_model, registration_token, etag, created_at, updated_at)
     select gen_random_uuid(), subscription_id, 'rg', 'rg', 'shares', 'shares', 'global', gen_random_uuid(), $1, 'PayAsYouUse', 'x', 'x', now(), now()
     from subscriptions limit 1 returning id, subscription_id`,
    [cloudId],
  )
).rows[0] as { id: string; subscription_id: string };

let run = 0;
function batches() {
  run++;
  const records = Array.from({ length: total }, (_, i) => ({
    resourceId: `r${i % 20000}`,
    resourceUri: `/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm${i % 20000}`,
    meterId: 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5',
    hour: new Date(Date.UTC(2026, 0, 1) + (run * 100 + Math.floor(i / 20000)) * 3_600_000).toISOString(),
    revision: 1,
    quantity: '2.000000000',
    subscriptionId: '11111111-1111-1111-1111-111111111111',
    tenantId: '22222222-2222-2222-2222-222222222222',
    location: 'local',
    tags: '{}',
  }));
  const out: (typeof records)[] = [];
  for (let i = 0; i < records.length; i += batchSize) out.push(records.slice(i, i + batchSize));
  return out;
}

/** The ingestion statement (as in store.ts), with or without its attribution. */
const statement = (attribute: boolean) => `
  with input as (
    select x.*, x.n - 1 as i from unnest($1::text[], $2::text[], $3::uuid[], $4::timestamptz[], $5::int[], $6::numeric[], $7::uuid[], $8::uuid[], $9::text[], $10::jsonb[])
      with ordinality as x("resourceId", "resourceUri", "meterId", hour, revision, quantity, "subscriptionId", "tenantId", location, tags, n)
  ), firsts as (
    select distinct on ("resourceId", "meterId", hour, revision) * from input order by "resourceId", "meterId", hour, revision, i
  ), stored as (
    insert into usage_received (source, cloud_id, registration_id, resource_id, resource_uri, meter_id, hour, revision, quantity,
                                stack_subscription_id, tenant_id, location, tags, received_at, batch_id)
    select 'deployment:' || $11, $11::uuid, $12::uuid, "resourceId", "resourceUri", "meterId", "hour", "revision", "quantity",
           "subscriptionId", "tenantId", "location", "tags", now(), $13::uuid
    from firsts order by i
    on conflict (source, resource_id, meter_id, hour, revision)
      do update set batch_id = usage_received.batch_id where usage_received.quantity <> excluded.quantity
    returning id, source, cloud_id, tenant_id, resource_id, resource_uri, meter_id, location, hour, revision, quantity
  )${
    attribute
      ? `, attributed as (
    insert into usage_attributed (source, hour, received_id, meter_id, resource_uri, location, billed_subscription_id, link_id, reason, quantity, attributed_at)
    select i.source, i.hour, i.id, i.meter_id, i.resource_uri, i.location, coalesce(l.customer_subscription_id, $14::uuid), l.id,
           case when l.id is null then 'not registered' else 'linked' end, i.quantity, now()
    from stored i left join lateral link_in_force(i.cloud_id, i.tenant_id, i.hour) l on true
    returning 1
  )`
      : ''
  }
  select (select count(*) from stored) as new`;

async function measure(attribute: boolean): Promise<number> {
  await db.query('truncate usage_received, usage_attributed, usage_daily, usage_daily_pending, usage_counters');
  await db.query('analyze usage_received; analyze usage_attributed');
  const text = statement(attribute);
  const start = performance.now();
  for (const batch of batches()) {
    const col = <T>(f: (r: (typeof batch)[number]) => T) => batch.map(f);
    await db.query('begin');
    await db.query('select pg_advisory_xact_lock(hashtext($1))', [`usage:deployment:${cloudId}`]);
    await db.query(text, [
      col((r) => r.resourceId),
      col((r) => r.resourceUri),
      col((r) => r.meterId),
      col((r) => r.hour),
      col((r) => r.revision),
      col((r) => r.quantity),
      col((r) => r.subscriptionId),
      col((r) => r.tenantId),
      col((r) => r.location),
      col((r) => r.tags),
      cloudId,
      registration.id,
      randomUUID(),
      ...(attribute ? [registration.subscription_id] : []),
    ]);
    await db.query('commit');
  }
  return performance.now() - start;
}

async function copyBaseline(): Promise<number> {
  await db.query('drop table if exists copy_baseline; create table copy_baseline (like usage_received including all)');
  const lines = batches()
    .flat()
    .map(
      (r) =>
        `deployment:${cloudId}\t${cloudId}\t${r.resourceId}\t${r.resourceUri}\t${r.meterId}\t${r.hour}\t${r.revision}\t${r.quantity}\t${r.subscriptionId}\t${r.tenantId}\t${r.location}\t{}\t2026-01-02T00:00:00Z\t${randomUUID()}\n`,
    );
  const start = performance.now();
  await pipeline(
    Readable.from(lines),
    db.query(
      copyFrom(
        'copy copy_baseline (source, cloud_id, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, tenant_id, location, tags, received_at, batch_id) from stdin',
      ),
    ),
  );
  return performance.now() - start;
}

/** Each step takes one more piece away from the schema (cumulative), then is measured. */
const steps: [string, string | null, boolean][] = [
  ['everything (the real schema)', null, true],
  ['− usage_received_by_hour (hour)', 'drop index if exists usage_received_by_hour', true],
  ['− usage_received_aggregate_order', 'drop index usage_received_aggregate_order', true],
  ['− usage_received_received (received_at)', 'drop index if exists usage_received_received', true],
  ['− usage_received_hour (cloud_id, hour)', 'drop index usage_received_hour', true],
  [
    '− counters triggers',
    'drop trigger usage_received_counters on usage_received; drop trigger usage_attributed_counters on usage_attributed',
    true,
  ],
  [
    '− usage_daily trigger (its append to usage_daily_pending)',
    'drop trigger usage_attributed_daily on usage_attributed',
    true,
  ],
  ['− usage_attributed indexes', 'drop index usage_attributed_received; drop index usage_attributed_billed', true],
  ['− attribution (insert only)', null, false],
];

const results: { step: string; ms: number[] }[] = [];
console.log(
  (
    await db.query(
      "select indexrelid::regclass::text as index from pg_index where indrelid in ('usage_received'::regclass, 'usage_attributed'::regclass, 'usage_daily'::regclass)",
    )
  ).rows
    .map((r) => r.index)
    .join(', '),
);
const rounds = Number(process.env.SHARES_ROUNDS ?? 2);
if (process.env.SHARES_EXPLAIN) {
  // The plans of the slow statements, nested ones (triggers) too, as notices.
  db.on('notice', (n) => console.log(n.message));
  await db.query(
    "load 'auto_explain'; set auto_explain.log_min_duration = 100; set auto_explain.log_nested_statements = on; set auto_explain.log_analyze = on; set client_min_messages = log",
  );
  console.log(`explained run: ${Math.round(await measure(true))} ms`);
  await db.query('set client_min_messages = notice');
}
try {
  const copies: number[] = [];
  const copiesCpu: number[] = [];
  for (let k = 0; k < rounds; k++) {
    const cpuBefore = backendCpuMs();
    copies.push(await copyBaseline());
    copiesCpu.push(backendCpuMs() - cpuBefore);
  }
  console.log(
    `COPY of ${total} rows into a table like usage_received: ${copies.map(Math.round).join(' / ')} ms, database CPU ${copiesCpu.join(' / ')} ms`,
  );
  for (const [step, ddl, attribute] of steps) {
    if (ddl) await db.query(ddl);
    const ms: number[] = [];
    const cpu: number[] = [];
    const folds: number[] = [];
    for (let k = 0; k < rounds; k++) {
      const cpuBefore = backendCpuMs();
      ms.push(await measure(attribute));
      cpu.push(backendCpuMs() - cpuBefore);
      // What the job's fold then does with the run's pending daily keys (not part of ingestion).
      const foldCpuBefore = backendCpuMs();
      await db.query('select usage_daily_fold()');
      folds.push(backendCpuMs() - foldCpuBefore);
    }
    results.push({ step, ms });
    console.log(
      `${step}: ${ms.map(Math.round).join(' / ')} ms, database CPU ${cpu.join(' / ')} ms (then the fold's CPU: ${folds.join(' / ')} ms)`,
    );
  }
} finally {
  await db.end();
  await system.stop();
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
}
