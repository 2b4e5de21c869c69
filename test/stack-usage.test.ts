// The stack's usage APIs: the tenant's (one subscription) and the provider's (every subscriber),
// by reported time, hourly and daily, with the spec's errors and paging.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const WINDOWS = '9cd92d4c-bafd-4492-b278-bedc2de8232a';
const API = 'api-version=2015-06-01-preview';

// Written from specification/commerce/resource-manager/Microsoft.Commerce/preview/2015-06-01-preview/commerce.json
// (UsageAggregationListResult, UsageAggregation, UsageSample) and the admin spec's UsageAggregatePage.
const UsageAggregationList = {
  type: 'object',
  required: ['value'],
  properties: {
    nextLink: { type: 'string' },
    value: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name', 'type', 'properties'],
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          type: { type: 'string' },
          properties: {
            type: 'object',
            required: ['subscriptionId', 'meterId', 'usageStartTime', 'usageEndTime', 'quantity'],
            properties: {
              subscriptionId: { type: 'string', format: 'uuid' },
              meterId: { type: 'string' },
              usageStartTime: { type: 'string', format: 'date-time' },
              usageEndTime: { type: 'string', format: 'date-time' },
              quantity: { type: 'number' },
              instanceData: { type: 'string' },
            },
          },
        },
      },
    },
  },
};
const ajv = new Ajv({ strict: false, validateFormats: false });
const validateList = ajv.compile(UsageAggregationList);
const validList = (body: unknown): boolean => validateList(body);

