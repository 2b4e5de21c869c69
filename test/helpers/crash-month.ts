// A simulated month of usage, metering, delivery, attribution and billing, with the processes
// killed (SIGKILL) at random moments while a clock advance is in flight, and restarted on the same
// data folders and databases without --clock (the folder's clock resumes where it stood). Used by
// test/crash.test.ts (a few kills, in `npm test`) and by `npm run soak` (100 and more).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { HttpClient, type JsonResponse } from '../../src/core/http-client.ts';
import { newGuid } from '../../src/core/ids.ts';
import { withDatabase } from '../../src/db/database.ts';
import { freePort } from '../../src/db/embedded.ts';
import { cli, startBackground, type Background } from './cli.ts';
import { twoTenantsWithVms } from './two-tenants.ts';
import { dropDatabases, testServerUrl, type TestBootstrap } from './system.ts';

/** `up`: one process for hub and stack; `split`: `stackledger hub` and `stackledger stack`. */
export type CrashMode = 'up' | 'split';

export interface CrashMonthOptions {
  mode: CrashMode;
  /** Kills that should land while an advance is in flight (0: the fault-free reference). */
  kills: number;
  seed: number;
  log?: (line: string) => void;
}

export interface CrashMonthResult {
  /** Kills that landed while an advance was in flight, by process. */
  kills: Record<string, number>;
  /** Usage records the hub received. */
  records: number;
  /** Attributed quantity per billed subscription and meter (ids replaced by stable labels). */
  usage: string[];
  /** Every invoice's content: stream, seller, buyer, period, date, totals and lines (labels, no numbers). */
  invoices: string[];
  balanced: boolean;
  seconds: number;
}

const READY = /Stop with Ctrl\+C/;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-09-01T00:00:00Z');
const API = 'api-version=2026-11-01';
const iso = (t: number) => new Date(t).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A small seeded generator (mulberry32), so that a run can be replayed from its printed seed. */
export function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The month's steps: every 12 hours, the hour that closes September's billing on its own, and a
 * day and a half into October (where kills that came too late in their step land).
 */
function monthSteps(): number[] {
  const steps: number[] = [];
  for (let t = T0 + 12 * HOUR; t < T0 + 30 * DAY; t += 12 * HOUR) steps.push(t);
  steps.push(T0 + 30 * DAY - HOUR, T0 + 30 * DAY);
  for (let t = T0 + 30 * DAY + 12 * HOUR; t <= T0 + 31 * DAY + 12 * HOUR; t += 12 * HOUR) steps.push(t);
  return steps;
}
const BILLING_STEP = T0 + 30 * DAY;

/** Fixed tenant subscription ids: the two runs compared have their own databases. */
const TENANT_SUBS = { a: '00000000-0000-4000-8000-00000000000a', c: '00000000-0000-4000-8000-00000000000c' };

