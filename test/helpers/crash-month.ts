// A simulated month of usage, metering, delivery, attribution and billing, with the processes
// killed (SIGKILL) at random moments while a clock advance is in flight, and restarted on the same
// data folders and databases without --clock (the folder's clock resumes where it stood). Used by
// test/crash.test.ts (a few kills, in `npm test`) and by `npm run soak` (100 and more).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HttpClient, type JsonResponse } from '../../src/core/http-client.ts';
import { newGuid } from '../../src/core/ids.ts';
import { withDatabase } from '../../src/db/database.ts';
import { restartablePort } from './ports.ts';
import { cli, startBackground, type Background } from './cli.ts';
import { hubOutcome, type HubOutcome } from './crash-outcome.ts';
import { twoTenantsWithVms, type HubFile, type StackFile } from './two-tenants.ts';
import { dropDatabases, testServerUrl } from './system.ts';

/** `up`: one process for hub and stack; `split`: `stackledger hub` and `stackledger stack`. */
export type CrashMode = 'up' | 'split';

export interface CrashMonthOptions {
  mode: CrashMode;
  /** Kills that should land while an advance is in flight (0: the fault-free reference). */
  kills: number;
  seed: number;
  log?: (line: string) => void;
}

export interface CrashMonthResult extends HubOutcome {
  /** Kills that landed while an advance was in flight, by process. */
  kills: Record<string, number>;
  /** Kills that came after their advance had answered (tried again on what was left of the step). */
  late: number;
  /** Kills that a step could not take, carried to the next step (summed over the steps). */
  owed: number;
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
 * day and a half into October (where the kills that September's steps could not take land).
 */
function monthSteps(): number[] {
  const steps: number[] = [];
  for (let t = T0 + 12 * HOUR; t < T0 + 30 * DAY; t += 12 * HOUR) steps.push(t);
  steps.push(T0 + 30 * DAY - HOUR, T0 + 30 * DAY);
  for (let t = T0 + 30 * DAY + 12 * HOUR; t <= T0 + 31 * DAY + 12 * HOUR; t += 12 * HOUR) steps.push(t);
  return steps;
}
const BILLING_STEP = T0 + 30 * DAY;

/** What the hub's bootstrap file holds (with `up`, its stack's too). */
type HubJson = HubFile & { operator: { admin: { userName: string } } };
type StacksJson = { stacks: Record<string, StackFile> };

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
  let hb: HubJson;
  let sb: StacksJson;
  const hubPort = await restartablePort();

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
    const file = JSON.parse(readFileSync(path.join(dirs.hub, 'bootstrap.json'), 'utf8'));
    hb = file;
    if (o.mode === 'up') sb = file;
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
  const bearerFor = (which: 'hub' | 'stack') =>
    which === 'hub' ? appToken(hb.csp, hb.hub.arm) : appToken(hb.operator, stackEntry().adminArm);
  const clockUrl = (which: 'hub' | 'stack', action = '') =>
    `${which === 'hub' ? hb.hub.arm : stackEntry().adminArm}/providers/Stackledger.System/clock${action}?${API}`;
  /**
   * How far behind a step each process stops: with separate processes the hub moves first, to a
   * second before the step, so that it has not passed a period's end when the stack delivers the
   * hour before it (as in one process, where the billing job settles after delivery).
   */
  const lag = (which: 'hub' | 'stack') => (o.mode === 'split' && which === 'hub' ? 1000 : 0);
  const targetOf = (which: 'hub' | 'stack', step: number) => step - lag(which);
  const advanceRequest = async (which: 'hub' | 'stack', step: number): Promise<JsonResponse> =>
    http.send('POST', clockUrl(which, '/advance'), {
      token: await bearerFor(which),
      body: { to: iso(targetOf(which, step)) },
    });
  const advance = async (which: 'hub' | 'stack', step: number) => {
    const res = await advanceRequest(which, step);
    if (res.status !== 200)
      throw new Error(`advance ${which} to ${iso(targetOf(which, step))}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const outbox = async () =>
    (
      await http.call('GET', `${stackEntry().adminArm}/providers/Stackledger.System/bridge?${API}`, {
        token: await bearerFor('stack'),
      })
    ).outbox as number;
  const clockNow = async (which: 'hub' | 'stack', bearer?: string) =>
    Date.parse((await http.call('GET', clockUrl(which), { token: bearer ?? (await bearerFor(which)) })).now as string);
  /** Where `which` stands, as the step it would stop at (its clock plus its lag). */
  const positionOf = async (which: 'hub' | 'stack') => (await clockNow(which)) + lag(which);

  // How long a simulated hour takes, seen on advances without kills: a kill lands at a random
  // point of the work of the hour it aims at.
  const msPerHour: Record<string, number> = { hub: 50, stack: 100 };
  /**
   * Advances `which` to `stop` and kills `victim` at a random simulated instant of the move (the
   * clock is watched while the advance runs), then a random moment into that hour's work. Answers
   * whether the advance was still in flight when the kill was sent.
   */
  const advanceAndKill = async (which: 'hub' | 'stack', stop: number, victim: 'hub' | 'stack'): Promise<boolean> => {
    const bearer = await bearerFor(which);
    const from = await clockNow(which, bearer);
    const target = targetOf(which, stop);
    if (target <= from) throw new Error(`${which} stands at ${iso(from)}, not before ${iso(target)}`);
    const killAt = from + rnd() * (target - from);
    let settled = false;
    const request = advanceRequest(which, stop).then(
      (r) => {
        settled = true;
        return r;
      },
      (e: unknown) => {
        settled = true;
        return e as Error;
      },
    );
    while (!settled && (await clockNow(which, bearer)) < killAt) await sleep(10 + rnd() * 20);
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
    return inFlight;
  };
  /** Advances to `to` with no kill, learning how long an hour takes. */
  const timedAdvance = async (which: 'hub' | 'stack', to: number) => {
    const hours = (targetOf(which, to) - (await clockNow(which))) / HOUR;
    const t = Date.now();
    await advance(which, to);
    if (hours >= 6) msPerHour[which] = 0.7 * msPerHour[which] + 0.3 * ((Date.now() - t) / hours);
  };
  let late = 0;
  let owed = 0;
  // In `split`, the hub moves first, then the stack; in `up`, one process moves both.
  const movers: ReadonlyArray<'hub' | 'stack'> = o.mode === 'up' ? ['hub'] : ['hub', 'stack'];
  /**
   * Lands up to `wanted` kills in the move to `step`, and answers how many it could not. A step with
   * kills to place moves in shorter advances (the rest of the step shared among the kills still
   * wanted, whole hours), each its own window with its own random target: a kill that came after
   * its advance answered is tried again on what is left of the step.
   */
  const killsInStep = async (step: number, wanted: number): Promise<number> => {
    while (wanted > 0) {
      const positions = new Map<'hub' | 'stack', number>();
      for (const m of movers) positions.set(m, await positionOf(m));
      const moving = movers.filter((m) => step - (positions.get(m) ?? step) >= HOUR / 2);
      if (moving.length === 0) break;
      // Apart, the hub's own move is quick (most of the work is the stack's and the hub's answers
      // to it): a quarter of the kills aim at it, the rest at the stack's move.
      const which = moving.length === 1 ? moving[0] : rnd() < 0.25 ? 'hub' : 'stack';
      const victim = o.mode === 'up' || which === 'hub' ? 'hub' : rnd() < 0.5 ? 'stack' : 'hub';
      // The hub moves before the stack: the stack's move starts with the hub's to the step.
      if (which === 'stack') await advance('hub', step);
      const at = positions.get(which) ?? step;
      const hours = Math.max(1, Math.round((step - at) / HOUR / wanted));
      const stop = Math.min(step, Math.floor(at / HOUR) * HOUR + hours * HOUR);
      if (await advanceAndKill(which, stop, victim)) wanted--;
      else late++;
    }
    return wanted;
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
    // Each kill goes to a random step of September; the one that closes its billing gets a tenth
    // of its own. What a step cannot take is owed to the next; October's day and a half takes the last.
    const planned = new Array<number>(steps.length).fill(0);
    const billing = steps.indexOf(BILLING_STEP); // the steps before it are September's
    const billingKills = o.kills > 0 ? Math.max(1, Math.round(o.kills / 10)) : 0;
    planned[billing] += billingKills;
    for (let k = billingKills; k < o.kills; k++) planned[Math.floor(rnd() * billing)]++;
    for (const [i, to] of steps.entries()) {
      const left = await killsInStep(to, planned[i]);
      owed += left;
      if (i < steps.length - 1) planned[i + 1] += left;
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
      const res = await http.send('POST', clockUrl('hub', '/advance'), {
        token: await bearerFor('hub'),
        body: { to: iso(steps[steps.length - 1]) },
      });
      if (res.status !== 200) throw new Error(`advance hub to the end: ${res.status} ${JSON.stringify(res.body)}`);
    }
    const landed = Object.values(kills).reduce((n, k) => n + k, 0);
    log(`${o.mode}: ${landed} kills landed in flight (${o.kills} asked), ${late} late, ${owed} owed onwards`);
    return { ...(await results(customers)), kills, late, owed, seconds: Math.round((Date.now() - started) / 1000) };
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
  function results(customers: Awaited<ReturnType<typeof setUp>>) {
    const labels = new Map<string, string>([
      [hb.csp.tenantId, 'CSP'],
      [hb.csp.registrationSubscriptionId, 'REGISTRATION-SUB'],
      [customers.a.id, 'A'],
      [customers.a.sub, 'A-SUB'],
      [customers.c.id, 'C'],
      [customers.c.sub, 'C-SUB'],
    ]);
    return hubOutcome(withDatabase(testServerUrl(), `${prefix}_hub`), dirs.hub, labels);
  }
}