describe('usage APIs on the stack', () => {
  let t: TestSystem;
  let tenant: string;
  let admin: string;
  let a: { c: CustomerWithSubscription; user: string; sub: string };
  let b: { c: CustomerWithSubscription; user: string; sub: string };

  const advance = async (duration: string) =>
    t.http.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
      token: await t.appToken('csp', t.b.hub.arm),
      body: { duration },
    });
  const tenantWithSubscription = async (prefix: string) => {
    const c = await customerWithSubscription(t, prefix);
    return { c, ...(await tenantSubscription(t, c, prefix)) };
  };
  const usage = (s: { user: string; sub: string }, query: string) =>
    t.call('GET', `${tenant}/subscriptions/${s.sub}/providers/Microsoft.Commerce/UsageAggregates?${API}&${query}`, {
      token: s.user,
    });

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-05-01T00:00:00Z') });
    ({ tenantArm: tenant, adminArm: admin } = t.b.stacks.local);
    a = await tenantWithSubscription('usage-a');
    b = await tenantWithSubscription('usage-b');
    // The operator raises the default quota of public IPs for this test.
    await t.http.call(
      'PUT',
      `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Microsoft.Network.Admin/locations/local/quotas/default?api-version=2015-06-15`,
      {
        token: await t.appToken('operator', admin),
        body: { properties: { maxPublicIpsPerSubscription: 50 } },
      },
    );
    await t.http.call(
      'PUT',
      `${tenant}/subscriptions/${a.sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/linux?api-version=2020-06-01`,
      { token: a.user, body: vmBody('Standard_A1_v2', false) },
    );
    for (let i = 0; i < 40; i++) {
      await t.http.call(
        'PUT',
        `${tenant}/subscriptions/${a.sub}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip${i}?api-version=2018-11-01`,
        { token: a.user, body: { location: 'local' } },
      );
    }
    await advance('PT30M');
    await t.http.call(
      'PUT',
      `${tenant}/subscriptions/${b.sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/win?api-version=2020-06-01`,
      { token: b.user, body: vmBody('Standard_D2_v2', true) },
    );
    await advance('P1DT1H30M'); // 2026-05-02T02:00
  });
  after(() => t.stop());

  it('answers a tenant its own usage by reported time, hourly, in the shape of the specification', async () => {
    // Hours 00 and 01 of May 1 were reported at 01:00 and 02:00.
    const res = await usage(
      a,
      'reportedStartTime=2026-05-01T00:00:00.000Z&reportedEndTime=2026-05-01T03:00:00.000Z&aggregationGranularity=Hourly&showDetails=true',
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(validList(res.body), ajv.errorsText(validateList.errors));
    const linux = res.body.value.filter((r: { properties: { instanceData: string } }) =>
      JSON.parse(r.properties.instanceData)['Microsoft.Resources'].resourceUri.endsWith('/virtualMachines/linux'),
    );
    assert.deepEqual(
      linux
        .map(
          (r: { properties: { usageStartTime: unknown; meterId: unknown; quantity: unknown } }) =>
            `${r.properties.usageStartTime} ${r.properties.meterId} ${r.properties.quantity}`,
        )
        .sort(),
      [
        `2026-05-01T00:00:00+00:00 6dab500f-a4fd-49c4-956d-229bb9c8c793 1`,
        `2026-05-01T00:00:00+00:00 ${BASE} 1`,
        `2026-05-01T01:00:00+00:00 6dab500f-a4fd-49c4-956d-229bb9c8c793 1`,
        `2026-05-01T01:00:00+00:00 ${BASE} 1`,
      ],
    );
    const item = linux[0];
    assert.equal(item.type, 'Microsoft.Commerce/UsageAggregate');
    assert.equal(item.properties.subscriptionId, a.sub);
    const data = JSON.parse(item.properties.instanceData)['Microsoft.Resources'];
    assert.equal(
      data.resourceUri,
      `/subscriptions/${a.sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/linux`,
    );
    assert.equal(data.location, 'local');
    assert.ok(
      !res.body.value.some((r: { properties: { meterId: unknown } }) => r.properties.meterId === WINDOWS),
      'no Windows meter for a Linux VM, nor usage of another tenant',
    );
  });

  it('aggregates by UTC day, and without details per meter', async () => {
    const daily = await usage(
      a,
      'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-02T00:00:00Z&aggregationGranularity=Daily',
    );
    assert.equal(daily.status, 200);
    const linuxBase = daily.body.value.find((r: { properties: { meterId: unknown } }) => r.properties.meterId === BASE);
    assert.equal(linuxBase.properties.usageStartTime, '2026-05-01T00:00:00+00:00');
    assert.equal(linuxBase.properties.usageEndTime, '2026-05-02T00:00:00+00:00');
    assert.equal(linuxBase.properties.quantity, 23, 'hours 00-22 were reported on May 1');
    const total = await usage(
      a,
      'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-02T00:00:00Z&aggregationGranularity=Daily&showDetails=false',
    );
    assert.equal(total.status, 200);
    const ips = total.body.value.find(
      (r: { properties: { meterId: unknown } }) => r.properties.meterId === '9e2739ba-8674-4796-b465-f64674b822ba',
    );
    assert.equal(ips.properties.quantity, 40 * 23, 'forty dynamic IPs, 23 hours each');
    assert.equal(ips.properties.instanceData, undefined);
  });

  it('pages with a continuation token when there are more than 1,000 aggregates', async () => {
    const first = await usage(
      a,
      'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-02T02:00:00Z&aggregationGranularity=Hourly',
    );
    assert.equal(first.body.value.length, 1000);
    assert.ok(first.body.nextLink.startsWith(tenant));
    const second = await t.call('GET', first.body.nextLink, { token: a.user });
    assert.equal(second.status, 200);
    assert.equal(second.body.nextLink, undefined);
    // 40 IPs and 2 VM meters, for 25 reported hours (hours 00 of May 1 to 00 of May 2).
    assert.equal(first.body.value.length + second.body.value.length, 25 * 42);
    const ids = new Set(
      [...first.body.value, ...second.body.value].map(
        (r: { properties: { usageStartTime: unknown; meterId: unknown; instanceData: unknown } }) =>
          `${r.properties.usageStartTime} ${r.properties.meterId} ${r.properties.instanceData}`,
      ),
    );
    assert.equal(ids.size, 25 * 42, 'no aggregate twice');
  });

  it("refuses wrong boundaries, granularities and future ends with the spec's errors", async () => {
    const cases: Array<[string, string]> = [
      [
        'reportedStartTime=2026-05-01T00:30:00Z&reportedEndTime=2026-05-01T02:00:00Z&aggregationGranularity=Hourly',
        'InvalidProperty',
      ],
      [
        'reportedStartTime=2026-05-01T01:00:00Z&reportedEndTime=2026-05-02T00:00:00Z&aggregationGranularity=Daily',
        'InvalidProperty',
      ],
      [
        'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-01T00:00:00Z&aggregationGranularity=Hourly',
        'InvalidProperty',
      ],
      ['reportedStartTime=2026-05-01T00:00:00Z&aggregationGranularity=Hourly', 'InvalidProperty'],
      ['reportedStartTime=yesterday&reportedEndTime=2026-05-01T02:00:00Z', 'InvalidProperty'],
      [
        'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-01T02:00:00Z&aggregationGranularity=Weekly',
        'InvalidAggregationGranularity',
      ],
      [
        'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-02T03:00:00Z&aggregationGranularity=Hourly',
        'RequestEndTimeIsInFuture',
      ],
      [
        'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-03T00:00:00Z&aggregationGranularity=Daily',
        'RequestEndTimeIsInFuture',
      ],
      [
        'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-01T02:00:00Z&aggregationGranularity=Hourly&continuationToken=%%%',
        'InvalidProperty',
      ],
    ];
    for (const [query, code] of cases) {
      const res = await usage(a, query);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, code, query);
    }
    const upToNow = await usage(
      a,
      'reportedStartTime=2026-05-02T00:00:00Z&reportedEndTime=2026-05-02T02:00:00Z&aggregationGranularity=Hourly&showDetails=false',
    );
    assert.equal(upToNow.status, 200, 'an end at the current time is fine');
  });

  it("keeps tenants apart: one tenant never sees another's usage", async () => {
    const other = await usage(
      { user: a.user, sub: b.sub },
      'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-02T00:00:00Z',
    );
    assert.equal(other.status, 403);
    const own = await usage(b, 'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-02T00:00:00Z');
    assert.deepEqual(
      [...new Set(own.body.value.map((r: { properties: { subscriptionId: unknown } }) => r.properties.subscriptionId))],
      [b.sub],
    );
    const windows = own.body.value.find((r: { properties: { meterId: unknown } }) => r.properties.meterId === WINDOWS);
    assert.equal(windows.properties.quantity, 2 * 22.5, 'two vCPUs from 00:30, reported up to 23:00');
  });

  it('answers the operator every subscriber, or one, through the provider usage API', async () => {
    const operator = await t.appToken('operator', admin);
    const provider = t.b.stacks.local.providerSubscriptionId;
    const url = (query: string) =>
      `${admin}/subscriptions/${provider}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates?${API}&reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-02T00:00:00Z&aggregationGranularity=Daily${query}`;
    const all = await t.call('GET', url('&showDetails=false'), { token: operator });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(
      [
        ...new Set(all.body.value.map((r: { properties: { subscriptionId: unknown } }) => r.properties.subscriptionId)),
      ].sort(),
      [a.sub, b.sub].sort(),
    );
    assert.equal(all.body.value[0].type, 'Microsoft.Commerce.Admin/UsageAggregate');
    const one = await t.call('GET', url(`&subscriberId=${b.sub}`), { token: operator });
    assert.deepEqual(
      [...new Set(one.body.value.map((r: { properties: { subscriptionId: unknown } }) => r.properties.subscriptionId))],
      [b.sub],
    );
    const unknown = await t.call('GET', url(`&subscriberId=${randomUUID()}`), { token: operator });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, 'SubscriberIdIsNotDirectTenant');
    const tenantOnAdmin = await t.userToken(a.c.customerId, a.c.admin.userName, a.c.admin.password, admin);
    assert.equal((await t.call('GET', url(''), { token: tenantOnAdmin })).status, 403);
  });
});