export async function runCrashMonth(o: CrashMonthOptions): Promise<CrashMonthResult> {
  const started = Date.now();
  const rnd = seededRandom(o.seed);
  const log = o.log ?? (() => {});
  const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
  const database = withDatabase(testServerUrl(), prefix);
  const dirs = {
    hub: await mkdtemp(path.join(tmpdir(), 'stackledger-crash-hub-')),
    stack: await mkdtemp(path.join(tmpdir(), 'stackledger-crash-stack-')),
  };
  const http = new HttpClient(undefined, 600_000);
  const procs: Partial<Record<'hub' | 'stack', Background>> = {};
  const kills: Record<string, number> = {};
  let hb!: TestBootstrap;
  let sb: TestBootstrap;
  const hubPort = await freePort();

  const startHub = async (first = false) => {
    const role = o.mode === 'up' ? 'up' : 'hub';
    procs.hub = await startBackground(
      [
        role,
        '--data',
        dirs.hub,
        '--port',
        o.mode === 'up' ? '0' : String(hubPort),
        '--http',
        '--database',
        database,
        ...(first ? ['--clock', iso(T0)] : []),
      ],
      READY,
    );
    hb = JSON.parse(readFileSync(path.join(dirs.hub, 'bootstrap.json'), 'utf8'));
    if (o.mode === 'up') sb = hb;
  };
  const startStack = async (first = false) => {
    procs.stack = await startBackground(
      [
        'stack',
        '--data',
        dirs.stack,
        '--port',
        '0',
        '--http',
        '--database',
        database,
        '--hub',
        hb.hub.arm,
        '--admin-user',
        hb.operator.admin.userName,
        ...(first ? ['--clock', iso(T0)] : []),
      ],
      READY,
      {
        STACKLEDGER_OPERATOR_TENANT_ID: hb.operator.tenantId,
        STACKLEDGER_OPERATOR_CLIENT_ID: hb.operator.clientId,
        STACKLEDGER_OPERATOR_CLIENT_SECRET: hb.operator.clientSecret,
        STACKLEDGER_HUB_TIMEOUT_MS: '5000',
      },
    );
    sb = JSON.parse(readFileSync(path.join(dirs.stack, 'bootstrap.json'), 'utf8'));
  };
  const kill = async (which: 'hub' | 'stack') => {
    const p = procs[which];
    procs[which] = undefined;
    p?.child.kill('SIGKILL');
    await p?.exited;
  };
  const restart = (which: 'hub' | 'stack') => (which === 'hub' ? startHub() : startStack());

  const token = async (tenant: string, form: Record<string, string>) =>
    (await http.call('POST', `${hb.hub.login}/${tenant}/oauth2/token`, { form })).access_token as string;
  const appToken = (who: { tenantId: string; clientId: string; clientSecret: string }, resource: string) =>
    token(who.tenantId, {
      grant_type: 'client_credentials',
      client_id: who.clientId,
      client_secret: who.clientSecret,
      resource,
    });
  const stackEntry = () => sb.stacks.local;
  const clockUrl = (which: 'hub' | 'stack') =>
    `${which === 'hub' ? hb.hub.arm : stackEntry().adminArm}/providers/Stackledger.System/clock/advance?${API}`;
  /**
   * Where each process goes for a step: with separate processes the hub moves first, to a second
   * before the step, so that it has not passed a period's end when the stack delivers the hour
   * before it (as in one process, where the billing job settles after delivery).
   */
  const targetOf = (which: 'hub' | 'stack', step: number) =>
    o.mode === 'split' && which === 'hub' ? step - 1000 : step;
  const advanceRequest = async (which: 'hub' | 'stack', step: number): Promise<JsonResponse> => {
    const to = targetOf(which, step);
    const bearer =
      which === 'hub' ? await appToken(hb.csp, hb.hub.arm) : await appToken(hb.operator, stackEntry().adminArm);
    return http.send('POST', clockUrl(which), { token: bearer, body: { to: iso(to) } });
  };
  const advance = async (which: 'hub' | 'stack', step: number) => {
    const res = await advanceRequest(which, step);
    if (res.status !== 200)
      throw new Error(`advance ${which} to ${iso(targetOf(which, step))}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const outbox = async () =>
    (
      await http.call('GET', `${stackEntry().adminArm}/providers/Stackledger.System/bridge?${API}`, {
        token: await appToken(hb.operator, stackEntry().adminArm),
      })
    ).outbox as number;

  const clockNow = async (which: 'hub' | 'stack') => {
    const base = which === 'hub' ? hb.hub.arm : stackEntry().adminArm;
    const bearer =
      which === 'hub' ? await appToken(hb.csp, hb.hub.arm) : await appToken(hb.operator, stackEntry().adminArm);
    return Date.parse(
      (await http.call('GET', `${base}/providers/Stackledger.System/clock?${API}`, { token: bearer })).now,
    );
  };

  // How long a simulated hour takes, seen on advances without kills: a kill lands at a random
  // point of the work of the hour it aims at.
  const msPerHour: Record<string, number> = { hub: 50, stack: 100 };
  /**
   * Advances `which` to `to` and kills `victim` at a random simulated instant of the move (the
   * clock is watched while the advance runs), then a random moment into that hour's work. Answers
   * `landed` when the advance was still in flight, `late` when it had answered, `done` (and kills
   * nothing) when no hour was left to move through.
   */
  const advanceAndKill = async (
    which: 'hub' | 'stack',
    to: number,
    victim: 'hub' | 'stack',
  ): Promise<'landed' | 'late' | 'done'> => {
    const from = await clockNow(which);
    const target = targetOf(which, to);
    if (target - from < HOUR / 2) return 'done';
    const killAt = from + rnd() * (target - from);
    let settled = false;
    const request = advanceRequest(which, to).then(
      (r) => {
        settled = true;
        return r;
      },
      (e) => {
        settled = true;
        return e as Error;
      },
    );
    while (!settled && (await clockNow(which)) < killAt) await sleep(10 + rnd() * 20);
    await sleep(rnd() * msPerHour[which]);
    const inFlight = !settled;
    await kill(victim);
    const who = o.mode === 'up' ? 'up' : victim;
    if (inFlight) kills[who] = (kills[who] ?? 0) + 1;
    if (victim === which) await request;
    await restart(victim);
    if (victim !== which) {
      const answered = await request;
      if (!(answered instanceof Error) && answered.status !== 200)
        throw new Error(
          `advance ${which} while ${victim} was killed: ${answered.status} ${JSON.stringify(answered.body)}`,
        );
    }
    log(
      `  kill ${who} near ${iso(killAt)} (${which} advancing to ${iso(target)}): ${inFlight ? 'in flight' : 'after it answered'}`,
    );
    return inFlight ? 'landed' : 'late';
  };
  /** Advances to `to` with no kill, learning how long an hour takes. */
  const timedAdvance = async (which: 'hub' | 'stack', to: number) => {
    const hours = (targetOf(which, to) - (await clockNow(which))) / HOUR;
    const t = Date.now();
    await advance(which, to);
    if (hours >= 6) msPerHour[which] = 0.7 * msPerHour[which] + 0.3 * ((Date.now() - t) / hours);
  };

  try {
    await startHub(true);
    if (o.mode === 'split') {
      await startStack(true);
      const registered = await cli(['stack', 'register', '--data', dirs.stack, '--hub-data', dirs.hub, '--approve']);
      if (registered.code !== 0) throw new Error(registered.stderr);
    }
    const customers = await setUp();

    const steps = monthSteps();
    // Each kill goes to a random step of September; the one that closes its billing gets a few of its own.
    // More are planned than asked: some come too late in their step and are owed, and the last
    // steps cannot take them all.
    const planned = new Array<number>(steps.length).fill(0);
    const total = Math.ceil(o.kills * 1.3);
    const billingKills = o.kills > 0 ? Math.max(1, Math.round(o.kills / 10)) : 0;
    planned[steps.indexOf(BILLING_STEP)] += billingKills;
    const september = steps.indexOf(BILLING_STEP);
    for (let k = billingKills; k < total; k++) planned[Math.floor(rnd() * september)]++;
    let landed = 0;
    let owed = 0;
    for (const [i, to] of steps.entries()) {
      // In `split`, the hub moves first, then the stack; in `up`, one process moves both.
      const movers: Array<'hub' | 'stack'> = o.mode === 'up' ? ['hub'] : ['hub', 'stack'];
      let wanted = planned[i] + owed;
      // A process whose move answered before its kill, or had nothing left, is done for this step;
      // the kills still wanted are owed to the next step.
      const moving = [...movers];
      while (wanted > 0 && moving.length > 0) {
        // Apart, the hub's own move is quick (most of the work is the stack's and the hub's answers
        // to it): a quarter of the kills aim at it, the rest at the stack's move.
        const which = moving.length === 1 ? moving[0] : rnd() < 0.25 ? 'hub' : 'stack';
        const victim = o.mode === 'up' ? 'hub' : which === 'hub' ? 'hub' : rnd() < 0.5 ? 'stack' : 'hub';
        if (which === 'stack') await advance('hub', to);
        if ((await advanceAndKill(which, to, victim)) === 'landed') {
          landed++;
          wanted--;
        } else {
          moving.splice(moving.indexOf(which), 1);
          // The hub moves before the stack: once the stack has moved, so has the hub.
          if (which === 'stack') moving.length = 0;
        }
      }
      owed = wanted;
      for (const which of movers) await timedAdvance(which, to);
      // What a kill left in the outbox goes at the next run of the same instant.
      for (let tries = 0; (await outbox()) > 0; tries++) {
        if (tries > 20) throw new Error(`the outbox does not empty at ${iso(to)}`);
        await advance(o.mode === 'up' ? 'hub' : 'stack', to);
      }
      await events(to, customers);
    }
    if (o.mode === 'split') {
      // The hub to the end too, where one process stands.
      const res = await http.send('POST', clockUrl('hub'), {
        token: await appToken(hb.csp, hb.hub.arm),
        body: { to: iso(steps[steps.length - 1]) },
      });
      if (res.status !== 200) throw new Error(`advance hub to the end: ${res.status} ${JSON.stringify(res.body)}`);
    }
    log(`${o.mode}: ${landed} kills landed in flight (${o.kills} asked)`);
    return { ...(await results(customers)), kills, seconds: Math.round((Date.now() - started) / 1000) };
  } finally {
    await kill('stack');
    await kill('hub');
    await http.close();
    for (const d of Object.values(dirs)) await rm(d, { recursive: true, force: true });
    await dropDatabases(prefix);
  }

  /** Two customers, A linked to the registration (billed its own usage) and C not (billed to the CSP), each with a VM. */
  function setUp() {
    return twoTenantsWithVms({
      http: () => http,
      hub: () => hb,
      stack: stackEntry,
      domainPrefix: 'crash',
      tenantSubs: TENANT_SUBS,
    });
  }

  /** The month's lifecycle, at fixed instants between advances: the same in every run. */
  async function events(at: number, customers: Awaited<ReturnType<typeof setUp>>) {
    const tenant = stackEntry().tenantArm;
    const vmAction = async (action: string) =>
      http.call('POST', `${tenant}${customers.a.vm}/${action}?api-version=2020-06-01`, {
        token: await customers.a.tenantToken(),
      });
    if (at === T0 + 10 * DAY + 12 * HOUR) await vmAction('deallocate');
    if (at === T0 + 12 * DAY + 12 * HOUR) await vmAction('start');
    if (at === T0 + 15 * DAY) {
      // The fabric reports late that C's VM was deallocated at 06:30 on day 14: corrections.
      const s = stackEntry();
      await http.call(
        'POST',
        `${s.adminArm}/subscriptions/${s.providerSubscriptionId}/providers/Stackledger.System/lateStateReports?${API}`,
        {
          token: await appToken(hb.operator, s.adminArm),
          body: { resourceId: customers.c.vm, at: iso(T0 + 14 * DAY + 6.5 * HOUR), powerState: 'deallocated' },
        },
      );
    }
    if (at === T0 + 20 * DAY) {
      await http.call('PATCH', `${tenant}${customers.a.vm}?api-version=2020-06-01`, {
        token: await customers.a.tenantToken(),
        body: { properties: { hardwareProfile: { vmSize: 'Standard_D3_v2' } } },
      });
    }
  }

  /** What the hub holds at the end, with every id that differs between runs replaced by a label. */
  async function results(customers: Awaited<ReturnType<typeof setUp>>) {
    const labels = new Map<string, string>([
      [hb.csp.tenantId, 'CSP'],
      [hb.csp.registrationSubscriptionId, 'REGISTRATION-SUB'],
      [customers.a.id, 'A'],
      [customers.a.sub, 'A-SUB'],
      [customers.c.id, 'C'],
      [customers.c.sub, 'C-SUB'],
    ]);
    const label = (text: string) =>
      [...labels].reduce((s, [id, name]) => s.replaceAll(id.toLowerCase(), name), text.toLowerCase());
    const db = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${prefix}_hub`) });
    await db.connect();
    try {
      const records = Number(
        (await db.query(`select count(*) as n from usage_received where source like 'deployment:%'`)).rows[0].n,
      );
      const usage = (
        await db.query(`select a.billed_subscription_id::text as sub, r.meter_id::text as meter, sum(a.quantity)::text as q
                        from usage_attributed a join usage_received r on r.id = a.received_id group by 1, 2 order by 1, 2`)
      ).rows
        .map((r) => label(`${r.sub} ${r.meter} ${r.q}`))
        .sort();
      // Lines are numbered in id order (customers, subscriptions), which differs between runs: compared as a set.
      const invoices = (
        await db.query(`select i.stream, i.kind, i.seller, i.buyer_id::text as buyer, i.period, i.invoice_date, i.subtotal::text, i.tax::text, i.total::text,
                               (select json_agg(json_build_array(l.line_type, l.customer_id, l.subscription_id, l.meter_id, l.resource_uri, l.location,
                                                                 l.usage_date, l.usage_to, l.tier, l.quantity::text, l.unit_price::text, l.amount::text, l.description))
                                from invoice_lines l where l.invoice_id = i.id) as lines
                        from invoices i`)
      ).rows
        .map(
          ({ lines, ...invoice }) =>
            `${label(JSON.stringify(invoice))} lines ${JSON.stringify((lines ?? []).map((l: unknown[]) => label(JSON.stringify(l))).sort())}`,
        )
        .sort();
      const verify = await cli(['usage', 'verify', '--data', dirs.hub, '--json']);
      const balanced = verify.code === 0 && JSON.parse(verify.stdout).balanced === true;
      return { records, usage, invoices, balanced };
    } finally {
      await db.end();
    }
  }
}
