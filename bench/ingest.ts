// Hub ingestion: records per second through the HTTP batch endpoint (stored once and attributed
// in the same statement), against a raw PostgreSQL COPY of the same rows into a table of the same
// shape (same key and indexes), in the same run.
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import pino from 'pino';
import { ByteChunks } from '../src/core/byte-chunks.ts';
import { HttpClient } from '../src/core/http-client.ts';
import { applicationWithRegistrationKey } from '../test/helpers/deployment.ts';
import { makeDeployment } from '../src/system/register.ts';
import { withDatabase } from '../src/db/database.ts';
import { startHubOnly } from '../src/system/up.ts';
import { processCpuMs } from './cpu.ts';
import { type BenchResult, median } from './report.ts';

/**
 * The CPU time used so far by the database server (its postmaster, the backends it has reaped and
 * those alive) and by this process (the hub and the bench's client), ms: on a shared machine far
 * steadier than wall time. NaN where /proc is not there or the server runs elsewhere.
 */
function cpuMsOf(postmaster: number): number {
  return databaseCpuMsOf(postmaster) + nodeCpuMs();
}

/** This process's CPU time (the hub and the bench's client), ms. */
function nodeCpuMs(): number {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1000;
}

/** The database server's CPU time so far (its postmaster, reaped backends and those alive), ms. */
function databaseCpuMsOf(postmaster: number): number {
  try {
    let ms = processCpuMs(postmaster, true).ms;
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p)))
      try {
        const p = processCpuMs(pid);
        if (p.ppid === postmaster) ms += p.ms;
      } catch {
        // a process that ended meanwhile
      }
    return ms;
  } catch {
    return Number.NaN;
  }
}

/** Batches in flight at once (BENCH_INGEST_IN_FLIGHT), as a bridge with several workers sends them. */
const IN_FLIGHT = Number(process.env.BENCH_INGEST_IN_FLIGHT ?? 3);

