// A page of the hub's usage API (Microsoft.Commerce/UsageAggregates, with details; Hourly, and Daily,
// the API's default) at page 1 and page 10,000 of a store of N usage records, over HTTP, against the
// raw keyset SQL of the same page run straight on the database. Keyset paging makes both pages cost
// the same.
import { type BenchResult, median } from './report.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { HttpClient } from '../src/core/http-client.ts';
import { keysetToken } from '../src/core/paging.ts';
import { type Granularity, USAGE_PAGE_SIZE } from '../src/core/usage-api.ts';
import { withDatabase } from '../src/db/database.ts';
import { listScope, USAGE_PAGING_PARAMS } from '../src/http/paging.ts';
import { startSystem } from '../src/system/up.ts';
import { usageGroupOrder } from '../src/usage/store.ts';
import type { UsageClientJob } from './usage-page-client.ts';
import { freeBytes, GB, seedUsageStore, USAGE_HOURS, USAGE_METER, usageUriOf } from './usage-store.ts';

const run = promisify(execFile);

/** Runs of each side per page (BENCH_USAGE_RUNS): at tens of millions of records a run takes minutes. */
const RUNS = Number(process.env.BENCH_USAGE_RUNS ?? 5);
const WARM_RUNS = 5;
const QUERY =
  'api-version=2015-06-01-preview&reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-06-01T00:00:00Z&aggregationGranularity=';
const NIL = '00000000-0000-0000-0000-000000000000';
/** A key before every other: the first page's, written as the same keyset SQL. */
const FIRST = ['-infinity', NIL, '', NIL, NIL];

/**
 * The raw keyset SQL of a page: the API's aggregate, written out. The records' own groups first in
 * the key's order (their index), then the other attributions' groups merged into them, up to the
 * last of the records' groups when those filled their limit (as `usageStore.aggregates` does).
 */
const KEY = 'hour, meter_id, resource_uri, cloud_key, stack_subscription_key';
/** A record's key parts, its bucket named `hour` (a Daily page's is the UTC day of the hour). */
const partsOf = (
  g: Granularity,
) => `${g === 'Hourly' ? 'r.hour' : `date_trunc('day', r.hour at time zone 'UTC') at time zone 'UTC' as hour`},
  r.meter_id, r.resource_uri, coalesce(r.cloud_id, '${NIL}'::uuid) as cloud_key,
  coalesce(r.stack_subscription_id, '${NIL}'::uuid) as stack_subscription_key, r.location, r.tags, r.received_at`;
const GROUPED = `${KEY}, sum(quantity) as quantity, min(location) as location, (array_agg(tags order by received_at desc))[1] as tags,
  max(received_at) as latest`;
const AFTER = `(${KEY}) > ($2::timestamptz, $3::uuid, $4::text, $5::uuid, $6::uuid)`;
const on = KEY.split(', ')
  .map((k) => `o.${k} = t.${k}`)
  .join(' and ');
const merged = KEY.split(', ')
  .map((k) => `coalesce(o.${k}, t.${k})`)
  .join(', ');
const rawPage = (g: Granularity) => `
  with own as (
    select ${GROUPED} from (
      select ${partsOf(g)}, r.quantity from usage_received r
      where r.billed_subscription_id = $1::uuid and r.received_at >= '2026-05-01' and r.received_at < '2026-06-01') x
    where ${AFTER} group by ${KEY} order by ${KEY} limit ${USAGE_PAGE_SIZE + 1}
  ), full_page as (select count(*) = ${USAGE_PAGE_SIZE + 1} as is_full from own),
  bound as (select ${KEY} from own order by ${KEY.replaceAll(',', ' desc,')} desc limit 1),
  other as (
    select ${GROUPED} from (
      select ${partsOf(g)}, a.quantity from usage_attributed a join usage_received r on r.source = a.source and r.hour = a.hour and r.id = a.received_id
      where a.billed_subscription_id = $1::uuid and a.attributed_at >= '2026-05-01' and a.attributed_at < '2026-06-01') x
    where ${AFTER} group by ${KEY}
  )
  select $1::text as subscription_id, coalesce(o.hour, t.hour) as bucket, coalesce(o.meter_id, t.meter_id)::text as meter_id,
         coalesce(o.resource_uri, t.resource_uri) as resource_uri,
         nullif(coalesce(o.cloud_key, t.cloud_key), '${NIL}'::uuid)::text as cloud_id,
         nullif(coalesce(o.stack_subscription_key, t.stack_subscription_key), '${NIL}'::uuid)::text as stack_subscription_id,
         (coalesce(o.quantity, 0) + coalesce(t.quantity, 0))::text as quantity, least(o.location, t.location) as location,
         case when o.latest is null or t.latest > o.latest then t.tags else o.tags end as tags
  from own o full join other t on ${on}
  where coalesce(o.quantity, 0) + coalesce(t.quantity, 0) <> 0
    and (not (select is_full from full_page) or (${merged}) <= (select ${KEY} from bound))
  order by ${merged}
  limit ${USAGE_PAGE_SIZE + 1}`;

