// The official commerce clients read a tenant's usage from the stack unchanged: @azure/arm-commerce
// over HTTP, and the 2020-09-01-hybrid profile client over HTTPS following nextLink by itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { customerWithSubscription } from './helpers/partner.ts';
import { onboardCustomer } from './helpers/stack.ts';
import { AZURE_POWERSHELL, startTestSystem, type TestSystem } from './helpers/system.ts';
import { REPO } from './helpers/repo.ts';

const run = promisify(execFile);

/** A tenant with a VM and `ips` public IPs, and a day of closed hours. */
async function tenantWithUsage(t: TestSystem, ips: number) {
  const { tenantArm: tenant, adminArm: admin } = t.b.stacks.local;
  await t.http.call(
    'PUT',
    `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Microsoft.Network.Admin/locations/local/quotas/default?api-version=2015-06-15`,
    {
      token: await t.appToken('operator', admin),
      body: { properties: { maxPublicIpsPerSubscription: ips + 5 } },
    },
  );
  const c = await customerWithSubscription(t, 'sdkusage');
  await onboardCustomer(t, c);
  const user = await t.userToken(c.customerId, c.admin.userName, c.admin.password, tenant);
  const sub = randomUUID();
  await t.http.call('PUT', `${tenant}/subscriptions/${sub}?api-version=2015-11-01`, {
    token: user,
    body: { displayName: 'sdk', offerId: '/delegatedProviders/default/offers/base-offer' },
  });
  await t.http.call('PUT', `${tenant}/subscriptions/${sub}/resourcegroups/rg?api-version=2019-10-01`, {
    token: user,
    body: { location: 'local' },
  });
  for (let i = 0; i < ips; i++) {
    await t.http.call(
      'PUT',
      `${tenant}/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip${i}?api-version=2018-11-01`,
      { token: user, body: { location: 'local' } },
    );
  }
  await t.http.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
    token: await t.appToken('csp', t.b.hub.arm),
    body: { duration: 'P1D' },
  });
  return { c, sub };
}

async function runClient(t: TestSystem, which: 'track1' | 'hybrid', data: Awaited<ReturnType<typeof tenantWithUsage>>) {
  const input = {
    which,
    endpoint: t.b.stacks.local.tenantArm,
    subscriptionId: data.sub,
    tokenUrl: `${t.b.hub.login}/${data.c.customerId}/oauth2/token`,
    form: {
      grant_type: 'password',
      client_id: AZURE_POWERSHELL,
      username: data.c.admin.userName,
      password: data.c.admin.password,
      resource: t.b.stacks.local.tenantArm,
    },
    start: '2026-06-01T00:00:00Z',
    end: '2026-06-02T00:00:00Z',
  };
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', path.join(REPO, 'test', 'sdk', 'commerce.ts'), JSON.stringify(input)],
    {
      env: { ...process.env, ...(t.b.caFile ? { NODE_EXTRA_CA_CERTS: t.b.caFile } : {}) },
      timeout: 120_000,
    },
  );
  return JSON.parse(stdout) as {
    pages: number;
    count: number;
    seen: Array<{ meterId: string; quantity: number; start: string }>;
  };
}

describe('official commerce clients against the stack', () => {
  const systems: TestSystem[] = [];
  after(async () => {
    for (const s of systems) await s.stop();
  });

  it('@azure/arm-commerce usageAggregates.list over plain HTTP', async () => {
    const t = await startTestSystem({ http: true, clock: new Date('2026-06-01T00:00:00Z') });
    systems.push(t);
    assert.match(t.b.stacks.local.tenantArm, /^http:/);
    const data = await tenantWithUsage(t, 2);
    const seen = await runClient(t, 'track1', data);
    // Two dynamic IPs, hours 00-22 of June 1 reported on June 1.
    assert.equal(seen.count, 2 * 23);
    assert.ok(seen.seen.every((u) => u.meterId === '9e2739ba-8674-4796-b465-f64674b822ba' && u.quantity === 1));
  });

  it('the 2020-09-01-hybrid commerce client over HTTPS, following nextLink by itself', async () => {
    const t = await startTestSystem({ clock: new Date('2026-06-01T00:00:00Z') });
    systems.push(t);
    const data = await tenantWithUsage(t, 45);
    const seen = await runClient(t, 'hybrid', data);
    assert.equal(seen.count, 45 * 23);
    assert.equal(seen.pages, 2, 'more than 1,000 aggregates come in two pages');
    assert.equal(new Set(seen.seen.map((u) => `${u.start} ${u.quantity}`)).size, 23);
  });
});
