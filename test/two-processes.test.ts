// The seed's scenario end to end, with the hub and two deployments as separate processes that meet
// only over HTTPS: customer A is registered on deployment `east` only, B on both, C on none. After
// a simulated week each customer subscription holds exactly its own tenant's usage per deployment,
// C's usage is on the registration subscription, and the totals match the stacks' meters.
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
import { withDatabase } from '../src/db/database.ts';
import { cli, operatorEnv, stackProcessArgs, startBackground, type Background } from './helpers/cli.ts';
import { AZURE_POWERSHELL, dropDatabases, testServerUrl, type TestBootstrap } from './helpers/system.ts';

const READY = /Stop with Ctrl\+C/;
const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const T0 = '2026-08-03T00:00:00Z';

describe('hub and two stacks as separate processes', () => {
  const dirs: Record<string, string> = {};
  const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
  const processes: Background[] = [];
  let hb: TestBootstrap;
  const stacks: Record<string, TestBootstrap> = {};
  let http: HttpClient;
  const customers: Record<string, { id: string; sub: string; admin: { userName: string; password: string } }> = {};

  const token = async (tenant: string, form: Record<string, string>) =>
    (await http.call('POST', `${hb.hub.login}/${tenant}/oauth2/token`, { form })).access_token as string;
  const app = (who: { tenantId: string; clientId: string; clientSecret: string }, resource: string) =>
    token(who.tenantId, {
      grant_type: 'client_credentials',
      client_id: who.clientId,
      client_secret: who.clientSecret,
      resource,
    });
  const user = (tenant: string, u: { userName: string; password: string }, resource: string) =>
    token(tenant, {
      grant_type: 'password',
      client_id: AZURE_POWERSHELL,
      username: u.userName,
      password: u.password,
      resource,
    });

  before(async () => {
    for (const k of ['hub', 'east', 'west']) dirs[k] = await mkdtemp(path.join(tmpdir(), `stackledger-2p-${k}-`));
    const database = withDatabase(testServerUrl(), prefix);
    const hub = await startBackground(
      ['hub', '--data', dirs.hub, '--port', '0', '--database', database, '--clock', T0],
      READY,
    );
    processes.push(hub);
    hb = JSON.parse(readFileSync(path.join(dirs.hub, 'bootstrap.json'), 'utf8'));
    for (const name of ['east', 'west']) {
      const p = await startBackground(
        stackProcessArgs(hb, { data: dirs[name], database, name, clock: T0 }),
        READY,
        operatorEnv(hb),
      );
      processes.push(p);
      stacks[name] = JSON.parse(readFileSync(path.join(dirs[name], 'bootstrap.json'), 'utf8'));
      const registered = await cli([
        'stack',
        'register',
        '--data',
        dirs[name],
        '--stack',
        name,
        '--hub-data',
        dirs.hub,
        '--approve',
      ]);
      assert.equal(registered.code, 0, registered.stderr);
    }
    http = new HttpClient(
      [hb.caFile, stacks.east.caFile, stacks.west.caFile].map((f) => readFileSync(f, 'utf8')).join('\n'),
    );

    // Three customers, each with a CSP subscription.
    const pc = hb.hub.partnerCenter;
    const pcToken = await app(hb.csp, pc);
    for (const name of ['a', 'b', 'c']) {
      const customer = await http.call('POST', `${pc}/v1/customers`, {
        token: pcToken,
        body: { companyProfile: { domain: `twop-${name}`, companyName: name.toUpperCase() } },
      });
      const order = await http.call('POST', `${pc}/v1/customers/${customer.id}/orders`, {
        token: pcToken,
        body: { lineItems: [{ offerId: 'MS-AZR-0145P' }] },
      });
      customers[name] = { id: customer.id, sub: order.lineItems[0].subscriptionId, admin: customer.userCredentials };
    }
    // Registrations: A on east, B on east and west, C nowhere.
    const cspArm = await app(hb.csp, hb.hub.arm);
    for (const [name, on] of [
      ['a', ['east']],
      ['b', ['east', 'west']],
    ] as const) {
      for (const stack of on) {
        const url = `${hb.hub.arm}/subscriptions/${hb.csp.registrationSubscriptionId}/resourceGroups/${hb.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/stack-${stack}/customerSubscriptions/${customers[name].sub}?api-version=2017-06-01`;
        await http.call('PUT', url, { token: cspArm, body: { properties: {} } });
      }
    }
    // Each tenant uses the deployments it is on (C uses east): onboarding, consent, an offer, a VM.
    const uses: Record<string, string[]> = { a: ['east'], b: ['east', 'west'], c: ['east'] };
    for (const [name, on] of Object.entries(uses)) {
      const c = customers[name];
      const graph = await user(c.id, c.admin, hb.hub.graph);
      for (const stack of on) {
        const s = stacks[stack].stacks[stack];
        const operator = await app(hb.operator, s.adminArm);
        await http.call(
          'PUT',
          `${s.adminArm}/subscriptions/${s.providerSubscriptionId}/resourcegroups/system.${stack}/providers/Microsoft.Subscriptions.Admin/directoryTenants/${c.id}?api-version=2015-11-01`,
          { token: operator, body: { properties: {} } },
        );
        await http.call('POST', `${hb.hub.graph}/v1.0/servicePrincipals`, {
          token: graph,
          body: { appId: s.applicationId },
        });
        const tenantToken = await user(c.id, c.admin, s.tenantArm);
        const sub = randomUUID();
        await http.call('PUT', `${s.tenantArm}/subscriptions/${sub}?api-version=2015-11-01`, {
          token: tenantToken,
          body: { displayName: name, offerId: '/delegatedProviders/default/offers/base-offer' },
        });
        await http.call('PUT', `${s.tenantArm}/subscriptions/${sub}/resourcegroups/rg?api-version=2019-10-01`, {
          token: tenantToken,
          body: { location: stack },
        });
        await http.call(
          'PUT',
          `${s.tenantArm}/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm?api-version=2020-06-01`,
          {
            token: tenantToken,
            body: {
              location: stack,
              properties: {
                hardwareProfile: { vmSize: name === 'b' ? 'Standard_D2_v2' : 'Standard_A1_v2' },
                storageProfile: {
                  imageReference: {
                    publisher: 'Canonical',
                    offer: 'UbuntuServer',
                    sku: '18.04-LTS',
                    version: 'latest',
                  },
                },
                osProfile: { computerName: 'vm', adminUsername: 'u', adminPassword: 'P@ssw0rd-1234!' },
              },
            },
          },
        );
      }
    }
    // A simulated week: the hub's clock first, so that what it receives is received at or after its hour.
    await http.call('POST', `${hb.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
      token: cspArm,
      body: { duration: 'P7D' },
    });
    for (const stack of ['east', 'west']) {
      const s = stacks[stack].stacks[stack];
      await http.call('POST', `${s.adminArm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
        token: await app(hb.operator, s.adminArm),
        body: { duration: 'P7D' },
      });
    }
    // One more day on the hub, so that what it received at the end of the week is in a closed day.
    await http.call('POST', `${hb.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
      token: cspArm,
      body: { duration: 'P1D' },
    });
  });

  after(async () => {
    await http?.close();
    for (const p of processes.reverse()) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    for (const d of Object.values(dirs)) await rm(d, { recursive: true, force: true });
    await dropDatabases(prefix);
  });

  const billed = async (subscriptionId: string) => {
    const res = await http.call(
      'GET',
      `${hb.hub.arm}/subscriptions/${subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-08-03T00:00:00Z&reportedEndTime=2026-08-11T00:00:00Z&aggregationGranularity=Daily&showDetails=true`,
      { token: await app(hb.csp, hb.hub.arm) },
    );
    const perDeployment: Record<string, number> = {};
    for (const r of res.value.filter((x: { properties: { meterId: unknown } }) => x.properties.meterId === BASE)) {
      const location = JSON.parse(r.properties.instanceData)['Microsoft.Resources'].location;
      perDeployment[location] = (perDeployment[location] ?? 0) + r.properties.quantity;
    }
    return perDeployment;
  };

  it("bills each customer subscription exactly its own tenant's usage per deployment, and C's to the registration subscription", async () => {
    const week = 7 * 24;
    assert.deepEqual(await billed(customers.a.sub), { east: 1 * week });
    assert.deepEqual(await billed(customers.b.sub), { east: 2 * week, west: 2 * week });
    assert.deepEqual(await billed(customers.c.sub), {});
    assert.deepEqual(await billed(hb.csp.registrationSubscriptionId), { east: 1 * week });
  });

  it("matches the stacks' meters to the last decimal, and the ledger verifies", async () => {
    let stackTotal = 0;
    for (const name of ['east', 'west']) {
      const stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${prefix}_stack_${name}`) });
      await stackDb.connect();
      try {
        const r = await stackDb.query(
          'select coalesce(sum(quantity), 0)::text as q, count(*) filter (where delivered_at is null)::int as pending from usage_records',
        );
        assert.equal(r.rows[0].pending, 0, `${name}: everything delivered`);
        stackTotal += Number(r.rows[0].q);
      } finally {
        await stackDb.end();
      }
    }
    const verify = await cli(['usage', 'verify', '--data', dirs.hub, '--json']);
    assert.equal(verify.code, 0, verify.stderr);
    const ledger = JSON.parse(verify.stdout);
    assert.equal(ledger.balanced, true);
    assert.equal(Number(ledger.received), stackTotal);
  });
});
