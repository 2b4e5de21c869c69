// Tags at the edge, as ARM takes them: at most 50, names up to 512 and values up to 256
// characters, values strings only, on every ARM resource of both roles and in the usage record a
// deployment sends. The attack this closes: one tenant's tags made the hub refuse the oldest batch,
// which the bridge then resent forever, and no tenant of the deployment was delivered again.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { testDeployment } from './helpers/deployment.ts';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody, vmUrl } from './helpers/stack.ts';
import { stackApplicationToken } from './helpers/secrets.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';
import type { JsonResponse } from '../src/core/http-client.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';

/** `count` tags with names of `nameLength` and values of `valueLength` characters, made of `char`s. */
function tags(count: number, nameLength = 8, valueLength = 8, nameChar = 'n', valueChar = 'v'): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const prefix = String(i).padStart(2, '0');
    out[prefix + nameChar.repeat(nameLength - prefix.length)] = valueChar.repeat(valueLength);
  }
  return out;
}

/** Tag sets ARM refuses, with the code it answers. */
const REFUSED: Array<{ why: string; tags: unknown; code: string }> = [
  { why: 'a number as a value', tags: { cost: 5 }, code: 'InvalidRequestContent' },
  { why: 'an object as a value', tags: { cost: { amount: 5 } }, code: 'InvalidRequestContent' },
  { why: 'null as a value', tags: { cost: null }, code: 'InvalidRequestContent' },
  { why: 'tags that are not an object', tags: ['cost'], code: 'InvalidRequestContent' },
  { why: 'a value of a megabyte', tags: { cost: 'x'.repeat(1024 * 1024) }, code: 'InvalidTagValueLength' },
  { why: '51 tags', tags: tags(51), code: 'InvalidTags' },
  { why: 'a name of 513 characters', tags: { ['n'.repeat(513)]: 'v' }, code: 'InvalidTagName' },
  { why: 'a value of 257 characters', tags: { cost: 'v'.repeat(257) }, code: 'InvalidTagValueLength' },
  { why: 'an empty name', tags: { ' ': 'v' }, code: 'InvalidTagName' },
  { why: 'a reserved character in a name', tags: { 'cost/centre': 'v' }, code: 'InvalidTagNameCharacters' },
  { why: 'a control character in a name', tags: { 'cost\u0007': 'v' }, code: 'InvalidTagNameCharacters' },
];

/** The most ARM takes: 50 tags, names of 512 and values of 256 characters. */
const LARGEST = tags(50, 512, 256);

