// Storage accounts as the Storage RP answers them: a create and an update done when answered
// (200), a delete 200 (204 when absent), listKeys and regenerateKey (a write right: a Reader gets
// 403), checkNameAvailability in the RP's words; the keys never in the database in plain text.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const STORAGE = 'api-version=2019-06-01';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';

interface Keys {
  keys: { keyName: string; value: string; permissions: string }[];
}

describe('storage accounts as the Storage RP answers', () => {
  let t: TestSystem;
  let user: string;
  let sub: string;
  let reader: string;
  const account = (name: string) =>
    `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/${name}`;
  const body = { location: 'local', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' };
  const checkName = (name: unknown, token = user) =>
    t.call(
      'POST',
      `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/providers/Microsoft.Storage/checkNameAvailability?${STORAGE}`,
      { token, body: { name, type: 'Microsoft.Storage/storageAccounts' } },
    );

  before(async () => {
    t = await startTestSystem();
    const customer = await customerWithSubscription(t, 'storage');
    ({ user, sub } = await tenantSubscription(t, customer, 'storage'));
    // A second user of the customer's directory, given Reader on the subscription by its owner.
    const graph = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      t.b.hub.graph,
    );
    const readerName = `reader@${customer.admin.userName.split('@')[1]}`;
    const readerUser = await t.http.call('POST', `${t.b.hub.graph}/v1.0/users`, {
      token: graph,
      body: { displayName: 'reader', userPrincipalName: readerName, passwordProfile: { password: 'Reader-Passw0rd!' } },
    });
    reader = await t.userToken(customer.customerId, readerName, 'Reader-Passw0rd!', t.b.stacks.local.tenantArm);
    const assigned = await t.call(
      'PUT',
      `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`,
      {
        token: user,
        body: {
          properties: {
            roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
            principalId: readerUser.id,
          },
        },
      },
    );
    assert.equal(assigned.status, 201, JSON.stringify(assigned.body));
  });
  after(() => t.stop());

  it('answers a create and an update with 200, done, and a delete with 200, then 204', async () => {
    const created = await t.call('PUT', `${account('data01')}?${STORAGE}`, { token: user, body });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.headers['azure-asyncoperation'], undefined, 'nothing to poll');
    assert.equal(created.body.properties.provisioningState, 'Succeeded');
    assert.equal(JSON.stringify(created.body).includes('keys'), false, 'the keys are listKeys’ alone');
    const updated = await t.call('PUT', `${account('data01')}?${STORAGE}`, {
      token: user,
      body: { ...body, tags: { env: 'test' } },
    });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.body.tags, { env: 'test' });
    assert.equal((await t.call('PUT', `${account('gone01')}?${STORAGE}`, { token: user, body })).status, 200);
    assert.equal((await t.call('DELETE', `${account('gone01')}?${STORAGE}`, { token: user })).status, 200);
    assert.equal((await t.call('DELETE', `${account('gone01')}?${STORAGE}`, { token: user })).status, 204);
  });

  it('lists two full keys, the same each time, regenerates one, and keeps them sealed', async () => {
    const listed = await t.call<Keys>('POST', `${account('data01')}/listKeys?${STORAGE}`, { token: user });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(
      listed.body.keys.map((k) => [k.keyName, k.permissions, Buffer.from(k.value, 'base64').length]),
      [
        ['key1', 'FULL', 64],
        ['key2', 'FULL', 64],
      ],
    );
    const again = await t.call<Keys>('POST', `${account('data01')}/listKeys?${STORAGE}`, { token: user });
    assert.deepEqual(again.body, listed.body);

    const renewed = await t.call<Keys>('POST', `${account('data01')}/regenerateKey?${STORAGE}`, {
      token: user,
      body: { keyName: 'key2' },
    });
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.equal(renewed.body.keys[0].value, listed.body.keys[0].value, 'key1 stays');
    assert.notEqual(renewed.body.keys[1].value, listed.body.keys[1].value, 'key2 is new');
    const bad = await t.call('POST', `${account('data01')}/regenerateKey?${STORAGE}`, {
      token: user,
      body: { keyName: 'key3' },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'InvalidValuesForRequestParameters');

    const stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await stackDb.connect();
    try {
      const { rows } = await stackDb.query<{ text: string }>(`select properties::text as text from resources`);
      const stored = rows.map((r) => r.text).join('\n');
      for (const k of [...renewed.body.keys, ...listed.body.keys])
        assert.equal(stored.includes(k.value), false, `${k.keyName} is not stored in plain text`);
      assert.match(stored, /sealed\.v1\./);
    } finally {
      await stackDb.end();
    }
  });

  it('refuses the keys to a Reader (a write right, as in Azure), and to a missing account', async () => {
    assert.equal((await t.call('GET', `${account('data01')}?${STORAGE}`, { token: reader })).status, 200);
    for (const action of ['listKeys', 'regenerateKey']) {
      const res = await t.call('POST', `${account('data01')}/${action}?${STORAGE}`, {
        token: reader,
        body: { keyName: 'key1' },
      });
      assert.equal(res.status, 403, `${action}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'AuthorizationFailed');
      assert.match(
        res.body.error.message,
        new RegExp(`Microsoft.Storage/storageAccounts/${action.toLowerCase()}/action`),
      );
    }
    const missing = await t.call('POST', `${account('nothere01')}/listKeys?${STORAGE}`, { token: user });
    assert.equal(missing.status, 404);
  });

  it('tells whether a name is available, as the Storage RP words it', async () => {
    assert.deepEqual((await checkName('fresh01')).body, { nameAvailable: true });
    const taken = await checkName('data01', reader);
    assert.equal(taken.status, 200);
    assert.deepEqual(taken.body, {
      nameAvailable: false,
      reason: 'AlreadyExists',
      message: 'The storage account named data01 is already taken.',
    });
    const invalid = await checkName('Bad_Name');
    assert.equal(invalid.body.nameAvailable, false);
    assert.equal(invalid.body.reason, 'AccountNameInvalid');
    assert.match(invalid.body.message, /must be between 3 and 24 characters in length/);
    assert.equal((await checkName(42)).status, 400);
    const outsider = await tenantSubscription(t, await customerWithSubscription(t, 'storage-out'), 'out');
    assert.equal((await checkName('fresh01', outsider.user)).status, 403, "not in another's subscription");
  });
});
