// Quotas hold under concurrency: a plan allowing 10 VMs, 20 creates at the same moment, exactly 10
// VMs. Each write locks its subscription's row for the check and the insert.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody, vmUrl } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

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
});