function assertArmRefusal(res: JsonResponse, code: string, what: string): void {
  assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body).slice(0, 300)}`);
  assert.deepEqual(Object.keys(res.body), ['error'], what);
  assert.equal(res.body.error.code, code, `${what}: ${res.body.error.message}`);
  assert.ok(res.body.error.message.length < 600, `${what}: the message does not echo the input back`);
  // The validator's own words (ajv's "must be string", schema paths) never reach the caller.
  assert.doesNotMatch(
    res.body.error.message,
    /must (be (string|object|array|number|integer|boolean|null)\b|NOT have|match pattern|have required)|instancePath|#\//,
    what,
  );
}

describe('tags at the edge, as ARM takes them', () => {
  let t: TestSystem;
  let csp: string;
  let stackDb: pg.Client;
  let honest: {
    customerId: string;
    subscriptionId: string;
    admin: { userName: string; password: string };
    user: string;
    sub: string;
  };
  let hostile: { user: string; sub: string };
  let registrationToken: string; // a deployment's own, for the registration `tagged`

  const advance = (duration: string) =>
    t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
      token: csp,
      body: { duration },
    });
  const regUrl = () =>
    `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/${t.b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations`;
  const bridgeStatus = async () =>
    (
      await t.call('GET', `${t.b.stacks.local.adminArm}/providers/Stackledger.System/bridge?api-version=2026-11-01`, {
        token: await t.appToken('operator', t.b.stacks.local.adminArm),
      })
    ).body;

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-07-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    const c = await customerWithSubscription(t, 'tags-honest');
    honest = { ...c, ...(await tenantSubscription(t, c, 'honest')) };
    const vm = await t.call('PUT', vmUrl(t, honest.sub, 'vm'), {
      token: honest.user,
      body: { ...vmBody('Standard_A2_v2'), tags: { 'cost-center': '42' } },
    });
    assert.equal(vm.status, 201, JSON.stringify(vm.body));
    // The honest customer's subscription is registered on the deployment: its usage is its own.
    const link = await t.call(
      'PUT',
      `${regUrl()}/${t.b.csp.registrationName}/customerSubscriptions/${c.subscriptionId}?api-version=2017-06-01`,
      { token: csp, body: { properties: {} } },
    );
    assert.equal(link.status, 200, JSON.stringify(link.body));
    hostile = await tenantSubscription(t, await customerWithSubscription(t, 'tags-hostile'), 'hostile');
    stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await stackDb.connect();
    registrationToken = await (await testDeployment(t, 'tags')).token({ BillingModel: 'Development' });
  });
  after(async () => {
    await stackDb?.end();
    await t?.stop();
  });

  /** Every ARM resource of both roles that takes tags: where it is, who may write it, its body. */
  const resources = () => {
    const tenant = `${t.b.stacks.local.tenantArm}/subscriptions/${hostile.sub}`;
    return [
      { kind: 'a VM', url: vmUrl(t, hostile.sub, 'tagged'), token: hostile.user, body: vmBody('Standard_A1_v2') },
      {
        kind: 'a storage account',
        url: `${tenant}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/tagged01?api-version=2019-06-01`,
        token: hostile.user,
        body: { location: 'local', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
      },
      {
        kind: 'a public IP',
        url: `${tenant}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/tagged?api-version=2019-11-01`,
        token: hostile.user,
        body: { location: 'local', properties: { publicIPAllocationMethod: 'Dynamic' } },
      },
      {
        kind: "a resource group on the stack's tenant endpoint",
        url: `${tenant}/resourcegroups/tagged?api-version=2019-10-01`,
        token: hostile.user,
        body: { location: 'local' },
      },
      {
        kind: 'a resource group on the hub',
        url: `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourcegroups/tagged?api-version=2019-10-01`,
        token: csp,
        body: { location: 'global' },
      },
      {
        kind: 'a registration on the hub',
        url: `${regUrl()}/tagged?api-version=2017-06-01`,
        token: csp,
        body: { location: 'global', properties: { registrationToken } },
      },
    ];
  };

  it('refuses, on every resource that takes tags, what ARM refuses, with its code, and creates nothing', async () => {
    for (const r of resources()) {
      for (const c of REFUSED) {
        const res = await t.call('PUT', r.url, { token: r.token, body: { ...r.body, tags: c.tags } });
        assertArmRefusal(res, c.code, `${r.kind} with ${c.why}`);
      }
      const nothing = await t.call('GET', r.url, { token: r.token });
      assert.equal(nothing.status, 404, `${r.kind}: nothing was created`);
    }
  });

  it('says where and what, in the words ARM uses', async () => {
    const [vm] = resources();
    const number = await t.call('PUT', vm.url, { token: vm.token, body: { ...vm.body, tags: { cost: 5 } } });
    assert.equal(number.body.error.target, 'tags.cost');
    assert.match(
      number.body.error.message,
      /could not be deserialized: 'Error reading string\. Unexpected token: Integer\. Path 'tags\.cost'/,
    );
    const tooMany = await t.call('PUT', vm.url, { token: vm.token, body: { ...vm.body, tags: tags(51) } });
    assert.equal(
      tooMany.body.error.message,
      "Too many tags specified. Requested tag count - '51'. Maximum number of tags allowed - '50'.",
    );
    const megabyte = await t.call('PUT', vm.url, {
      token: vm.token,
      body: { ...vm.body, tags: { cost: 'x'.repeat(1024 * 1024) } },
    });
    assert.match(
      megabyte.body.error.message,
      /^Tag value too large\. Following tag value 'x{64}…' exceeded the maximum length\. Maximum allowed length for tag value - '256' characters\.$/,
    );
  });

  it('takes the most ARM takes (50 tags, names of 512 and values of 256 characters) and gives them back', async () => {
    for (const r of resources()) {
      const res = await t.call('PUT', r.url, { token: r.token, body: { ...r.body, tags: LARGEST } });
      assert.ok([200, 201].includes(res.status), `${r.kind}: ${JSON.stringify(res.body).slice(0, 300)}`);
      const read = await t.call('GET', r.url, { token: r.token });
      assert.deepEqual(read.body.tags, LARGEST, r.kind);
    }
  });

  it('refuses the same on PATCH, and the tags stay as they were', async () => {
    for (const r of resources().filter((x) => !x.kind.startsWith('a storage') && !x.kind.startsWith('a public'))) {
      for (const c of REFUSED.filter((x) => x.why !== 'a value of a megabyte')) {
        const res = await t.call('PATCH', r.url, { token: r.token, body: { tags: c.tags } });
        assertArmRefusal(res, c.code, `PATCH ${r.kind} with ${c.why}`);
      }
      assert.deepEqual((await t.call('GET', r.url, { token: r.token })).body.tags, LARGEST, r.kind);
    }
  });

  it("the hub applies the same rule to a deployment's usage records", async () => {
    const token = await stackApplicationToken(t);
    const record = (recordTags: unknown) => ({
      resourceId: randomUUID(),
      resourceUri: `/subscriptions/${hostile.sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/forged`,
      meterId: BASE,
      hour: '2026-06-30T00:00:00Z',
      revision: 1,
      quantity: '1',
      subscriptionId: hostile.sub,
      tenantId: randomUUID(),
      location: 'local',
      tags: recordTags,
    });
    const url = `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports?api-version=2026-11-01`;
    const send = (recordTags: unknown) =>
      t.call('POST', url, {
        token,
        body: { cloudId: t.b.stacks.local.cloudId, batchId: randomUUID(), records: [record({}), record(recordTags)] },
      });
    const number = await send({ cost: 5 });
    assertArmRefusal(number, 'InvalidRequestContent', 'a record tagged with a number');
    assert.equal(number.body.error.target, 'records[1].tags.cost');
    assertArmRefusal(await send(tags(51)), 'InvalidTags', 'a record with 51 tags');
    assertArmRefusal(await send({ cost: 'v'.repeat(257) }), 'InvalidTagValueLength', 'a record with a long value');
    const largest = await send(LARGEST);
    assert.equal(largest.status, 200, JSON.stringify(largest.body).slice(0, 300));
    assert.equal(largest.body.new, 2);
  });

  it("one tenant's tags no longer stop everyone's billing: the honest tenant's usage reaches the hub", async () => {
    // The hostile tenant's attempts of the attack are all refused (above, and once more here).
    for (const c of REFUSED) {
      assertArmRefusal(
        await t.call('PUT', vmUrl(t, hostile.sub, 'attack'), {
          token: hostile.user,
          body: { ...vmBody('Standard_A1_v2'), tags: c.tags },
        }),
        c.code,
        c.why,
      );
    }
    // A VM whose tags were stored before the rule existed (written behind the API's back, as an
    // upgraded deployment may hold them): its records go with only the tags that pass the rule.
    assert.equal(
      (await t.call('PUT', vmUrl(t, hostile.sub, 'legacy'), { token: hostile.user, body: vmBody('Standard_A1_v2') }))
        .status,
      201,
    );
    await stackDb.query(`update resources set tags = $1::jsonb where name = 'legacy'`, [
      JSON.stringify({ cost: 5, big: 'x'.repeat(1024 * 1024), ok: 'kept' }),
    ]);
    // The heaviest tags ARM takes, on many VMs: one hour of their records weighs more than the hub's
    // 4 MiB body limit (names of 3-byte characters, values of control characters, 6 bytes in JSON).
    const heavy = tags(50, 512, 256, '€', '\u0001');
    for (let i = 0; i < 14; i++) {
      const res = await t.call('PUT', vmUrl(t, hostile.sub, `heavy${i}`), {
        token: hostile.user,
        body: { ...vmBody('Standard_A1_v2'), tags: heavy },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body).slice(0, 300));
    }

    assert.equal((await advance('PT4H')).status, 200);
    const status = await bridgeStatus();
    assert.equal(status.outbox, 0, `everything was delivered: ${status.lastError}`);
    assert.equal(status.lastError ?? null, null);

    // The honest tenant's usage is on its own subscription at the hub: 2 vCPUs for hours 00 to 03.
    // The hub stamps what it receives with the end of the clock's step that delivered it (04:00,
    // all four hours in one step): one more step makes that a reported time in the past.
    assert.equal((await advance('PT1H')).status, 200);
    const admin = await t.userToken(honest.customerId, honest.admin.userName, honest.admin.password, t.b.hub.arm);
    const usage = await t.call(
      'GET',
      `${t.b.hub.arm}/subscriptions/${honest.subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-07-01T00:00:00Z&reportedEndTime=2026-07-01T05:00:00Z&aggregationGranularity=Hourly&showDetails=true`,
      { token: admin },
    );
    assert.equal(usage.status, 200, JSON.stringify(usage.body));
    const base = usage.body.value.filter((r: { properties: { meterId: unknown } }) => r.properties.meterId === BASE);
    assert.equal(
      base.reduce((n: number, r: { properties: { quantity: number } }) => n + r.properties.quantity, 0),
      2 * 4,
    );
    assert.deepEqual(JSON.parse(base[0].properties.instanceData)['Microsoft.Resources'].tags, { 'cost-center': '42' });

    // The hostile tenant's usage arrived too: heavy tags whole, the old row's only where they pass.
    const hub = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await hub.connect();
    try {
      const tagsOf = async (vm: string) =>
        (
          await hub.query(`select distinct tags from usage_received where resource_uri like $1`, [
            `%/virtualMachines/${vm}`,
          ])
        ).rows.map((r) => r.tags);
      assert.deepEqual(await tagsOf('legacy'), [{ ok: 'kept' }]);
      assert.deepEqual(await tagsOf('heavy13'), [heavy]);
    } finally {
      await hub.end();
    }
  });
});