export async function benchUsagePage(serverUrl: string, records: number): Promise<BenchResult[]> {
  // With BENCH_KEEP (bench/run.ts) the system and its store outlive the run: a later run with the
  // same BENCH_KEEP starts the same hub again and measures the pages without loading anything.
  const kept = process.env.BENCH_KEEP && path.resolve(process.env.BENCH_KEEP, 'usage-page');
  const dataDir = kept ?? (await mkdtemp(path.join(tmpdir(), 'stackledger-bench-usage-')));
  const prefix = kept ? 'bench_usage_kept' : `bench_usage_${Date.now()}`;
  const loadedFile = kept && path.join(kept, 'loaded.json');
  const system = await startSystem({
    port: 0,
    databaseUrl: withDatabase(serverUrl, prefix),
    logger: pino({ level: 'silent' }),
    dataDir,
    clock: new Date('2026-06-02T00:00:00Z'),
  });
  const b = system.bootstrap;
  // Minutes, not the default minute: at tens of millions of records a page's plan may read the whole month.
  const http = new HttpClient(b.caFile ? readFileSync(b.caFile, 'utf8') : undefined, 30 * 60_000);
  const db = new pg.Client({ connectionString: withDatabase(serverUrl, `${prefix}_hub`) });
  await db.connect();
  try {
    // The CSP's registration subscription, which its service principal owns, bills every record.
    const sub = b.csp.registrationSubscriptionId;
    // A kept store says its own size; the resources decide each page's key.
    const stored =
      loadedFile && existsSync(loadedFile)
        ? (JSON.parse(readFileSync(loadedFile, 'utf8')) as { records: number; resources: number })
        : undefined;
    const resources = stored?.resources ?? Math.ceil(records / USAGE_HOURS);
    const minFreeGb = Number(process.env.BENCH_USAGE_MIN_FREE_GB ?? 15);
    const until = process.env.BENCH_USAGE_LOAD_UNTIL;
    const log = (line: string) => process.stderr.write(`${new Date().toISOString()} usage-page: ${line}\n`);
    // At 50M records the load may stop short (a deadline, the disk's floor): the pages are those of what was loaded.
    if (stored) log(`the kept store: ${stored.records} records of ${stored.resources} resources`);
    const loaded =
      stored?.records ??
      (
        await seedUsageStore(db, {
          subscriptionId: sub,
          records,
          resources,
          limits: { dataDir: tmpdir(), minFree: minFreeGb * GB, loadUntil: until ? new Date(until) : undefined, log },
        })
      ).records;
    if (loadedFile && !stored) writeFileSync(loadedFile, JSON.stringify({ records: loaded, resources }));
    // A guard for the floor: no database process may write more temporary files than is left above it
    // (a page's plan may hash and sort the whole month; three processes with parallel workers).
    const tempKb = Math.max(1024, Math.floor(((await freeBytes(tmpdir())) - minFreeGb * GB) / 3 / 1024));
    await db.query(`alter system set temp_file_limit = '${tempKb}kB'`);
    await db.query('select pg_reload_conf()');
    log(`temp_file_limit ${Math.round(tempKb / 1024)} MB a process`);
    const token = await clientToken(http, b);
    const results: BenchResult[] = [];
    for (const granularity of ['Hourly', 'Daily'] as const) {
      // A Daily aggregate is a resource's day: the days begun, each of every resource.
      const span = granularity === 'Hourly' ? 1 : 24;
      const aggregates =
        granularity === 'Hourly' ? loaded : Math.ceil(Math.ceil(loaded / resources) / span) * resources;
      const pages = Math.ceil(aggregates / USAGE_PAGE_SIZE);
      const deep = Math.min(10_000, pages);
      const path_ = `/subscriptions/${sub}/providers/Microsoft.Commerce/UsageAggregates?${QUERY}${granularity}`;
      const order = usageGroupOrder({ granularity, showDetails: true });
      const sql = rawPage(granularity);
      /** The key page `page` starts after: that of aggregate (page - 1) × size - 1. */
      const keyBefore = (page: number) => {
        if (page === 1) return undefined;
        const i = (page - 1) * USAGE_PAGE_SIZE - 1;
        const bucket = new Date(Date.UTC(2026, 4, 1) + Math.floor(i / resources) * span * 3_600_000);
        return [bucket, USAGE_METER, usageUriOf(sub, i % resources), NIL, NIL] as const;
      };
      for (const page of [1, deep]) {
        const key = keyBefore(page);
        const continuation = key && keysetToken(listScope(path_, order.list, USAGE_PAGING_PARAMS), order.parts, key);
        const url = `${b.hub.arm}${path_}${continuation ? `&continuationToken=${continuation}` : ''}`;
        const job: UsageClientJob = {
          url,
          token,
          ca: b.caFile ? readFileSync(b.caFile, 'utf8') : undefined,
          database: withDatabase(serverUrl, `${prefix}_hub`),
          sql,
          params: [sub, ...(key ?? FIRST)],
          runs: RUNS,
          warmRuns: WARM_RUNS,
          pageSize: USAGE_PAGE_SIZE,
        };
        // The hub's own CPU per page (this process serves it): steadier on a shared machine than the time.
        const cpuBefore = process.cpuUsage();
        const { ours, baseline, baselinePrepared } = await runClient(job);
        const cpu = process.cpuUsage(cpuBefore);
        const hubCpuMs = (cpu.user + cpu.system) / 1000 / (RUNS + WARM_RUNS);
        for (let run = 0; run < RUNS; run++)
          log(
            `${granularity} page ${page} run ${run + 1}: ours ${Math.round(ours[run])} ms, raw SQL ${Math.round(baseline[run])} ms`,
          );
        const plan = await db.query(`explain (format json) ${sql}`, [sub, ...(key ?? FIRST)]);
        const nodes = JSON.stringify(plan.rows[0]['QUERY PLAN']).match(/"Node Type":"[^"]+"/g) ?? [];
        const o = median(ours);
        const bl = median(baseline);
        const name = granularity === 'Hourly' ? 'usage-page' : 'usage-page-daily';
        results.push({
          benchmark: `${name}-${page === 1 ? '1' : 'deep'}`,
          title: `the hub's usage API (UsageAggregates, ${granularity}) at page ${page} of ${pages}, over HTTP`,
          ours_ms: o,
          baseline_ms: bl,
          baseline: 'the raw keyset SQL of the same page',
          target: 2,
          sizes: { records: loaded, aggregates, pages, page },
          details: {
            plan: nodes.map((n) => n.slice(13, -1)).join(' > '),
            hub_cpu_ms_per_page: Math.round(hubCpuMs * 10) / 10,
            // The raw SQL prepared (planned once), and ours against it: not the target's baseline.
            baseline_prepared_ms: Math.round(median(baselinePrepared) * 10) / 10,
            ratio_to_prepared: Math.round((o / median(baselinePrepared)) * 100) / 100,
            runs: { ours: ours.map(Math.round), baseline: baseline.map(Math.round) },
          },
        });
      }
    }
    return results;
  } finally {
    await db.query('alter system reset temp_file_limit').catch(() => {});
    await db.query('select pg_reload_conf()').catch(() => {});
    await db.end();
    await http.close();
    await system.stop();
    if (!kept) await rm(dataDir, { recursive: true, force: true });
  }
}

/** Runs the client's process (bench/usage-page-client.ts) on one page, and answers its timings. */
async function runClient(
  job: UsageClientJob,
): Promise<{ ours: number[]; baseline: number[]; baselinePrepared: number[] }> {
  const client = fileURLToPath(new URL('./usage-page-client.ts', import.meta.url));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', client], {
    env: { ...process.env, BENCH_USAGE_CLIENT_JOB: JSON.stringify(job) },
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout);
}

async function clientToken(
  http: HttpClient,
  b: { hub: { login: string; arm: string }; csp: { tenantId: string; clientId: string; clientSecret: string } },
) {
  const res = await http.call('POST', `${b.hub.login}/${b.csp.tenantId}/oauth2/token`, {
    form: {
      grant_type: 'client_credentials',
      client_id: b.csp.clientId,
      client_secret: b.csp.clientSecret,
      resource: b.hub.arm,
    },
  });
  return res.access_token as string;
}
