// The simulated clock is durable: a folder started with --clock stays simulated across restarts
// (even after a kill), --clock may only move it forward, and one move goes at most ten years.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpClient, type UndeclaredJson } from '../src/core/http-client.ts';
import { newGuid } from '../src/core/ids.ts';
import { withDatabase } from '../src/db/database.ts';
import { cli, startBackground, type Background } from './helpers/cli.ts';
import { clientCredentialsToken, dropDatabases, testServerUrl } from './helpers/system.ts';

const READY = /Stop with Ctrl\+C/;
const API = 'api-version=2026-11-01';

describe('the durable simulated clock', () => {
  let dir: string;
  const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
  const env = { DATABASE_URL: withDatabase(testServerUrl(), prefix) };
  const http = new HttpClient();
  let running: Background | undefined;
  const up = async (...extra: string[]) => {
    running = await startBackground(['up', '--data', dir, '--port', '0', '--http', ...extra], READY, env);
    return JSON.parse(readFileSync(path.join(dir, 'bootstrap.json'), 'utf8'));
  };
  const kill = async () => {
    running?.child.kill('SIGKILL');
    await running?.exited;
    running = undefined;
  };
  const cspToken = async (b: {
    hub: { login: string; arm: string };
    csp: { tenantId: string; clientId: string; clientSecret: string };
  }) => clientCredentialsToken(http, b.hub.login, b.csp, b.hub.arm);
  const clockOf = async () => JSON.parse((await cli(['clock', 'show', '--data', dir, '--json'])).stdout);

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'stackledger-clock-'));
  });
  after(async () => {
    await kill();
    await http.close();
    await rm(dir, { recursive: true, force: true });
    await dropDatabases(prefix);
  });

  it('resumes where it stood after a kill and a restart without --clock', async () => {
    await up('--clock', '2026-01-01T00:00:00Z');
    const moved = await cli(['clock', 'advance', 'P2DT5H', '--data', dir]);
    assert.equal(moved.code, 0, moved.stderr);
    await kill();
    const b = await up();
    assert.deepEqual(await clockOf(), { now: '2026-01-03T05:00:00.000Z', simulated: true });
    assert.equal(JSON.parse(readFileSync(path.join(dir, 'clock.json'), 'utf8')).now, '2026-01-03T05:00:00.000Z');
    // The start says so too.
    assert.match(running!.output(), /clock\s+simulated, at 2026-01-03T05:00:00.000Z/);
    const ok = await http.send('POST', `${b.hub.arm}/providers/Stackledger.System/clock/advance?${API}`, {
      token: await cspToken(b),
      body: { duration: 'PT1H' },
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.now, '2026-01-03T06:00:00.000Z');
    await kill();
  });

  it('refuses, in one line and with exit code 1, a --clock that would move it backwards', async () => {
    const refused = await cli(['up', '--data', dir, '--port', '0', '--http', '--clock', '2026-01-02T00:00:00Z'], env);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /^error: The simulated clock of .* stands at 2026-01-03T06:00:00.000Z: --clock 2026-01-02T00:00:00.000Z is refused \(it only moves forward\)\.$/m,
    );
    assert.equal(
      JSON.parse(readFileSync(path.join(dir, 'clock.json'), 'utf8')).now,
      '2026-01-03T06:00:00.000Z',
      'the stored time is kept',
    );
  });

  it('moves it forward with a later --clock, doing the work due on the way', async () => {
    await up('--clock', '2026-01-05T00:00:00Z');
    assert.deepEqual(await clockOf(), { now: '2026-01-05T00:00:00.000Z', simulated: true });
    await kill();
  });

  it('refuses a move beyond ten years, by the API and by the CLI, and shows a long move in progress', async () => {
    const b = await up();
    const url = `${b.hub.arm}/providers/Stackledger.System/clock/advance?${API}`;
    const token = await cspToken(b);
    for (const [body, target] of [
      [{ to: '9999-12-31T00:00:00Z' }, 'to'],
      [{ to: '2036-01-05T00:00:01Z' }, 'to'],
      [{ duration: 'P10YT1H' }, 'duration'],
      [{ duration: 'P99999999999D' }, 'duration'],
    ] as const) {
      const res = await http.send('POST', url, { token, body });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'TimeBeyondHorizon');
      assert.equal(res.body.error.target, target);
      assert.match(
        res.body.error.message,
        /more than 10 years after the current simulated time 2026-01-05T00:00:00.000Z/,
      );
    }
    const back = await http.send('POST', url, { token, body: { to: '2026-01-04T00:00:00Z' } });
    assert.equal(back.status, 400);
    assert.equal(back.body.error.code, 'InvalidTime');
    const viaCli = await cli(['clock', 'advance', 'P11Y', '--data', dir]);
    assert.equal(viaCli.code, 1);
    assert.match(viaCli.stderr, /TimeBeyondHorizon: .* more than 10 years/);
    // Nothing moved.
    assert.deepEqual(await clockOf(), { now: '2026-01-05T00:00:00.000Z', simulated: true });

    // A long move shows its progress to whoever reads the clock meanwhile.
    const moving = http.send('POST', url, { token, body: { duration: 'P60D' } });
    let seen: UndeclaredJson;
    for (let i = 0; i < 600 && !seen?.advancing; i++) {
      seen = await http.call('GET', `${b.hub.arm}/providers/Stackledger.System/clock?${API}`, { token });
      if (!seen.advancing) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(seen.advancing, { from: '2026-01-05T00:00:00.000Z', to: '2026-03-06T00:00:00.000Z' });
    assert.ok(seen.now >= '2026-01-05T00:00:00.000Z' && seen.now <= '2026-03-06T00:00:00.000Z');
    assert.equal((await moving).status, 200);
    assert.deepEqual(await clockOf(), { now: '2026-03-06T00:00:00.000Z', simulated: true });
    await kill();
  });

  it('is learnt by a folder from before the durable clock on its next start with --clock', async () => {
    await rm(path.join(dir, 'clock.json'));
    await up('--clock', '2026-01-06T00:00:00Z');
    assert.equal(JSON.parse(readFileSync(path.join(dir, 'clock.json'), 'utf8')).now, '2026-01-06T00:00:00.000Z');
    assert.deepEqual(await clockOf(), { now: '2026-01-06T00:00:00.000Z', simulated: true });
    await kill();
  });
});
