// Faults during a simulated month, hub and stack as separate processes: the hub killed (SIGKILL)
// and restarted, the hub frozen (SIGSTOP: the network seems cut, requests time out), the stack
// killed mid-month, and old batches delivered again and out of order. At the end the ledger
// verifies and the hub holds exactly the stack's meters, each record once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { HttpClient } from '../src/core/http-client.ts';
import { newGuid } from '../src/core/ids.ts';
import { restartablePort } from './helpers/ports.ts';
import { withDatabase } from '../src/db/database.ts';
import { cli, operatorEnv, stackProcessArgs, startBackground, type Background } from './helpers/cli.ts';
import { twoTenantsWithVms } from './helpers/two-tenants.ts';
import { stackRecord } from './helpers/secrets.ts';
import { dropDatabases, testServerUrl, type TestBootstrap } from './helpers/system.ts';
import type { UsageRecordWire } from '../src/core/usage-record.ts';
import type { StackBootstrap } from '../src/system/bootstrap.ts';

const READY = /Stop with Ctrl\+C/;
const DAY = 86_400_000;
const T0 = Date.parse('2026-09-01T00:00:00Z');

/** A small seeded generator, so that a failing run can be replayed (the seed is printed). */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the usage pipeline under faults, over a simulated month', () => {
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 100000);
  const rnd = random(seed);
  const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
  const database = withDatabase(testServerUrl(), prefix);
  const dirs: Record<string, string> = {};
  let hubPort = 0;
  let hub: Background | undefined;
  let stack: Background | undefined;
  let hb: TestBootstrap;
  let sb: TestBootstrap;
  let http: HttpClient;
  let hubTime = T0;
  let stackTime = T0;
  const faults: string[] = [];
  const customers: Record<string, { id: string; sub: string; admin: { userName: string; password: string } }> = {};
  const stackTenant: Record<string, { token: () => Promise<string>; sub: string }> = {};

  const iso = (t: number) => new Date(t).toISOString();
  const token = async (tenant: string, form: Record<string, string>) =>
    (await http.call('POST', `${hb.hub.login}/${tenant}/oauth2/token`, { form })).access_token as string;
  // Tokens are kept (they last an hour of real time), so that the test can act while the hub is down.
  const tokens = new Map<string, string>();
  const app = async (who: { tenantId: string; clientId: string; clientSecret: string }, resource: string) => {
    const key = `${who.clientId} ${resource}`;
    if (!tokens.has(key))
      tokens.set(
        key,
        await token(who.tenantId, {
          grant_type: 'client_credentials',
          client_id: who.clientId,
          client_secret: who.clientSecret,
          resource,
        }),
      );
    return tokens.get(key)!;
  };
  const stackEntry = () => sb.stacks.local;

  const startHub = async () => {
    hub = await startBackground(
      ['hub', '--data', dirs.hub, '--port', String(hubPort), '--database', database, '--clock', iso(hubTime)],
      READY,
    );
    hb = JSON.parse(readFileSync(path.join(dirs.hub, 'bootstrap.json'), 'utf8'));
  };
  const startStack = async () => {
    stack = await startBackground(stackProcessArgs(hb, { data: dirs.stack, database, clock: iso(stackTime) }), READY, {
      ...operatorEnv(hb),
      STACKLEDGER_HUB_TIMEOUT_MS: '1500',
    });
    sb = JSON.parse(readFileSync(path.join(dirs.stack, 'bootstrap.json'), 'utf8'));
    await http?.close();
    http = new HttpClient([hb.caFile, sb.caFile].map((f) => readFileSync(f, 'utf8')).join('\n'));
  };
  const kill = async (p: Background | undefined, signal: NodeJS.Signals) => {
    if (!p) return;
    p.child.kill(signal);
    await p.exited;
  };
  const advanceHub = async (to: number) => {
    await http.call('POST', `${hb.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
      token: await app(hb.csp, hb.hub.arm),
      body: { to: iso(to) },
    });
    hubTime = to;
  };
  const advanceStack = async (to: number) => {
    const s = stackEntry();
    await http.call('POST', `${s.adminArm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
      token: await app(hb.operator, s.adminArm),
      body: { to: iso(to) },
    });
    stackTime = to;
  };
  const stackDb = () => new pg.Client({ connectionString: withDatabase(testServerUrl(), `${prefix}_stack_local`) });
  const hubDb = () => new pg.Client({ connectionString: withDatabase(testServerUrl(), `${prefix}_hub`) });

  /** Old records sent again by the stack's application, in reverse order. */
  const replayOld = async () => {
    const db = stackDb();
    await db.connect();
    let rows: UsageRecordWire[];
    let appRecord: StackBootstrap;
    try {
      ({ rows } = await db.query(
        `select resource_id::text as "resourceId", resource_uri as "resourceUri", meter_id::text as "meterId", to_char(hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as hour,
                revision, quantity::text as quantity, subscription_id::text as "subscriptionId", tenant_id::text as "tenantId", location, tags
         from usage_records where delivered_at is not null order by random() limit 60`,
      ));
      appRecord = await stackRecord(db, dirs.stack);
    } finally {
      await db.end();
    }
    if (rows.length === 0) return;
    const bearer = await token(appRecord.homeDirectory, {
      grant_type: 'client_credentials',
      client_id: appRecord.applicationId,
      client_secret: appRecord.applicationSecret,
      resource: hb.hub.arm,
    });
    for (const part of [rows.slice(30), rows.slice(0, 30)]) {
      const res = await http.call(
        'POST',
        `${hb.hub.arm}/providers/Microsoft.AzureStack/usageReports?api-version=2026-11-01`,
        {
          token: bearer,
          body: { cloudId: stackEntry().cloudId, batchId: randomUUID(), records: part.reverse() },
        },
      );
      assert.equal(res.new, 0, 'a replayed record is never stored twice');
    }
  };

  before(async () => {
    process.stdout.write(`fault test seed: ${seed} (FAULT_SEED=${seed} replays it)\n`);
    for (const k of ['hub', 'stack']) dirs[k] = await mkdtemp(path.join(tmpdir(), `stackledger-faults-${k}-`));
    hubPort = await restartablePort();
    http = new HttpClient();
    await startHub();
    http = new HttpClient(readFileSync(hb.caFile, 'utf8'));
    await startStack();
    assert.equal((await cli(['stack', 'register', '--data', dirs.stack, '--hub-data', dirs.hub, '--approve'])).code, 0);

    const tenants = await twoTenantsWithVms({
      http: () => http,
      hub: () => hb,
      stack: stackEntry,
      domainPrefix: 'fault',
      tenantSubs: { a: randomUUID(), c: randomUUID() },
    });
    for (const name of ['a', 'c'] as const) {
      customers[name] = tenants[name];
      stackTenant[name] = { token: tenants[name].tenantToken, sub: tenants[name].tenantSub };
    }

    // The month, six hours at a time, with faults at random points.
    for (let day = 0; day < 30; day++) {
      await advanceHub(T0 + (day + 1) * DAY);
      for (let quarter = 1; quarter <= 4; quarter++) {
        const to = T0 + day * DAY + quarter * 6 * 3_600_000;
        const r = rnd();
        if (r < 0.06) {
          faults.push(`${iso(to)} hub killed`);
          await app(hb.operator, stackEntry().adminArm);
          await kill(hub, 'SIGKILL');
          await advanceStack(to); // delivery fails while the hub is down; the records wait
          await startHub();
        } else if (r < 0.1) {
          faults.push(`${iso(to)} hub frozen`);
          await app(hb.operator, stackEntry().adminArm);
          hub!.child.kill('SIGSTOP');
          try {
            await advanceStack(to); // requests time out: as if the network were cut
          } finally {
            hub!.child.kill('SIGCONT');
          }
        } else if (r < 0.13) {
          faults.push(`${iso(to)} stack killed`);
          await kill(stack, 'SIGKILL');
          await startStack(); // resumes at its last closed hour
          await advanceStack(to);
        } else if (r < 0.25) {
          faults.push(`${iso(to)} duplicates replayed`);
          await advanceStack(to);
          await replayOld();
        } else {
          await advanceStack(to);
        }
        // Lifecycle along the way: A's VM deallocated on day 10, started on day 12, resized on day 20.
        const action = day === 10 && quarter === 2 ? 'deallocate' : day === 12 && quarter === 3 ? 'start' : undefined;
        if (action) {
          await http.call(
            'POST',
            `${stackEntry().tenantArm}/subscriptions/${stackTenant.a.sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/${action}?api-version=2020-06-01`,
            { token: await stackTenant.a.token() },
          );
        }
        if (day === 20 && quarter === 1) {
          await http.call(
            'PATCH',
            `${stackEntry().tenantArm}/subscriptions/${stackTenant.a.sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm?api-version=2020-06-01`,
            {
              token: await stackTenant.a.token(),
              body: { properties: { hardwareProfile: { vmSize: 'Standard_D3_v2' } } },
            },
          );
        }
      }
    }
    // Everything up again: delivery completes (a few tries, in case the last ones timed out under load).
    for (let i = 0; i < 10; i++) {
      await advanceStack(stackTime);
      const status = await http.call(
        'GET',
        `${stackEntry().adminArm}/providers/Stackledger.System/bridge?api-version=2026-11-01`,
        { token: await app(hb.operator, stackEntry().adminArm) },
      );
      if (status.outbox === 0) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await advanceHub(T0 + 31 * DAY);
    process.stdout.write(`faults: ${faults.length ? faults.join('; ') : 'none drawn'}\n`);
  });

  after(async () => {
    await http?.close();
    await kill(stack, 'SIGTERM');
    if (hub) {
      hub.child.kill('SIGCONT');
      await kill(hub, 'SIGTERM');
    }
    for (const d of Object.values(dirs)) await rm(d, { recursive: true, force: true });
    await dropDatabases(prefix);
  });

  it("loses nothing and counts nothing twice: the hub holds exactly the stack's records", async () => {
    const sdb = stackDb();
    const hdb = hubDb();
    await sdb.connect();
    await hdb.connect();
    try {
      const stackRows = (
        await sdb.query(
          `select resource_id::text || ' ' || meter_id || ' ' || to_char(hour at time zone 'UTC', 'YYYY-MM-DD HH24') || ' ' || revision || ' ' || quantity::text as k from usage_records order by 1`,
        )
      ).rows.map((r) => r.k);
      const pending = (await sdb.query('select count(*)::int as n from usage_records where delivered_at is null'))
        .rows[0].n;
      const hubRows = (
        await hdb.query(
          `select resource_id || ' ' || meter_id || ' ' || to_char(hour at time zone 'UTC', 'YYYY-MM-DD HH24') || ' ' || revision || ' ' || quantity::text as k from usage_received where source like 'deployment:%' order by 1`,
        )
      ).rows.map((r) => r.k);
      assert.equal(pending, 0, 'the outbox is empty');
      // Two VMs with two meters each for 720 hours, less the 54 hours A's VM was deallocated.
      assert.equal(stackRows.length, 4 * 720 - 2 * 54, 'a month of records');
      assert.deepEqual(hubRows, stackRows);
    } finally {
      await sdb.end();
      await hdb.end();
    }
    const verify = await cli(['usage', 'verify', '--data', dirs.hub, '--json']);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(JSON.parse(verify.stdout).balanced, true);
  });

  it("bills A its own usage and C's to the registration subscription, as a run without faults would", async () => {
    const billed = async (subscriptionId: string) => {
      const res = await http.call(
        'GET',
        `${hb.hub.arm}/subscriptions/${subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-09-01T00:00:00Z&reportedEndTime=2026-10-02T00:00:00Z&aggregationGranularity=Daily&showDetails=false`,
        { token: await app(hb.csp, hb.hub.arm) },
      );
      return res.value
        .filter(
          (x: { properties: { meterId: unknown } }) => x.properties.meterId === 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5',
        )
        .reduce((n: number, x: { properties: { quantity: number } }) => n + x.properties.quantity, 0);
    };
    // A: 2 vCPUs until day 10 06:00, none until day 12 12:00, 2 until day 20 06:00, then 4 to the end of day 30.
    const a = 2 * (10 * 24 + 6) + 2 * (20 * 24 + 6 - (12 * 24 + 12)) + 4 * (30 * 24 - (20 * 24 + 6));
    assert.equal(await billed(customers.a.sub), a);
    assert.equal(await billed(hb.csp.registrationSubscriptionId), 1 * 30 * 24);
  });
});
