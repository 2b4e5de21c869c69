// Quotas hold under concurrency: a plan allowing 10 VMs, 20 creates at the same moment, exactly 10
// VMs. Each write locks its subscription's row for the check and the insert.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { findSize } from '../src/stack/resources/catalog.ts';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody, vmUrl } from './helpers/stack.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

describe('quotas under concurrent creates', () => {
  let t: TestSystem;
  let tenant: { user: string; sub: string };

  before(async () => {
    t = await startTestSystem();
    const admin = t.b.stacks.local.adminArm;
    const operator = await t.appToken('operator', admin);
    const quota = `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Microsoft.Compute.Admin/locations/local/quotas/default?api-version=2018-02-09`;
    const set = await t.call('PUT', quota, {
      token: operator,
      body: { properties: { virtualMachineCount: 10, coresLimit: 100 } },
    });
    assert.equal(set.status < 300, true, JSON.stringify(set.body));
    tenant = await tenantSubscription(t, await customerWithSubscription(t, 'quota'), 'quota');
  });
  after(async () => t?.stop());

  it('creates exactly 10 of 20 VMs asked for at once, and refuses the rest with the quota error', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.call('PUT', vmUrl(t, tenant.sub, `vm${i}`), { token: tenant.user, body: vmBody('Standard_A1_v2') }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(
      statuses,
      [...Array(10).fill(201), ...Array(10).fill(409)],
      JSON.stringify(answers.filter((a) => a.status >= 500).map((a) => a.body)),
    );
    for (const refused of answers.filter((a) => a.status === 409))
      assert.equal(refused.body.error.code, 'OperationNotAllowed');
    const list = await t.call(
      'GET',
      `${t.b.stacks.local.tenantArm}/subscriptions/${tenant.sub}/providers/Microsoft.Compute/virtualMachines?api-version=2020-06-01`,
      { token: tenant.user },
    );
    assert.equal(list.body.value.length, 10);
  });

  it('answers the same create sent eight times at once as one after the other: one 201, then 200s', async () => {
    const url = vmUrl(t, tenant.sub, 'vm0');
    const deleted = await t.call('DELETE', url, { token: tenant.user });
    assert.ok(deleted.status < 300);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => t.call('PUT', url, { token: tenant.user, body: vmBody('Standard_A1_v2') })),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 200, 200, 201]);
  });

  it('keeps the counters quota checks read equal to a recount of the live VMs after a burst of creates, deletes and power actions', async () => {
    const url = (name: string) => vmUrl(t, tenant.sub, name);
    const action = (name: string, verb: string) => url(name).replace('?', `/${verb}?`);
    // Room for the burst: what is left of the ten, cores to spare.
    const burst = await Promise.all([
      ...['vm1', 'vm2', 'vm3'].map((n) => t.call('DELETE', url(n), { token: tenant.user })),
      ...['vm4', 'vm5'].map((n) => t.call('POST', action(n, 'deallocate'), { token: tenant.user })),
      t.call('POST', action('vm6', 'powerOff'), { token: tenant.user }),
      ...Array.from({ length: 6 }, (_, i) =>
        t.call('PUT', url(`burst${i}`), { token: tenant.user, body: vmBody('Standard_A2_v2') }),
      ),
      t.call('PUT', url('vm7'), { token: tenant.user, body: vmBody('Standard_A2_v2') }),
    ]);
    for (const a of burst) assert.ok(a.status < 500, JSON.stringify(a.body));
    const db = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await db.connect();
    try {
      const live = await db.query(
        `select properties from resources where subscription_id = $1 and type_key = 'microsoft.compute/virtualmachines' and deleted_at is null`,
        [tenant.sub],
      );
      const cores = live.rows
        .filter((r) => r.properties.powerState !== 'deallocated')
        .reduce((n, r) => n + findSize(r.properties.hardwareProfile.vmSize)!.numberOfCores, 0);
      const counters = await db.query(
        'select counter, amount::float8 as amount from resource_usage where subscription_id = $1',
        [tenant.sub],
      );
      const counted = Object.fromEntries(counters.rows.map((r) => [r.counter, r.amount]));
      assert.deepEqual(
        { virtualMachines: counted.virtualMachines, cores: counted.cores },
        { virtualMachines: live.rows.length, cores },
      );
      assert.ok(live.rows.length <= 10, 'the quota held');
    } finally {
      await db.end();
    }
  });

  it('holds the network quota under a burst of creates and deletes, its counters equal to a recount of the live resources', async () => {
    const admin = t.b.stacks.local.adminArm;
    const set = await t.call(
      'PUT',
      `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Microsoft.Network.Admin/locations/local/quotas/default?api-version=2015-06-15`,
      { token: await t.appToken('operator', admin), body: { properties: { maxSecurityGroupsPerSubscription: 5 } } },
    );
    assert.ok(set.status < 300, JSON.stringify(set.body));
    const nsg = (name: string) =>
      `${t.b.stacks.local.tenantArm}/subscriptions/${tenant.sub}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/${name}?api-version=2018-11-01`;
    const put = (name: string) => t.call('PUT', nsg(name), { token: tenant.user, body: { location: 'local' } });
    const first = await Promise.all(Array.from({ length: 10 }, (_, i) => put(`nsg${i}`)));
    assert.deepEqual(
      first.map((a) => a.status).sort(),
      [...Array(5).fill(201), ...Array(5).fill(409)],
      JSON.stringify(first.filter((a) => a.status >= 500).map((a) => a.body)),
    );
    const created = first.flatMap((a, i) => (a.status === 201 ? [`nsg${i}`] : []));
    // Deletes and creates at once: the creates see the room the deletes make, or not, but never more than five live.
    const burst = await Promise.all([
      ...created.slice(0, 3).map((n) => t.call('DELETE', nsg(n), { token: tenant.user })),
      ...Array.from({ length: 6 }, (_, i) => put(`again${i}`)),
    ]);
    for (const a of burst) assert.ok(a.status < 500 && a.status !== 400, JSON.stringify(a.body));
    const db = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await db.connect();
    try {
      const recount = await db.query<{ type_key: string; live: number }>(
        'select type_key, count(*)::int as live from network_resources where subscription_id = $1 and deleted_at is null group by 1 order by 1',
        [tenant.sub],
      );
      const counters = await db.query<{ type_key: string; live: number }>(
        'select type_key, live from network_usage where subscription_id = $1 and live <> 0 order by 1',
        [tenant.sub],
      );
      assert.deepEqual(counters.rows, recount.rows);
      const groups = recount.rows.find((r) => r.type_key === 'microsoft.network/networksecuritygroups');
      assert.ok(groups && groups.live <= 5 && groups.live >= 2, `the quota held: ${groups?.live}`);
    } finally {
      await db.end();
    }
  });
});
