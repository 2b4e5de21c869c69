// Microsoft.AzureStack registrations and customer subscriptions (api-version 2017-06-01), over
// HTTPS against the running hub: the official client, the seed's generic PUT, every error code of
// the vendor's table, the spec's shapes and examples, effective dating, two deployments.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { HttpClient } from '../src/core/http-client.ts';
import { openDatabase, withDatabase } from '../src/db/database.ts';
import { registrationStore } from '../src/registration/store.ts';
import { registerStack } from '../src/system/register.ts';
import { startStackOnly } from '../src/system/up.ts';
import { testDeployment, type TestDeployment } from './helpers/deployment.ts';
import { customerWithSubscription, secondPartner } from './helpers/partner.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';
import * as schemas from './schemas/azurestack.ts';
import type { JsonResponse } from '../src/core/http-client.ts';
import type { BillingModel } from '../src/core/registration-token.ts';
import type { HubTables } from '../src/hub/app.ts';
import { REPO } from './helpers/repo.ts';

const API = 'api-version=2017-06-01';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';

describe('registrations and customer subscriptions', () => {
  let t: TestSystem;
  let csp: string;
  let regUrl: string; // the bootstrap registration of stack `local`
  let sub: string;
  let rg: string;
  let name: string;
  let hubDb: ReturnType<typeof openDatabase<HubTables>>;
  let deployment: TestDeployment; // signs tokens for cloud ids of its own

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-03-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    ({ registrationSubscriptionId: sub, resourceGroup: rg, registrationName: name } = t.b.csp);
    regUrl = `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.AzureStack/registrations/${name}`;
    hubDb = openDatabase(withDatabase(testServerUrl(), `${t.dbPrefix}_hub`), 2);
    deployment = await testDeployment(t, 'registration-tests');
  });
  after(async () => {
    await hubDb.close();
    await t.stop();
  });

  const link = (customerSubscriptionId: string, body: unknown = { properties: {} }, token = csp, url = regUrl) =>
    t.call('PUT', `${url}/customerSubscriptions/${customerSubscriptionId}?${API}`, { token, body });
  const links = async (url = regUrl) =>
    (await t.call('GET', `${url}/customerSubscriptions?${API}`, { token: csp })).body.value.map(
      (c: { properties: { tenantId: unknown }; name: unknown }) => c.properties.tenantId + ' ' + c.name,
    );
  const advance = (duration: string) =>
    t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
      token: csp,
      body: { duration },
    });

  /** A registration of a deployment under another name, approved or not, with a billing model. */
  const otherRegistration = async (regName: string, billingModel: string, approve: boolean) => {
    const url = `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.AzureStack/registrations/${regName}`;
    const token = await deployment.token({ BillingModel: billingModel as BillingModel });
    const res = await t.call('PUT', `${url}?${API}`, {
      token: csp,
      body: { location: 'global', properties: { registrationToken: token } },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    if (approve)
      assert.equal(
        (await t.call('POST', `${url}/approveMultiTenancy?api-version=2026-11-01`, { token: csp })).status,
        200,
      );
    return url;
  };

  it('has the registration that the stack made of itself: approved, pay-as-you-use, carrying its cloud id', async () => {
    const res = await t.call('GET', `${regUrl}?${API}`, { token: csp });
    assert.equal(res.status, 200);
    schemas.assertSchema(schemas.Registration, res.body, 'GET registration');
    assert.equal(res.body.properties.cloudId, t.b.stacks.local.cloudId);
    assert.equal(res.body.properties.billingModel, 'PayAsYouUse');
    assert.equal(res.body.type, 'Microsoft.AzureStack/registrations');
    assert.equal(res.body.location, 'global');
  });

  it("works with the official @azure/arm-azurestack client and the seed's generic ARM PUT", async () => {
    const a = await customerWithSubscription(t, 'sdk-a');
    const b = await customerWithSubscription(t, 'sdk-b');
    const script = path.join(REPO, 'test', 'sdk', 'azurestack.ts');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        script,
        path.join(t.dataDir, 'bootstrap.json'),
        a.subscriptionId,
        a.customerId,
        b.subscriptionId,
      ],
      {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: t.b.caFile },
        timeout: 60_000,
      },
    );
    const seen = JSON.parse(stdout);
    assert.deepEqual(seen.registrations, [{ name, cloudId: t.b.stacks.local.cloudId, billingModel: 'PayAsYouUse' }]);
    assert.equal(seen.registration.type, 'Microsoft.AzureStack/registrations');
    assert.equal(seen.created.name, `${name}/${a.subscriptionId}`);
    assert.equal(seen.created.tenantId, a.customerId);
    assert.equal(seen.created.status, 200);
    assert.deepEqual(seen.again, { status: 200, etag: true }, 'adding the same one twice is idempotent');
    assert.equal(seen.got, a.customerId);
    assert.deepEqual(seen.listed, [`${name}/${a.subscriptionId}`]);
    assert.equal(seen.activationKey, 'string');
    assert.equal(seen.deleted, 200);
    assert.equal(seen.deletedAgain, 204);
    assert.deepEqual(seen.afterDelete, { statusCode: 404, code: 'CustomerSubscriptionNotFound' });
    assert.deepEqual(seen.refused, { statusCode: 400, code: 'InvalidCustomerSubscriptionId' });
    assert.equal(
      seen.generic.tenantId,
      b.customerId,
      'the tenant is taken from the directory that holds the subscription',
    );
    assert.equal(seen.genericGet, b.customerId);
    assert.deepEqual(await links(), [`${b.customerId} ${name}/${b.subscriptionId}`]);
  });

  describe("each error code of the vendor's table, and nothing changes after it", () => {
    const expectError = async (res: JsonResponse, status: number, code: string, names: string[]) => {
      assert.equal(res.status, status, JSON.stringify(res.body));
      schemas.assertSchema(schemas.ErrorResponse, res.body, code);
      assert.equal(res.body.error.code, code);
      for (const n of names)
        assert.ok(res.body.error.message.includes(n), `the message names '${n}': ${res.body.error.message}`);
    };

    it('RegistrationNotFound names the subscription, resource group and registration as given', async () => {
      const before = await links();
      const c = await customerWithSubscription(t, 'e-regnotfound');
      const url = `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/AzureStack/providers/Microsoft.AzureStack/registrations/No-Such-Reg`;
      await expectError(await link(c.subscriptionId, undefined, csp, url), 404, 'RegistrationNotFound', [
        sub,
        'AzureStack',
        'No-Such-Reg',
      ]);
      const otherGroup = `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/elsewhere/providers/Microsoft.AzureStack/registrations/${name}`;
      await expectError(await link(c.subscriptionId, undefined, csp, otherGroup), 404, 'RegistrationNotFound', [
        'elsewhere',
        name,
      ]);
      assert.deepEqual(await links(), before);
    });

    it('InvalidCustomerSubscriptionId for an id that is not a cloud subscription', async () => {
      const before = await links();
      const unknown = randomUUID();
      await expectError(await link(unknown), 400, 'InvalidCustomerSubscriptionId', [unknown]);
      await expectError(await link('not-a-subscription'), 400, 'InvalidCustomerSubscriptionId', ['not-a-subscription']);
      assert.deepEqual(await links(), before);
    });

    it('BadCustomerSubscriptionId for a CSP subscription sold by another partner', async () => {
      const before = await links();
      const other = await secondPartner(t, 'rival');
      const foreign = await customerWithSubscription(t, 'e-rivalcustomer', await other.token(t.b.hub.partnerCenter));
      await expectError(await link(foreign.subscriptionId), 400, 'BadCustomerSubscriptionId', [
        foreign.subscriptionId,
        sub,
      ]);
      assert.deepEqual(await links(), before);
    });

    it('InvalidCSPSubscription for a pay-as-you-go subscription and for the registration subscription itself', async () => {
      const before = await links();
      const c = await customerWithSubscription(t, 'e-payg');
      const adminArm = await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.arm);
      const own = await t.call(
        'PUT',
        `${t.b.hub.arm}/providers/Microsoft.Subscription/aliases/own?api-version=2021-10-01`,
        { token: adminArm, body: { properties: { displayName: 'own' } } },
      );
      const payg = own.body.properties.subscriptionId;
      await expectError(await link(payg), 400, 'InvalidCSPSubscription', [payg]);
      await expectError(await link(sub), 400, 'InvalidCSPSubscription', [sub]);
      assert.deepEqual(await links(), before);
    });

    it('CustomerSubscriptionNotFound for a link that was never made, or was removed', async () => {
      const c = await customerWithSubscription(t, 'e-notlinked');
      const never = await t.call('GET', `${regUrl}/customerSubscriptions/${c.subscriptionId}?${API}`, { token: csp });
      await expectError(never, 404, 'CustomerSubscriptionNotFound', [c.subscriptionId]);
      assert.equal((await link(c.subscriptionId)).status, 200);
      assert.equal(
        (await t.call('DELETE', `${regUrl}/customerSubscriptions/${c.subscriptionId}?${API}`, { token: csp })).status,
        200,
      );
      await expectError(
        await t.call('GET', `${regUrl}/customerSubscriptions/${c.subscriptionId}?${API}`, { token: csp }),
        404,
        'CustomerSubscriptionNotFound',
        [c.subscriptionId],
      );
    });

    it('UnauthorizedCspRegistration until the provider approves the registration for multi-tenancy', async () => {
      const url = await otherRegistration('not-approved', 'PayAsYouUse', false);
      const c = await customerWithSubscription(t, 'e-unapproved');
      await expectError(await link(c.subscriptionId, undefined, csp, url), 400, 'UnauthorizedCspRegistration', [
        'not-approved',
      ]);
      assert.deepEqual(await links(url), []);
      // Only the provider approves; the registration's owner cannot approve its own.
      const other = await secondPartner(t, 'approver');
      const refused = await t.call('POST', `${url}/approveMultiTenancy?api-version=2026-11-01`, {
        token: await other.token(t.b.hub.arm),
      });
      assert.equal(refused.status, 403);
      assert.equal(
        (await t.call('POST', `${url}/approveMultiTenancy?api-version=2026-11-01`, { token: csp })).status,
        200,
      );
      assert.equal((await link(c.subscriptionId, undefined, csp, url)).status, 200);
    });

    it('CustomerSubscriptionsNotAllowed on a capacity-model registration', async () => {
      const url = await otherRegistration('capacity', 'Capacity', true);
      const c = await customerWithSubscription(t, 'e-capacity');
      await expectError(await link(c.subscriptionId, undefined, csp, url), 400, 'CustomerSubscriptionsNotAllowed', [
        'capacity',
        'Capacity',
      ]);
      assert.deepEqual(await links(url), []);
    });

    it('MetadataResolverBadGatewayError (502, retryable) when the look-up of the subscription fails upstream', async () => {
      const before = await links();
      const c = await customerWithSubscription(t, 'e-upstream');
      const blocker = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
      await blocker.connect();
      try {
        await blocker.query('begin');
        // The subscription is in the middle of a change that does not finish in time.
        await blocker.query('select 1 from subscriptions where subscription_id = $1 for update', [c.subscriptionId]);
        await expectError(await link(c.subscriptionId), 502, 'MetadataResolverBadGatewayError', [c.subscriptionId]);
      } finally {
        await blocker.query('rollback');
        await blocker.end();
      }
      assert.deepEqual(await links(), before);
      assert.equal((await link(c.subscriptionId)).status, 200, 'the same request succeeds once the upstream answers');
      assert.equal(
        (await t.call('DELETE', `${regUrl}/customerSubscriptions/${c.subscriptionId}?${API}`, { token: csp })).status,
        200,
      );
    });

    it("only the registration subscription's Owner or Contributor adds or removes customer subscriptions", async () => {
      const before = await links();
      const c = await customerWithSubscription(t, 'e-roles');
      const operator = await t.appToken('operator', t.b.hub.arm);
      const operatorId = JSON.parse(Buffer.from(operator.split('.')[1], 'base64url').toString()).oid;
      await expectError(await link(c.subscriptionId, undefined, operator), 403, 'AuthorizationFailed', [
        'Microsoft.AzureStack/registrations/customerSubscriptions/write',
      ]);
      const grant = (role: string) =>
        t.call(
          'PUT',
          `${t.b.hub.arm}/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`,
          {
            token: csp,
            body: { properties: { roleDefinitionId: role, principalId: operatorId } },
          },
        );
      assert.equal((await grant(READER)).status, 201);
      await expectError(await link(c.subscriptionId, undefined, operator), 403, 'AuthorizationFailed', []);
      assert.equal(
        (await t.call('GET', `${regUrl}/customerSubscriptions?${API}`, { token: operator })).status,
        200,
        'a Reader reads',
      );
      assert.deepEqual(await links(), before);
      assert.equal((await grant(CONTRIBUTOR)).status, 201);
      assert.equal((await link(c.subscriptionId, undefined, operator)).status, 200);
      assert.equal(
        (await t.call('DELETE', `${regUrl}/customerSubscriptions/${c.subscriptionId}?${API}`, { token: operator }))
          .status,
        200,
      );
    });

    it('refuses a tenantId that does not hold the subscription, and bad registration tokens', async () => {
      const before = await links();
      const c = await customerWithSubscription(t, 'e-tenant');
      const wrong = await link(c.subscriptionId, { properties: { tenantId: t.b.csp.tenantId } });
      await expectError(wrong, 400, 'InvalidTenantId', [c.customerId]);
      assert.deepEqual(await links(), before);
      const bad = await t.call(
        'PUT',
        `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.AzureStack/registrations/bad?${API}`,
        {
          token: csp,
          body: { location: 'global', properties: { registrationToken: 'bm90IGpzb24=' } },
        },
      );
      await expectError(bad, 400, 'InvalidRegistrationToken', []);
      const noToken = await t.call(
        'PUT',
        `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.AzureStack/registrations/bad?${API}`,
        { token: csp, body: { location: 'global' } },
      );
      assert.equal(noToken.status, 400);
      assert.equal(noToken.body.error.target, 'properties');
      assert.equal(
        (
          await t.call(
            'GET',
            `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.AzureStack/registrations/bad?${API}`,
            { token: csp },
          )
        ).status,
        404,
      );
    });
  });

  it("replays the spec's examples, and every response matches the spec's schemas", async () => {
    // specification/azurestack/resource-manager/Microsoft.AzureStack/stable/2017-06-01/examples/Registration/{Put,Get,List,ListBySubscription,Patch,Post,Delete}.json
    // and examples/CustomerSubscription/{Put,Get,List,Delete}.json, with our ids in place of the
    // examples' (their registration token is the vendor's opaque blob; ours is the stack's).
    const exampleName = 'testregistration';
    const url = `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.AzureStack/registrations/${exampleName}`;
    const token = await deployment.token({ BillingModel: 'Development' });
    const put = await t.call('PUT', `${url}?${API}`, {
      token: csp,
      body: { properties: { registrationToken: token }, location: 'global' },
    });
    assert.ok([200, 201].includes(put.status));
    schemas.assertSchema(schemas.Registration, put.body, 'Registration/Put');
    assert.equal(put.body.properties.billingModel, 'Development');
    const get = await t.call('GET', `${url}?${API}`, { token: csp });
    schemas.assertSchema(schemas.Registration, get.body, 'Registration/Get');
    assert.deepEqual(Object.keys(get.body).sort(), ['etag', 'id', 'location', 'name', 'properties', 'type']);
    const list = await t.call(
      'GET',
      `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.AzureStack/registrations?${API}`,
      { token: csp },
    );
    schemas.assertSchema(schemas.RegistrationList, list.body, 'Registration/List');
    assert.ok(list.body.value.some((r: { name: unknown }) => r.name === exampleName));
    const bySub = await t.call(
      'GET',
      `${t.b.hub.arm}/subscriptions/${sub}/providers/Microsoft.AzureStack/registrations?${API}`,
      { token: csp },
    );
    schemas.assertSchema(schemas.RegistrationList, bySub.body, 'Registration/ListBySubscription');
    assert.ok(bySub.body.value.some((r: { name: unknown }) => r.name === name));
    const patch = await t.call('PATCH', `${url}?${API}`, {
      token: csp,
      body: { properties: { registrationToken: token }, location: 'global', tags: { key1: 'value1' } },
    });
    assert.equal(patch.status, 200);
    schemas.assertSchema(schemas.Registration, patch.body, 'Registration/Patch');
    assert.deepEqual(patch.body.tags, { key1: 'value1' });
    const post = await t.call('POST', `${url}/getactivationkey?${API}`, { token: csp });
    assert.equal(post.status, 200);
    schemas.assertSchema(schemas.ActivationKeyResult, post.body, 'Registration/Post');

    const c = await customerWithSubscription(t, 'examples');
    const exampleUrl = `${url}/customerSubscriptions/${c.subscriptionId}?${API}`;
    assert.equal(
      (await t.call('POST', `${url}/approveMultiTenancy?api-version=2026-11-01`, { token: csp })).status,
      200,
    );
    const csPut = await t.call('PUT', exampleUrl, { token: csp, body: { properties: { tenantId: c.customerId } } });
    assert.equal(csPut.status, 200);
    schemas.assertSchema(schemas.CustomerSubscription, csPut.body, 'CustomerSubscription/Put');
    assert.equal(csPut.body.properties.tenantId, c.customerId);
    const csGet = await t.call('GET', exampleUrl, { token: csp });
    schemas.assertSchema(schemas.CustomerSubscription, csGet.body, 'CustomerSubscription/Get');
    assert.equal(csGet.body.name, `${exampleName}/${c.subscriptionId}`);
    assert.equal(csGet.body.type, 'Microsoft.AzureStack/registrations/customerSubscriptions');
    const csList = await t.call('GET', `${url}/customerSubscriptions?${API}`, { token: csp });
    schemas.assertSchema(schemas.CustomerSubscriptionList, csList.body, 'CustomerSubscription/List');
    assert.equal(csList.body.value.length, 1);
    assert.equal((await t.call('DELETE', exampleUrl, { token: csp })).status, 200);
    assert.equal((await t.call('DELETE', exampleUrl, { token: csp })).status, 204);
    assert.equal((await t.call('DELETE', `${url}?${API}`, { token: csp })).status, 200);
    assert.equal((await t.call('DELETE', `${url}?${API}`, { token: csp })).status, 204);
    const gone = await t.call('GET', `${url}?${API}`, { token: csp });
    schemas.assertSchema(schemas.ErrorResponse, gone.body, 'deleted registration');
    assert.equal(gone.body.error.code, 'RegistrationNotFound');
  });

  it('dates each link from its PUT to its DELETE, and keeps the history when it is added again', async () => {
    const c = await customerWithSubscription(t, 'dated');
    const cloudId = t.b.stacks.local.cloudId;
    const clock = async () =>
      new Date(
        (
          await t.call('GET', `${t.b.hub.arm}/providers/Stackledger.System/clock?api-version=2026-11-01`, {
            token: csp,
          })
        ).body.now,
      );
    const holderAt = async (at: Date) =>
      (await registrationStore.linkAt(hubDb.db, cloudId, c.customerId, at))?.customer_subscription_id;
    await advance('PT1H');
    const t1 = await clock();
    assert.equal((await link(c.subscriptionId)).status, 200);
    await advance('P2D');
    const t2 = await clock();
    assert.equal(
      (await t.call('DELETE', `${regUrl}/customerSubscriptions/${c.subscriptionId}?${API}`, { token: csp })).status,
      200,
    );
    await advance('PT5H');
    const t3 = await clock();
    assert.equal((await link(c.subscriptionId)).status, 200);

    const minute = 60_000;
    assert.equal(await holderAt(new Date(t1.getTime() - minute)), undefined, 'not before its PUT');
    assert.equal(await holderAt(t1), c.subscriptionId, 'from the time of its PUT');
    assert.equal(await holderAt(new Date(t2.getTime() - minute)), c.subscriptionId);
    assert.equal(await holderAt(t2), undefined, 'not from its DELETE on');
    assert.equal(await holderAt(new Date(t3.getTime() - minute)), undefined);
    assert.equal(await holderAt(new Date(t3.getTime() + minute)), c.subscriptionId, 'again after it was added again');
    const { rows } = await hubDb.pool.query(
      'select valid_from, valid_to from customer_subscription_links where customer_subscription_id = $1 order by id',
      [c.subscriptionId],
    );
    assert.deepEqual(
      rows.map((r: { valid_from: Date; valid_to: Date }) => [
        r.valid_from.toISOString(),
        r.valid_to?.toISOString() ?? null,
      ]),
      [
        [t1.toISOString(), t2.toISOString()],
        [t3.toISOString(), null],
      ],
    );
  });

  it('keeps each deployment separate: a customer linked on one registration is not on another', async () => {
    // A second deployment, `east`, started as its own stack and registered by the CSP.
    const { operator, csp: cspCreds } = t.b;
    const east = await startStackOnly({
      dataDir: path.join(t.dataDir, 'east'),
      port: 0,
      databaseUrl: withDatabase(testServerUrl(), `${t.dbPrefix}_east`),
      clock: new Date('2026-03-01T00:00:00Z'),
      logger: pino({ level: 'silent' }),
      name: 'east',
      location: 'east',
      hubArm: t.b.hub.arm,
      hubCaFile: t.b.caFile,
      operator,
    });
    try {
      const eastEntry = east.stackBootstrap.stacks.east;
      const http = new HttpClient(
        [readFileSync(t.b.caFile!, 'utf8'), readFileSync(east.stackBootstrap.caFile!, 'utf8')].join('\n'),
      );
      try {
        const registered = await registerStack({
          http,
          hub: t.b.hub,
          stackAdminArm: eastEntry.adminArm,
          operator,
          csp: cspCreds,
          registration: { subscriptionId: sub, resourceGroup: rg, name: 'stack-east' },
          approve: true,
        });
        assert.equal(registered.properties.cloudId, eastEntry.cloudId);
        assert.notEqual(eastEntry.cloudId, t.b.stacks.local.cloudId);
      } finally {
        await http.close();
      }
      const eastUrl = `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.AzureStack/registrations/stack-east`;
      const a = await customerWithSubscription(t, 'only-local');
      const b = await customerWithSubscription(t, 'on-both');
      assert.equal((await link(a.subscriptionId)).status, 200);
      assert.equal((await link(b.subscriptionId)).status, 200);
      assert.equal((await link(b.subscriptionId, undefined, csp, eastUrl)).status, 200);
      assert.ok((await links()).includes(`${a.customerId} ${name}/${a.subscriptionId}`));
      assert.deepEqual(await links(eastUrl), [`${b.customerId} stack-east/${b.subscriptionId}`]);
      const notThere = await t.call('GET', `${eastUrl}/customerSubscriptions/${a.subscriptionId}?${API}`, {
        token: csp,
      });
      assert.equal(notThere.status, 404);
      assert.equal(notThere.body.error.code, 'CustomerSubscriptionNotFound');
      const now = new Date(Date.UTC(2027, 0, 1));
      assert.equal(await registrationStore.linkAt(hubDb.db, eastEntry.cloudId, a.customerId, now), undefined);
      assert.equal(
        (await registrationStore.linkAt(hubDb.db, eastEntry.cloudId, b.customerId, now))?.customer_subscription_id,
        b.subscriptionId,
      );
      assert.equal(
        (await registrationStore.linkAt(hubDb.db, t.b.stacks.local.cloudId, a.customerId, now))
          ?.customer_subscription_id,
        a.subscriptionId,
      );
    } finally {
      await east.stop();
    }
  });
});
