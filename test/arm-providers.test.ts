// Resource Manager's generic APIs on the hub and the stack's endpoints: resource providers (list,
// show, register), the generic resource list with $filter and paging, and ARM's codes for what no
// route serves. Over HTTPS against the running system.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const V = 'api-version=2019-10-01';

describe("Resource Manager's generic APIs", () => {
  let t: TestSystem;
  let tenant: string;
  let user: string;
  let sub: string;
  before(async () => {
    t = await startTestSystem();
    tenant = t.b.stacks.local.tenantArm;
    ({ user, sub } = await tenantSubscription(t, await customerWithSubscription(t, 'generic'), 'generic'));
    const rg = `${tenant}/subscriptions/${sub}/resourceGroups/rg/providers`;
    const created = [
      await t.call('PUT', `${rg}/Microsoft.Network/publicIPAddresses/ip01?api-version=2018-11-01`, {
        token: user,
        body: { location: 'local', tags: { env: 'test' } },
      }),
      await t.call('PUT', `${rg}/Microsoft.Storage/storageAccounts/data01?api-version=2019-06-01`, {
        token: user,
        body: { location: 'local', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
      }),
      await t.call('PUT', `${tenant}/subscriptions/${sub}/resourceGroups/other?${V}`, {
        token: user,
        body: { location: 'local' },
      }),
      await t.call(
        'PUT',
        `${tenant}/subscriptions/${sub}/resourceGroups/other/providers/Microsoft.Network/publicIPAddresses/ip02?api-version=2018-11-01`,
        { token: user, body: { location: 'local' } },
      ),
    ];
    // The Storage RP answers a create with 200 (done), the others 201.
    for (const c of created) assert.ok([200, 201].includes(c.status), JSON.stringify(c.body));
  });
  after(() => t.stop());

  it("lists the tenant endpoint's providers from its routes, with types, api-versions, locations and registration state", async () => {
    const list = await t.call('GET', `${tenant}/subscriptions/${sub}/providers?${V}`, { token: user });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const namespaces = list.body.value.map((p: { namespace: unknown }) => p.namespace);
    for (const ns of [
      'Microsoft.Compute',
      'Microsoft.Storage',
      'Microsoft.Network',
      'Microsoft.Commerce',
      'Microsoft.Authorization',
      'Microsoft.Resources',
      'Microsoft.Subscriptions',
    ]) {
      assert.ok(namespaces.includes(ns), ns);
    }
    const subscriptions = list.body.value.find(
      (p: { namespace: unknown }) => p.namespace === 'Microsoft.Subscriptions',
    );
    assert.deepEqual(
      subscriptions.resourceTypes.map((r: { resourceType: unknown }) => r.resourceType),
      ['delegatedProviders/offers', 'offers', 'subscriptions'],
    );
    assert.ok(
      !namespaces.some((n: string) => n.endsWith('.Admin')),
      "the operator's providers are the admin endpoint's",
    );
    const compute = await t.call('GET', `${tenant}/subscriptions/${sub}/providers/microsoft.compute?${V}`, {
      token: user,
    });
    assert.equal(compute.body.namespace, 'Microsoft.Compute');
    assert.equal(compute.body.registrationState, 'Registered');
    assert.equal(compute.body.id, `/subscriptions/${sub}/providers/Microsoft.Compute`);
    const vms = compute.body.resourceTypes.find((r: { resourceType: unknown }) => r.resourceType === 'virtualMachines');
    assert.deepEqual(vms.locations, ['local']);
    assert.equal(vms.apiVersions[0], '2020-06-01', 'newest first');
    assert.ok(vms.apiVersions.includes('2017-03-30'));

    const registered = await t.call(
      'POST',
      `${tenant}/subscriptions/${sub}/providers/Microsoft.Compute/register?${V}`,
      { token: user },
    );
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    assert.equal(registered.body.registrationState, 'Registered');
    const unknown = await t.call('GET', `${tenant}/subscriptions/${sub}/providers/Microsoft.Nothing?${V}`, {
      token: user,
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'InvalidResourceNamespace');
  });

  it("lists the hub's and the admin endpoint's own providers", async () => {
    const hub = await t.call(
      'GET',
      `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/providers?${V}`,
      { token: await t.appToken('csp', t.b.hub.arm) },
    );
    const hubNamespaces = hub.body.value.map((p: { namespace: unknown }) => p.namespace);
    for (const ns of [
      'Microsoft.AzureStack',
      'Microsoft.Commerce',
      'Microsoft.Authorization',
      'Microsoft.Resources',
      'Stackledger.System',
    ])
      assert.ok(hubNamespaces.includes(ns), ns);
    assert.ok(!hubNamespaces.includes('Microsoft.Compute'));
    const admin = t.b.stacks.local.adminArm;
    const list = await t.call(
      'GET',
      `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers?${V}`,
      { token: await t.appToken('operator', admin) },
    );
    const adminNamespaces = list.body.value.map((p: { namespace: unknown }) => p.namespace);
    for (const ns of ['Microsoft.Compute.Admin', 'Microsoft.Subscriptions.Admin'])
      assert.ok(adminNamespaces.includes(ns), ns);
  });

  it('lists resources of a subscription and of a group, filtered by type, name or location, page by page', async () => {
    const all = await t.call('GET', `${tenant}/subscriptions/${sub}/resources?${V}`, { token: user });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(
      new Set(all.body.value.map((r: { name: unknown }) => r.name)),
      new Set(['ip01', 'ip02', 'data01']),
    );
    const ip = all.body.value.find((r: { name: unknown }) => r.name === 'ip01');
    assert.deepEqual(ip, {
      id: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip01`,
      name: 'ip01',
      type: 'Microsoft.Network/publicIPAddresses',
      location: 'local',
      tags: { env: 'test' },
      sku: { name: 'Basic' },
    });
    const filtered = await t.call(
      'GET',
      `${tenant}/subscriptions/${sub}/resources?${V}&$filter=${encodeURIComponent("resourceType eq 'microsoft.network/publicIPAddresses'")}`,
      { token: user },
    );
    assert.deepEqual(filtered.body.value.map((r: { name: unknown }) => r.name).sort(), ['ip01', 'ip02']);
    const byName = await t.call(
      'GET',
      `${tenant}/subscriptions/${sub}/resources?${V}&$filter=${encodeURIComponent("name eq 'DATA01' and location eq 'local'")}`,
      { token: user },
    );
    assert.deepEqual(
      byName.body.value.map((r: { name: unknown }) => r.name),
      ['data01'],
    );
    const inGroup = await t.call(
      'GET',
      `${tenant}/subscriptions/${sub}/resources?${V}&$filter=${encodeURIComponent("resourceGroup eq 'OTHER' and resourceType eq 'Microsoft.Network/publicIPAddresses'")}`,
      { token: user },
    );
    assert.deepEqual(
      inGroup.body.value.map((r: { name: unknown }) => r.name),
      ['ip02'],
      "the Azure CLI's `resource list -g G --resource-type T`",
    );
    const group = await t.call('GET', `${tenant}/subscriptions/${sub}/resourceGroups/rg/resources?${V}`, {
      token: user,
    });
    assert.deepEqual(group.body.value.map((r: { name: unknown }) => r.name).sort(), ['data01', 'ip01']);

    const first = await t.call('GET', `${tenant}/subscriptions/${sub}/resources?${V}&$top=2`, { token: user });
    assert.equal(first.body.value.length, 2);
    const second = await t.call('GET', first.body.nextLink, { token: user });
    assert.equal(second.body.value.length, 1);
    assert.equal(second.body.nextLink, undefined);
    assert.deepEqual(
      new Set([...first.body.value, ...second.body.value].map((r: { name: unknown }) => r.name)),
      new Set(['ip01', 'ip02', 'data01']),
    );

    const registrations = await t.call(
      'GET',
      `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resources?${V}`,
      { token: await t.appToken('csp', t.b.hub.arm) },
    );
    assert.deepEqual(
      registrations.body.value.map((r: { type: unknown }) => r.type),
      ['Microsoft.AzureStack/registrations'],
    );
  });

  it('refuses a filter it does not understand, an unknown group, and an outsider, changing nothing', async () => {
    const bad = await t.call(
      'GET',
      `${tenant}/subscriptions/${sub}/resources?${V}&$filter=${encodeURIComponent("tagName eq 'env'")}`,
      { token: user },
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'InvalidFilterInQueryString');
    const noGroup = await t.call('GET', `${tenant}/subscriptions/${sub}/resourceGroups/none/resources?${V}`, {
      token: user,
    });
    assert.equal(noGroup.status, 404);
    assert.equal(noGroup.body.error.code, 'ResourceGroupNotFound');
    const outsider = await t.userToken(
      t.b.operator.tenantId,
      t.b.operator.admin.userName,
      t.b.operator.admin.password,
      tenant,
    );
    for (const [method, path] of [
      ['GET', `/subscriptions/${sub}/resources`],
      ['GET', `/subscriptions/${sub}/providers`],
      ['POST', `/subscriptions/${sub}/providers/Microsoft.Compute/register`],
    ]) {
      const res = await t.call(method, `${tenant}${path}?${V}`, { token: outsider });
      assert.equal(res.status, 403, `${method} ${path}`);
    }
  });

  it("answers ARM's codes for a type no route serves and for an api-version a provider's type does not take", async () => {
    const base = `${tenant}/subscriptions/${sub}/resourceGroups/rg/providers`;
    const type = await t.call('GET', `${base}/Microsoft.Compute/virtualThings/x?api-version=2020-06-01`, {
      token: user,
    });
    assert.equal(type.status, 404);
    assert.equal(type.body.error.code, 'InvalidResourceType');
    assert.match(type.body.error.message, /virtualMachines/);
    const version = await t.call('GET', `${base}/Microsoft.Compute/virtualMachines?api-version=2099-01-01`, {
      token: user,
    });
    assert.equal(version.status, 400);
    assert.equal(version.body.error.code, 'NoRegisteredProviderFound');
    assert.match(version.body.error.message, /2020-06-01/);
  });
});
