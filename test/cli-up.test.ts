// `stackledger up` as a newcomer runs it: the real command in its own process, on the embedded
// PostgreSQL in the data folder, then on a PostgreSQL server, over HTTPS and plain HTTP.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { HttpClient } from '../src/core/http-client.ts';
import { newGuid } from '../src/core/ids.ts';
import { restartablePort } from './helpers/ports.ts';
import { withDatabase } from '../src/db/database.ts';
import { cli, operatorEnv, stackProcessArgs, startBackground } from './helpers/cli.ts';
import { dropDatabases, testServerUrl, type TestBootstrap } from './helpers/system.ts';

const READY = /Stop with Ctrl\+C/;

async function clientToken(http: HttpClient, b: TestBootstrap, resource: string): Promise<string> {
  const res = await http.call('POST', `${b.hub.login}/${b.csp.tenantId}/oauth2/token`, {
    form: { grant_type: 'client_credentials', client_id: b.csp.clientId, client_secret: b.csp.clientSecret, resource },
  });
  return res.access_token;
}

describe('stackledger up', () => {
  const dirs: string[] = [];
  const prefixes: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    for (const p of prefixes) await dropDatabases(p);
  });
  const newDir = async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'stackledger-up-'));
    dirs.push(d);
    return d;
  };

  it('starts on the embedded database, writes bootstrap.json, keeps data, keys and credentials across restarts and a kill', async () => {
    const dir = path.join(await newDir(), 'data');
    const port = await restartablePort();
    const first = await startBackground(['up', '--data', dir, '--port', String(port)], READY);
    const bootstrapFile = path.join(dir, 'bootstrap.json');
    const b = JSON.parse(readFileSync(bootstrapFile, 'utf8'));
    assert.equal(b.caFile, path.join(dir, 'ca.pem'));
    assert.equal(b.hub.arm, `https://127.0.0.1:${port}`);
    for (const k of ['arm', 'login', 'partnerCenter', 'graph', 'portal'])
      assert.match(b.hub[k], /^https:\/\/127\.0\.0\.1:\d+/, k);
    for (const k of ['adminArm', 'tenantArm']) assert.match(b.stacks.local[k], /^https:\/\/127\.0\.0\.1:\d+$/, k);
    for (const who of ['csp', 'operator'])
      for (const k of ['tenantId', 'clientId', 'clientSecret']) assert.ok(b[who][k], `${who}.${k}`);
    assert.ok(existsSync(path.join(dir, 'pg', 'PG_VERSION')), 'the embedded cluster lives in DIR/pg');
    assert.match(first.output(), new RegExp(b.hub.login.replaceAll('.', '\\.')));

    const http = new HttpClient(readFileSync(b.caFile, 'utf8'));
    try {
      const hubToken = await clientToken(http, b, b.hub.arm);
      const stackToken = await clientToken(http, b, b.stacks.local.tenantArm);
      assert.equal(
        (await http.send('GET', `${b.hub.arm}/subscriptions?api-version=2022-12-01`, { token: hubToken })).status,
        200,
      );
      assert.equal(
        (
          await http.send('GET', `${b.stacks.local.tenantArm}/subscriptions?api-version=2022-12-01`, {
            token: stackToken,
          })
        ).status,
        200,
      );
      assert.equal((await http.send('GET', `${b.hub.arm}/subscriptions?api-version=2022-12-01`)).status, 401);
      const rg = await http.send(
        'PUT',
        `${b.hub.arm}/subscriptions/${b.csp.registrationSubscriptionId}/resourcegroups/kept?api-version=2021-04-01`,
        {
          token: hubToken,
          body: { location: 'global' },
        },
      );
      assert.equal(rg.status, 201);

      // A graceful stop on SIGTERM.
      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 0);
      assert.equal(existsSync(path.join(dir, 'pg', 'postmaster.pid')), false, 'the embedded server stopped with it');

      // The same folder again: same credentials, same data; a token issued before still verifies.
      const second = await startBackground(['up', '--data', dir, '--port', String(port)], READY);
      const b2 = JSON.parse(readFileSync(bootstrapFile, 'utf8'));
      assert.deepEqual(b2.csp, b.csp);
      assert.deepEqual(b2.operator, b.operator);
      assert.equal(b2.stacks.local.providerSubscriptionId, b.stacks.local.providerSubscriptionId);
      const kept = await http.send(
        'GET',
        `${b.hub.arm}/subscriptions/${b.csp.registrationSubscriptionId}/resourcegroups/kept?api-version=2021-04-01`,
        { token: hubToken },
      );
      assert.equal(kept.status, 200, 'data and signing keys survived the restart');

      // Killed without a chance to clean up, it still starts again on the same folder.
      second.child.kill('SIGKILL');
      await second.exited;
      const third = await startBackground(['up', '--data', dir, '--port', String(port)], READY);
      assert.equal(
        (
          await http.send(
            'GET',
            `${b.hub.arm}/subscriptions/${b.csp.registrationSubscriptionId}/resourcegroups/kept?api-version=2021-04-01`,
            { token: hubToken },
          )
        ).status,
        200,
      );
      third.child.kill('SIGINT');
      assert.equal(await third.exited, 0);
    } finally {
      await http.close();
    }
  });

  it('runs on a PostgreSQL server with --database, over plain HTTP with --http, on a simulated clock, naming the Azure AD-style authority with --identity aad', async () => {
    const dir = await newDir();
    const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
    prefixes.push(prefix);
    const running = await startBackground(
      ['up', '--data', dir, '--port', '0', '--http', '--clock', '2026-01-01T00:00:00Z', '--identity', 'aad'],
      READY,
      {
        DATABASE_URL: withDatabase(testServerUrl(), prefix),
      },
    );
    try {
      const b = JSON.parse(readFileSync(path.join(dir, 'bootstrap.json'), 'utf8'));
      assert.equal(b.caFile, undefined);
      assert.match(b.hub.arm, /^http:\/\//);
      assert.equal(existsSync(path.join(dir, 'pg')), false, 'no embedded cluster when a server is given');
      for (const endpoint of [b.hub.arm, b.stacks.local.tenantArm]) {
        const metadata = await new HttpClient().call('GET', `${endpoint}/metadata/endpoints?api-version=2015-01-01`);
        assert.equal(metadata.authentication.loginEndpoint, b.hub.login, '--identity aad');
      }
      assert.equal(b.hub.adfs, `${b.hub.arm}/adfs`, 'the AD FS-style authority serves all the same');

      const show = await cli(['clock', 'show', '--data', dir, '--json']);
      assert.equal(show.code, 0, show.stderr);
      assert.deepEqual(JSON.parse(show.stdout), { now: '2026-01-01T00:00:00.000Z', simulated: true });
      const advance = await cli(['clock', 'advance', 'P1DT3H', '--data', dir]);
      assert.equal(advance.code, 0, advance.stderr);
      assert.match(advance.stdout, /2026-01-01T00:00:00.000Z -> 2026-01-02T03:00:00.000Z/);
      const bad = await cli(['clock', 'advance', 'three hours', '--data', dir]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /ISO 8601 duration/);
      const created = await new HttpClient().send(
        'PUT',
        `${b.hub.arm}/subscriptions/${b.csp.registrationSubscriptionId}/resourcegroups/x?api-version=2021-04-01`,
        {
          token: await clientToken(new HttpClient(), b, b.hub.arm),
          body: { location: 'global' },
        },
      );
      assert.equal(created.status, 201);
    } finally {
      running.child.kill('SIGTERM');
      assert.equal(await running.exited, 0);
    }
    const stopped = await cli(['clock', 'show', '--data', dir]);
    assert.notEqual(stopped.code, 0);
    assert.match(stopped.stderr, /does not answer/);
  });

  it('says what is wrong when no system runs in the folder, and when the clock is real', async () => {
    const dir = await newDir();
    const none = await cli(['clock', 'advance', 'PT1H', '--data', path.join(dir, 'nothing')]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /bootstrap\.json is missing/);

    const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
    prefixes.push(prefix);
    const running = await startBackground(
      ['up', '--data', dir, '--port', '0', '--database', withDatabase(testServerUrl(), prefix)],
      READY,
    );
    try {
      const res = await cli(['clock', 'advance', 'PT1H', '--data', dir]);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /ClockNotSimulated/);
      const help = await cli(['up', '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /--clock <time>/);
    } finally {
      running.child.kill('SIGTERM');
      await running.exited;
    }
  });

  it('runs the hub and a stack as two processes that meet over HTTPS', async () => {
    const hubDir = await newDir();
    const stackDir = await newDir();
    const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
    prefixes.push(prefix);
    const database = withDatabase(testServerUrl(), prefix);
    const hub = await startBackground(['hub', '--data', hubDir, '--port', '0', '--database', database], READY);
    let stack: Awaited<ReturnType<typeof startBackground>> | undefined;
    try {
      const hb = JSON.parse(readFileSync(path.join(hubDir, 'bootstrap.json'), 'utf8'));
      assert.deepEqual(hb.stacks, {});
      const stackArgs = stackProcessArgs(hb, { data: stackDir, database, name: 'east' });
      const env = operatorEnv(hb);
      stack = await startBackground(stackArgs, READY, env);
      const sb = JSON.parse(readFileSync(path.join(stackDir, 'bootstrap.json'), 'utf8'));
      const east = sb.stacks.east;
      assert.equal(east.location, 'east');
      assert.equal(sb.hub.login, hb.hub.login);
      assert.equal(sb.hub.adfs, hb.hub.adfs);
      const http = new HttpClient([readFileSync(hb.caFile, 'utf8'), readFileSync(sb.caFile, 'utf8')].join('\n'));
      try {
        const metadata = await http.call('GET', `${east.tenantArm}/metadata/endpoints?api-version=2015-01-01`);
        assert.equal(
          metadata.authentication.loginEndpoint,
          hb.hub.adfs,
          "the stack names the authority the hub's metadata names",
        );
        // The operator's token for the stack's audience (registered by the stack through the hub) is accepted there.
        const token = (
          await http.call('POST', `${hb.hub.login}/${hb.operator.tenantId}/oauth2/token`, {
            form: {
              grant_type: 'client_credentials',
              client_id: hb.operator.clientId,
              client_secret: hb.operator.clientSecret,
              resource: east.adminArm,
            },
          })
        ).access_token;
        const sub = await http.send(
          'GET',
          `${east.adminArm}/subscriptions/${east.providerSubscriptionId}/resourcegroups?api-version=2019-10-01`,
          { token },
        );
        assert.equal(sub.status, 200, JSON.stringify(sub.body));
        assert.deepEqual(
          sub.body.value.map((g: { name: unknown }) => g.name),
          ['plans', 'system.east'],
        );
        const adminToken = (
          await http.call('POST', `${hb.hub.login}/${hb.operator.tenantId}/oauth2/token`, {
            form: {
              grant_type: 'password',
              client_id: '1950a258-227b-4e31-a9cf-717495945fc2',
              username: hb.operator.admin.userName,
              password: hb.operator.admin.password,
              resource: east.tenantArm,
            },
          })
        ).access_token;
        const subs = await http.send('GET', `${east.tenantArm}/subscriptions?api-version=2022-12-01`, {
          token: adminToken,
        });
        assert.deepEqual(
          subs.body.value.map((s: { subscriptionId: unknown }) => s.subscriptionId),
          [east.providerSubscriptionId],
          'the operator admin owns it too',
        );
        // The operator and the CSP register the deployment in the cloud.
        const registerEast = (more: string[]) =>
          cli(['stack', 'register', '--data', stackDir, '--stack', 'east', '--hub-data', hubDir, ...more]);
        const registered = await registerEast(['--approve', '--json']);
        assert.equal(registered.code, 0, registered.stderr);
        const reg = JSON.parse(registered.stdout);
        assert.equal(reg.name, 'stack-east');
        assert.equal(reg.properties.cloudId, east.cloudId);
        assert.equal(reg.properties.billingModel, 'PayAsYouUse');
        const cspToken = (
          await http.call('POST', `${hb.hub.login}/${hb.csp.tenantId}/oauth2/token`, {
            form: {
              grant_type: 'client_credentials',
              client_id: hb.csp.clientId,
              client_secret: hb.csp.clientSecret,
              resource: hb.hub.arm,
            },
          })
        ).access_token;
        const onHub = await http.send('GET', `${hb.hub.arm}${reg.id}?api-version=2017-06-01`, { token: cspToken });
        assert.equal(onHub.status, 200);
        assert.equal(onHub.body.properties.cloudId, east.cloudId);
        const again = await registerEast(['--json']);
        assert.equal(again.code, 0, again.stderr);
        assert.equal(JSON.parse(again.stdout).etag, onHub.body.etag, 'registering again changes nothing');
        const bogus = await registerEast(['--billing-model', 'Bogus']);
        assert.equal(bogus.code, 1);
        assert.match(bogus.stderr, /InvalidBillingModel/);
        // Restarted on new ports, the stack keeps its application and points it at its new URLs.
        stack.child.kill('SIGTERM');
        assert.equal(await stack.exited, 0);
        stack = await startBackground(stackArgs, READY, env);
        const sb2 = JSON.parse(readFileSync(path.join(stackDir, 'bootstrap.json'), 'utf8'));
        assert.equal(sb2.stacks.east.applicationId, east.applicationId);
        assert.equal(sb2.stacks.east.providerSubscriptionId, east.providerSubscriptionId);
        const token2 = (
          await http.call('POST', `${hb.hub.login}/${hb.operator.tenantId}/oauth2/token`, {
            form: {
              grant_type: 'client_credentials',
              client_id: hb.operator.clientId,
              client_secret: hb.operator.clientSecret,
              resource: sb2.stacks.east.adminArm,
            },
          })
        ).access_token;
        assert.equal(
          (
            await http.send('GET', `${sb2.stacks.east.adminArm}/subscriptions?api-version=2022-12-01`, {
              token: token2,
            })
          ).status,
          200,
        );
      } finally {
        await http.close();
      }
      const refused = await cli(
        [
          'stack',
          '--data',
          await newDir(),
          '--port',
          '0',
          '--database',
          database,
          '--hub',
          hb.hub.arm,
          '--hub-ca',
          hb.caFile,
        ],
        operatorEnv(hb, 'wrong'),
      );
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /invalid_client|7000215/);
    } finally {
      stack?.child.kill('SIGTERM');
      await stack?.exited;
      hub.child.kill('SIGTERM');
      assert.equal(await hub.exited, 0);
    }
  });
});