export async function benchIngest(serverUrl: string, total: number): Promise<BenchResult> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'stackledger-bench-hub-'));
  const base = `bench_ingest_${Date.now()}`;
  const system = await startHubOnly({
    dataDir,
    port: 0,
    http: true,
    databaseUrl: withDatabase(serverUrl, base),
    logger: pino({ level: 'silent' }),
    // A simulated clock (at the real time): the hub's due work runs only when asked, not on the
    // real clock's minute timer, which otherwise landed in some of ours' windows (a daily fold
    // of a run's records, billing's work: timed apart below, after COPY).
    clock: new Date(),
  });
  const b = system.bootstrap;
  const http = new HttpClient();
  const token = async (who: 'csp' | 'operator') =>
    (
      await http.call('POST', `${b.hub.login}/${b[who].tenantId}/oauth2/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: b[who].clientId,
          client_secret: b[who].clientSecret,
          resource: b.hub.arm,
        },
      })
    ).access_token as string;
  const db = new pg.Client({ connectionString: withDatabase(serverUrl, `${base}_hub`) });
  await db.connect();
  try {
    // A deployment of the bench's own (an application with a registration key, in the operator's
    // directory, made a deployment by the CSP), registered so that the bench can report as it.
    const graphToken = (
      await http.call('POST', `${b.hub.login}/${b.operator.tenantId}/oauth2/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: b.operator.clientId,
          client_secret: b.operator.clientSecret,
          resource: b.hub.graph,
        },
      })
    ).access_token as string;
    const deployment = await applicationWithRegistrationKey({
      http,
      hub: b.hub,
      graphToken,
      tenantId: b.operator.tenantId,
      name: 'bench',
    });
    const csp = await token('csp');
    await makeDeployment(http, b.hub.arm, csp, deployment.objectId);
    const operator = await deployment.signIn(b.hub.arm);
    const cloudId = randomUUID();
    await http.call(
      'PUT',
      `${b.hub.arm}/subscriptions/${b.csp.registrationSubscriptionId}/resourceGroups/${b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/bench?api-version=2017-06-01`,
      {
        token: csp,
        body: { location: 'global', properties: { registrationToken: await deployment.token({ CloudId: cloudId }) } },
      },
    );

    // A run's records are of 10 hours, in one month (Jan., Feb. and Mar. 2026).
    const hourOf = (run: number, i: number) =>
      new Date(Date.UTC(2026, 0, 1) + (run * 1000 + Math.floor(i / 20000)) * 3_600_000).toISOString();
    const recordsOf = (run: number) =>
      Array.from({ length: total }, (_, i) => ({
        resourceId: `r${i % 20000}`,
        resourceUri: `/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm${i % 20000}`,
        meterId: 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5',
        hour: hourOf(run, i),
        revision: 1,
        quantity: '2.000000000',
        subscriptionId: '11111111-1111-1111-1111-111111111111',
        tenantId: '22222222-2222-2222-2222-222222222222',
        location: 'local',
        tags: {},
      }));
    const batchSize = 5000;
    const clientData = (run: number) => {
      const records = recordsOf(run);
      const batches: (typeof records)[] = [];
      for (let i = 0; i < records.length; i += batchSize) batches.push(records.slice(i, i + batchSize));
      // Each batch's body is written before the clock starts, as the baseline's COPY lines are: a
      // deployment's JSON is made on its own machine, not the hub's. As bytes: its text handed to
      // the HTTP client was encoded into 2.7 MB of fresh memory a batch, in the hub's process.
      const bodiesOf = () =>
        batches.map((records) => Buffer.from(JSON.stringify({ cloudId, batchId: randomUUID(), records })));
      const rows = new ByteChunks();
      for (const r of records)
        rows.add(
          `deployment:${cloudId}\t${cloudId}\t${r.resourceId}\t${r.resourceUri}\t${r.meterId}\t${r.hour}\t${r.revision}\t${r.quantity}\t${r.subscriptionId}\t${r.tenantId}\t${r.location}\t{}\t2026-01-02T00:00:00Z\t${randomUUID()}\t${b.csp.registrationSubscriptionId}\n`,
        );
      // The duplicates pass (the first run) sends the same records under other batch ids.
      return { batchBodies: bodiesOf(), againBodies: run === 0 ? bodiesOf() : [], baselineRows: rows.take() };
    };
    await db.query('create table copy_baseline (like usage_received including all)');
    // The months of the runs' records have their partitions, as a live month's are made ahead of
    // its usage by the hub's job (records of a month without one go to the default partition).
    const months = [0, 1, 2].map((run) => hourOf(run, 0).slice(0, 7));
    await db.query(`select usage_create_month((m || '-01')::date) from unnest($1::text[]) m`, [months]);
    const ours: number[] = [];
    const copies: number[] = [];
    const folds: number[] = [];
    const oursCpu: number[] = [];
    const oursDatabaseCpu: number[] = [];
    const copiesCpu: number[] = [];
    const copiesDatabaseCpu: number[] = [];
    const backend = (await db.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    let postmaster = Number.NaN;
    try {
      postmaster = processCpuMs(backend).ppid;
    } catch {
      // a server on another machine (STACKLEDGER_BENCH_DATABASE_URL): no CPU figures
    }
    let againMs = 0;
    for (let run = 0; run < 3; run++) {
      // What the clients send, made before the clock starts and held as bytes outside V8's heap: the
      // records as objects were hundreds of MB of the hub's heap (this process's), which its
      // collector then marked again and again, for ~130 ms at a time, while batches waited.
      const { batchBodies, againBodies, baselineRows } = clientData(run);
      // Ours: the HTTP batch endpoint, three batches in flight.
      let bodies = batchBodies;
      let next = 0;
      let fresh = 0;
      const worker = async () => {
        while (next < bodies.length) {
          const res = await http.call(
            'POST',
            `${b.hub.arm}/providers/Microsoft.AzureStack/usageReports?api-version=2026-11-01`,
            { token: operator, json: bodies[next++] },
          );
          fresh += res.new;
        }
      };
      // Each side starts with no dirty pages of the other's to write (a checkpoint's work).
      await db.query('checkpoint');
      let cpu = cpuMsOf(postmaster);
      const databaseCpu = databaseCpuMsOf(postmaster);
      let start = performance.now();
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      ours.push(performance.now() - start);
      oursCpu.push(cpuMsOf(postmaster) - cpu);
      oursDatabaseCpu.push(databaseCpuMsOf(postmaster) - databaseCpu);
      if (fresh !== total) throw new Error(`the hub stored ${fresh} of ${total}`);
      if (run === 0) {
        // The same batches again: every record is a duplicate.
        bodies = againBodies;
        next = 0;
        start = performance.now();
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
        againMs = performance.now() - start;
      }
      // Baseline: COPY of the same rows into a table of the same shape.
      await db.query('checkpoint');
      cpu = cpuMsOf(postmaster);
      const copyDatabaseCpu = databaseCpuMsOf(postmaster);
      start = performance.now();
      await pipeline(
        Readable.from(baselineRows),
        db.query(
          copyFrom(
            'copy copy_baseline (source, cloud_id, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, tenant_id, location, tags, received_at, batch_id, billed_subscription_id) from stdin',
          ),
        ),
      );
      copies.push(performance.now() - start);
      copiesCpu.push(cpuMsOf(postmaster) - cpu);
      copiesDatabaseCpu.push(databaseCpuMsOf(postmaster) - copyDatabaseCpu);
      // The run's daily aggregates, folded as the hub's job (or the next reader) would: work taken
      // out of ingestion, so reported beside it rather than in it (and after COPY, whose time its
      // vacuum would otherwise share).
      start = performance.now();
      await db.query('select usage_daily_fold()');
      folds.push(performance.now() - start);
    }
    const rate = (ms: number) => Math.round(total / (ms / 1000));
    return {
      benchmark: 'ingest',
      title:
        "hub ingestion through the HTTP batch endpoint (stored once, attributed), as the deployment's registration",
      ours_ms: median(ours),
      baseline_ms: median(copies),
      baseline: 'a raw COPY of the same rows into a table of the same shape (same key and indexes)',
      target: 1.25,
      sizes: { records: total, batchSize },
      details: {
        oursRecordsPerSecond: rate(median(ours)),
        copyRecordsPerSecond: rate(median(copies)),
        duplicatesRecordsPerSecond: rate(againMs),
        foldMs: Math.round(median(folds)),
        // CPU time (database server and this process) of ours and of COPY: their ratio holds
        // when other loads stretch the wall times
        cpuRatio: Number((median(oursCpu) / median(copiesCpu)).toFixed(2)),
        runs: {
          ours: ours.map(Math.round),
          copy: copies.map(Math.round),
          fold: folds.map(Math.round),
          oursCpu: oursCpu.map(Math.round),
          // of which the database server's (the rest is this process: the hub and the client)
          oursDatabaseCpu: oursDatabaseCpu.map(Math.round),
          copyCpu: copiesCpu.map(Math.round),
          copyDatabaseCpu: copiesDatabaseCpu.map(Math.round),
          duplicates: Math.round(againMs),
        },
      },
    };
  } finally {
    await db.end();
    await http.close();
    await system.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
