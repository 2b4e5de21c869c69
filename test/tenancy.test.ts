// Step 7 of the seed: the operator onboards a customer's directory, the directory consents, and
// only then its users sign in to the deployment.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { customerWithSubscription } from './helpers/partner.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

describe('multi-tenancy on the stack', () => {
  let t: TestSystem;
  let admin: string; // the stack's admin endpoint
  let tenant: string; // the stack's tenant endpoint
  let operator: string;
  let dtUrl: (name: string) => string;

  before(async () => {
    t = await startTestSystem();
    ({ adminArm: admin, tenantArm: tenant } = t.b.stacks.local);
    operator = await t.appToken('operator', admin);
    dtUrl = (name) =>
      `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/resourcegroups/system.local/providers/Microsoft.Subscriptions.Admin/directoryTenants/${name}?api-version=2015-11-01`;
  });
  after(() => t.stop());

  it('admits a guest directory only after onboarding and consent, and refuses it again after offboarding', async () => {
    const c = await customerWithSubscription(t, 'guestdir');
    const domain = 'guestdir.onstackledger.local';
    const userOnStack = () => t.userToken(c.customerId, c.admin.userName, c.admin.password, tenant);
    const listSubs = async () =>
      t.call('GET', `${tenant}/subscriptions?api-version=2022-12-01`, { token: await userOnStack() });

    const notOnboarded = await listSubs();
    assert.equal(notOnboarded.status, 401);
    assert.equal(notOnboarded.body.error.code, 'DirectoryTenantNotOnboarded');
    assert.match(notOnboarded.body.error.message, /directoryTenants/);

    // The operator onboards the directory by its domain.
    const onboarded = await t.call('PUT', dtUrl(domain), {
      token: operator,
      body: { location: 'local', properties: { tenantId: c.customerId } },
    });
    assert.equal(onboarded.status, 201, JSON.stringify(onboarded.body));
    assert.equal(onboarded.body.properties.tenantId, c.customerId);
    assert.equal(onboarded.body.type, 'Microsoft.Subscriptions.Admin/directoryTenants');
    assert.equal(
      (await t.call('PUT', dtUrl(domain), { token: operator, body: { properties: { tenantId: c.customerId } } }))
        .status,
      200,
    );

    const noConsent = await listSubs();
    assert.equal(noConsent.status, 401);
    assert.equal(noConsent.body.error.code, 'DirectoryTenantConsentMissing');
    assert.ok(
      noConsent.body.error.message.includes(t.b.stacks.local.applicationId),
      'the message names the application to consent to',
    );

    // Consent: only an administrator of that directory may create the service principal.
    const graph = await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.graph);
    const consent = await t.call('POST', `${t.b.hub.graph}/v1.0/servicePrincipals`, {
      token: graph,
      body: { appId: t.b.stacks.local.applicationId },
    });
    assert.equal(consent.status, 201, JSON.stringify(consent.body));
    const allowed = await listSubs();
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    assert.deepEqual(allowed.body.value, []);

    const listed = await t.call('GET', dtUrl('').replace(/\/\?/, '?'), { token: operator });
    assert.ok(
      listed.body.value.some((d: { properties: { tenantId: unknown } }) => d.properties.tenantId === c.customerId),
    );
    assert.equal(
      (await t.call('GET', dtUrl(c.customerId), { token: operator })).body.name,
      domain,
      'found by tenant id as well',
    );

    assert.equal((await t.call('DELETE', dtUrl(domain), { token: operator })).status, 200);
    assert.equal((await t.call('DELETE', dtUrl(domain), { token: operator })).status, 204);
    const offboarded = await listSubs();
    assert.equal(offboarded.status, 401);
    assert.equal(offboarded.body.error.code, 'DirectoryTenantNotOnboarded');
  });

  it('refuses unknown directories, a wrong tenant id, a place other than system.{location}, and callers who are not the operator', async () => {
    const unknown = await t.call('PUT', dtUrl('nowhere.onstackledger.local'), {
      token: operator,
      body: { properties: {} },
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, 'InvalidDirectoryTenant');
    const c = await customerWithSubscription(t, 'mismatch');
    const wrong = await t.call('PUT', dtUrl('mismatch.onstackledger.local'), {
      token: operator,
      body: { properties: { tenantId: t.b.csp.tenantId } },
    });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error.code, 'DirectoryTenantIdMismatch');
    const elsewhere = await t.call(
      'PUT',
      `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/resourcegroups/other/providers/Microsoft.Subscriptions.Admin/directoryTenants/${c.customerId}?api-version=2015-11-01`,
      { token: operator, body: { properties: {} } },
    );
    assert.equal(elsewhere.status, 400);
    const csp = await t.appToken('csp', admin);
    const notOperator = await t.call('PUT', dtUrl(c.customerId), { token: csp, body: { properties: {} } });
    assert.equal(notOperator.status, 403);
    assert.equal((await t.call('GET', dtUrl(c.customerId), { token: operator })).status, 404, 'nothing was written');
  });

  it("admits the CSP's own directory, onboarded by `up`, and the operator's home directory", async () => {
    const csp = await t.appToken('csp', tenant);
    assert.equal((await t.call('GET', `${tenant}/subscriptions?api-version=2022-12-01`, { token: csp })).status, 200);
    const home = await t.appToken('operator', tenant);
    assert.equal((await t.call('GET', `${tenant}/subscriptions?api-version=2022-12-01`, { token: home })).status, 200);
  });
});
