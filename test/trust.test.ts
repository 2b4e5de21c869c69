// Trust boundaries, tried as a hostile customer would: rights come from role assignments at the
// root scope `/` or on a subscription, never from membership of a directory; the billed party never
// writes its own usage; nobody reads the operator's usage or the price sheets without the right.
// Each attack runs through HTTP as described in the issue and must fail closed, writing nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { OWNER, SYSTEM_ADMINISTRATOR, USAGE_REPORTER } from '../src/arm/roles.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { withDatabase } from '../src/db/database.ts';
import { startSystem, type RunningSystem } from '../src/system/up.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';
import { tenantSubscription } from './helpers/stack.ts';

const V = 'api-version=2026-11-01';
const AUTHZ = 'api-version=2022-04-01';
const BASE_VM = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';

describe('trust boundaries: roles, not membership', () => {
  let t: TestSystem;
  let csp: string;
  let customer: CustomerWithSubscription;
  let customerAdmin: string; // Owner of its own CSP subscription
  let member: { token: string; objectId: string }; // a plain user of the CSP's own directory
  let reporter: { token: string; objectId: string }; // an application of the CSP's directory
  let tenantSub: string; // the customer's subscription on the stack

  const hub = () => t.b.hub.arm;
  const events = (token: string, body: unknown) =>
    t.call('POST', `${hub()}/providers/Stackledger.Usage/events?${V}`, {
      token,
      body,
      headers: { 'content-type': 'application/cloudevents-batch+json' },
    });
  const event = (subject: string, quantity: string, extra: Record<string, unknown> = {}) => ({
    specversion: '1.0',
    id: randomUUID(),
    source: 'urn:test:meter',
    type: 'usage',
    subject,
    time: '2026-03-10T10:00:00Z',
    data: { meterId: BASE_VM, quantity, resourceUri: '/meter/x', ...extra },
  });
  const assignAtRoot = (role: string, principalId: string, token = csp) =>
    t.call('PUT', `${hub()}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?${AUTHZ}`, {
      token,
      body: {
        properties: { roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${role}`, principalId },
      },
    });
  const usageOf = async (subscriptionId: string) => {
    const res = await t.call(
      'GET',
      `${hub()}/subscriptions/${subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-03-01T00:00:00Z&reportedEndTime=2026-03-10T12:00:00Z&aggregationGranularity=Hourly`,
      { token: csp },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.value.map((r: { properties: { quantity: unknown } }) => r.properties.quantity);
  };

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-03-10T12:00:00Z') });
    csp = await t.appToken('csp', hub());
    customer = await customerWithSubscription(t, 'hostile');
    customerAdmin = await t.userToken(customer.customerId, customer.admin.userName, customer.admin.password, hub());
    // A plain member of the CSP's directory, made by the CSP's own automation.
    const graph = await t.appToken('csp', t.b.hub.graph);
    const domain = t.b.csp.admin.userName.split('@')[1];
    const password = 'Member-Passw0rd!';
    const user = await t.http.call('POST', `${t.b.hub.graph}/v1.0/users`, {
      token: graph,
      body: { displayName: 'Plain member', userPrincipalName: `member@${domain}`, passwordProfile: { password } },
    });
    const memberToken = await t.userToken(t.b.csp.tenantId, `member@${domain}`, password, hub());
    member = { token: memberToken, objectId: user.id };
    // An external meter's application, in the CSP's directory.
    const app = await t.http.call('POST', `${t.b.hub.graph}/v1.0/applications`, {
      token: graph,
      body: { displayName: 'backup meter' },
    });
    await t.http.call('POST', `${t.b.hub.graph}/v1.0/servicePrincipals`, { token: graph, body: { appId: app.appId } });
    const secret = await t.http.call('POST', `${t.b.hub.graph}/v1.0/applications/${app.appId}/addPassword`, {
      token: graph,
      body: {},
    });
    const token = await t.http.call('POST', `${t.b.hub.login}/${t.b.csp.tenantId}/oauth2/token`, {
      form: {
        grant_type: 'client_credentials',
        client_id: app.appId,
        client_secret: secret.secretText,
        resource: hub(),
      },
    });
    reporter = { token: token.access_token, objectId: String(decodeJwt(token.access_token).oid) };
  });
  after(async () => t?.stop());

  it('gives a plain member of the CSP directory no administration: no price change, no clock move', async () => {
    const price = await t.call(
      'PUT',
      `${hub()}/providers/Stackledger.Billing/priceSheets/list/meters/${BASE_VM}?${V}`,
      {
        token: member.token,
        body: { effectiveFrom: '2026-03-11', tiers: [{ unitPrice: '0' }] },
      },
    );
    assert.equal(price.status, 403, JSON.stringify(price.body));
    assert.equal(price.body.error.code, 'AuthorizationFailed');
    const clock = await t.call('POST', `${hub()}/providers/Stackledger.System/clock/advance?${V}`, {
      token: member.token,
      body: { duration: 'PT1H' },
    });
    assert.equal(clock.status, 403);
    const now = await t.call('GET', `${hub()}/providers/Stackledger.System/clock?${V}`, { token: csp });
    assert.equal(now.body.now, '2026-03-10T12:00:00.000Z', 'the clock did not move');
    const sheet = await t.call('GET', `${hub()}/providers/Stackledger.Billing/priceSheets/list?${V}`, { token: csp });
    const base =
      sheet.body.meters?.find?.((m: { meterId: unknown }) => m.meterId === BASE_VM) ?? JSON.stringify(sheet.body);
    assert.doesNotMatch(JSON.stringify(base), /2026-03-11/, 'no price was written');
  });

  it("gives another directory's application consented into the CSP's directory no partner rights (as the stack's own application is)", async () => {
    const customerGraph = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      t.b.hub.graph,
    );
    const app = await t.http.call('POST', `${t.b.hub.graph}/v1.0/applications`, {
      token: customerGraph,
      body: { displayName: 'foreign app' },
    });
    const secret = await t.http.call('POST', `${t.b.hub.graph}/v1.0/applications/${app.appId}/addPassword`, {
      token: customerGraph,
      body: {},
    });
    const cspGraph = await t.appToken('csp', t.b.hub.graph);
    assert.equal(
      (await t.call('POST', `${t.b.hub.graph}/v1.0/servicePrincipals`, { token: cspGraph, body: { appId: app.appId } }))
        .status,
      201,
    );
    const tokenFor = async (resource: string) =>
      (
        await t.http.call('POST', `${t.b.hub.login}/${t.b.csp.tenantId}/oauth2/token`, {
          form: { grant_type: 'client_credentials', client_id: app.appId, client_secret: secret.secretText, resource },
        })
      ).access_token as string;
    const customers = await t.call('GET', `${t.b.hub.partnerCenter}/v1/customers`, {
      token: await tokenFor(t.b.hub.partnerCenter),
    });
    assert.equal(customers.status, 403, JSON.stringify(customers.body));
    const sold = await t.call('GET', `${hub()}/subscriptions/${customer.subscriptionId}?api-version=2020-01-01`, {
      token: await tokenFor(hub()),
    });
    assert.equal(sold.status, 403, 'no admin on behalf of what the CSP sold');
    const invoices = await t.call('GET', `${hub()}/providers/Stackledger.Billing/priceOverrides?${V}`, {
      token: await tokenFor(hub()),
    });
    assert.equal(invoices.status, 403);
  });

  it("answers a subscription's usage to its Owner and the partner that sold it, not to another customer nor to a plain member of the partner", async () => {
    const usage = (subscriptionId: string, token: string) =>
      t.call(
        'GET',
        `${hub()}/subscriptions/${subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-03-01T00:00:00Z&reportedEndTime=2026-03-10T12:00:00Z&aggregationGranularity=Hourly`,
        { token },
      );
    const other = await customerWithSubscription(t, 'hostile-b');
    const otherAdmin = await t.userToken(other.customerId, other.admin.userName, other.admin.password, hub());
    // Its Owner (a role assignment at the subscription) and the partner that sold it (implied).
    for (const token of [customerAdmin, csp]) {
      const res = await usage(customer.subscriptionId, token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    // Another customer's Owner, and a plain member of the partner's directory: admin on behalf of
    // is for those who administer the partner's directory, not for every member of it.
    for (const [who, token] of Object.entries({ otherAdmin, member: member.token })) {
      const res = await usage(customer.subscriptionId, token);
      assert.equal(res.status, 403, `${who}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'AuthorizationFailed');
    }
    // Nor is the partner center theirs.
    const pc = t.b.hub.partnerCenter;
    const memberName = `member@${t.b.csp.admin.userName.split('@')[1]}`;
    const memberAtPc = await t.userToken(t.b.csp.tenantId, memberName, 'Member-Passw0rd!', pc);
    const customers = await t.call('GET', `${pc}/v1/customers`, { token: memberAtPc });
    assert.equal(customers.status, 403, JSON.stringify(customers.body));
    const asPartner = await t.call('GET', `${pc}/v1/customers`, { token: await t.appToken('csp', pc) });
    assert.equal(asPartner.status, 200, JSON.stringify(asPartner.body));
    // The partner's own registration subscription, to a customer.
    const registration = await usage(t.b.csp.registrationSubscriptionId, customerAdmin);
    assert.equal(registration.status, 403, JSON.stringify(registration.body));
    // A subscription that does not exist is a 404 to anyone, before any rights; a malformed id a 400.
    for (const token of [csp, otherAdmin]) {
      const missing = await usage(randomUUID(), token);
      assert.equal(missing.status, 404, JSON.stringify(missing.body));
      assert.equal(missing.body.error.code, 'SubscriptionNotFound');
    }
    const malformed = await usage('not-a-guid', csp);
    assert.equal(malformed.status, 400, JSON.stringify(malformed.body));
    assert.equal(malformed.body.error.code, 'InvalidSubscriptionId');
  });

  it('makes a system administrator by a role assignment at the root scope, which only an administrator may give', async () => {
    const byCustomer = await assignAtRoot(SYSTEM_ADMINISTRATOR, member.objectId, customerAdmin);
    assert.equal(byCustomer.status, 403);
    const atSubscription = await t.call(
      'PUT',
      `${hub()}/subscriptions/${customer.subscriptionId}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?${AUTHZ}`,
      {
        token: customerAdmin,
        body: { properties: { roleDefinitionId: SYSTEM_ADMINISTRATOR, principalId: member.objectId } },
      },
    );
    assert.equal(atSubscription.status, 400);
    assert.equal(atSubscription.body.error.code, 'InvalidRoleAssignmentScope');
    const ownerAtRoot = await assignAtRoot(OWNER, member.objectId);
    assert.equal(ownerAtRoot.status, 400, 'Owner is not assignable at the root scope');
    const given = await assignAtRoot(SYSTEM_ADMINISTRATOR, member.objectId);
    assert.equal(given.status, 201, JSON.stringify(given.body));
    assert.equal(given.body.id, `/providers/Microsoft.Authorization/roleAssignments/${given.body.name}`);
    const listed = await t.call('GET', `${hub()}/providers/Microsoft.Authorization/roleAssignments?${AUTHZ}`, {
      token: csp,
    });
    assert.ok(
      listed.body.value.some(
        (a: { properties: { principalId: unknown } }) => a.properties.principalId === member.objectId,
      ),
    );
    assert.equal(
      (await t.call('GET', `${hub()}/providers/Stackledger.System/clock?${V}`, { token: member.token })).status,
      200,
    );
    const removed = await t.call(
      'DELETE',
      `${hub()}/providers/Microsoft.Authorization/roleAssignments/${given.body.name}?${AUTHZ}`,
      { token: csp },
    );
    assert.equal(removed.status, 200);
    assert.equal(
      (await t.call('GET', `${hub()}/providers/Stackledger.System/clock?${V}`, { token: member.token })).status,
      403,
    );
  });

  it("refuses the billed customer's own usage events, negative ones and malformed ones alike, before reading them", async () => {
    const before = await usageOf(customer.subscriptionId);
    for (const body of [
      [event(customer.subscriptionId, '100000')],
      [event(customer.subscriptionId, '-1000000')],
      'not even json',
      [{ nonsense: true }],
    ]) {
      const res = await events(customerAdmin, body);
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'AuthorizationFailed');
    }
    await t.call('POST', `${hub()}/providers/Stackledger.System/clock/advance?${V}`, {
      token: csp,
      body: { duration: 'PT1H' },
    });
    assert.deepEqual(await usageOf(customer.subscriptionId), before, 'nothing was written');
  });

  it('takes usage events from a Usage Reporter on its scope only; corrections only from an administrator, with a reason, in the activity log', async () => {
    const other = await customerWithSubscription(t, 'bystander');
    assert.equal((await events(reporter.token, [event(customer.subscriptionId, '1')])).status, 403, 'no role yet');
    const onOne = await t.call(
      'PUT',
      `${hub()}/subscriptions/${customer.subscriptionId}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?${AUTHZ}`,
      {
        token: csp,
        body: { properties: { roleDefinitionId: USAGE_REPORTER, principalId: reporter.objectId } },
      },
    );
    assert.equal(onOne.status, 201, JSON.stringify(onOne.body));
    const mine = await events(reporter.token, [event(customer.subscriptionId, '2.5')]);
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    assert.equal(mine.body.new, 1);
    const elsewhere = await events(reporter.token, [event(other.subscriptionId, '1')]);
    assert.equal(elsewhere.status, 403, 'a reporter on one subscription writes only there');
    const negative = await events(reporter.token, [event(customer.subscriptionId, '-1', { reason: 'oops' })]);
    assert.equal(negative.status, 403, 'a reporter may not correct');
    const future = await events(reporter.token, [
      { ...event(customer.subscriptionId, '1'), time: '2026-03-10T15:00:00Z' },
    ]);
    assert.equal(future.status, 400);
    assert.equal(future.body.error.code, 'EventTimeInFuture');
    const closed = await events(reporter.token, [
      { ...event(customer.subscriptionId, '1'), time: '2026-01-15T00:00:00Z' },
    ]);
    assert.equal(closed.status, 400);
    assert.equal(closed.body.error.code, 'EventTimeInClosedPeriod');
    const noReason = await events(csp, [event(customer.subscriptionId, '-1')]);
    assert.equal(noReason.status, 400);
    assert.equal(noReason.body.error.code, 'CorrectionReasonRequired');
    const correction = event(customer.subscriptionId, '-1', { reason: 'double-counted backup' });
    const corrected = await events(csp, [correction]);
    assert.equal(corrected.status, 200, JSON.stringify(corrected.body));
    assert.equal((await events(csp, [correction])).body.duplicates, 1);
    // The customer's directory keeps the record: its administrator sees who corrected its usage, and why.
    const graph = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      t.b.hub.graph,
    );
    const audit = await t.call('GET', `${t.b.hub.graph}/v1.0/auditLogs/directoryAudits`, { token: graph });
    const logged = audit.body.value.filter(
      (r: { activityDisplayName: unknown }) => r.activityDisplayName === 'Correct usage',
    );
    assert.equal(
      logged.length,
      1,
      `one entry, even for the retried correction: ${JSON.stringify(audit.body.value.map((r: { activityDisplayName: unknown }) => r.activityDisplayName))}`,
    );
    assert.match(JSON.stringify(logged[0]), /double-counted backup/);
  });

  it("refuses the tenant's own storage capacity report, and takes the storage service's", async () => {
    const { user, sub } = await tenantSubscription(t, customer, 'storage');
    tenantSub = sub;
    const account = `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/data01`;
    assert.equal(
      (
        await t.call('PUT', `${account}?api-version=2019-06-01`, {
          token: user,
          body: { location: 'local', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
        })
      ).status,
      200,
    );
    const byTenant = await t.call('POST', `${account}/usedCapacity?${V}`, { token: user, body: { blobGb: 0 } });
    assert.equal(byTenant.status, 403);
    const read = await t.call('GET', `${account}?api-version=2019-06-01`, { token: user });
    assert.equal(JSON.stringify(read.body).includes('"blobGb":0'), false, 'nothing was written');
    const service = await t.appToken('operator', t.b.stacks.local.tenantArm);
    assert.equal(
      (await t.call('POST', `${account}/usedCapacity?${V}`, { token: service, body: { blobGb: 7 } })).status,
      200,
    );
  });

  it("answers the operator's usage API only on the provider subscription and only to the operator", async () => {
    const admin = t.b.stacks.local.adminArm;
    const sub = tenantSub;
    const tenantOnAdmin = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      admin,
    );
    const query =
      'api-version=2015-06-01-preview&reportedStartTime=2026-03-10T00:00:00Z&reportedEndTime=2026-03-10T12:00:00Z&aggregationGranularity=Hourly';
    const own = await t.call(
      'GET',
      `${admin}/subscriptions/${sub}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates?${query}`,
      { token: tenantOnAdmin },
    );
    assert.ok([403, 404].includes(own.status), JSON.stringify(own.body));
    assert.equal(own.body.value, undefined, 'no record of anyone');
    const operator = await t.appToken('operator', admin);
    const provider = t.b.stacks.local.providerSubscriptionId;
    const operatorRead = await t.call(
      'GET',
      `${admin}/subscriptions/${provider}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates?${query}`,
      { token: operator },
    );
    assert.equal(operatorRead.status, 200, JSON.stringify(operatorRead.body));
    assert.equal(
      (
        await t.call(
          'GET',
          `${admin}/subscriptions/${sub}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates?${query}`,
          { token: operator },
        )
      ).status,
      404,
    );
  });

  it("answers chargeback for the subscription in its path: all tenants' on the provider subscription, one tenant's on its own", async () => {
    const admin = t.b.stacks.local.adminArm;
    const operator = await t.appToken('operator', admin);
    const user = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      t.b.stacks.local.tenantArm,
    );
    const other = randomUUID();
    const made = await t.call('PUT', `${t.b.stacks.local.tenantArm}/subscriptions/${other}?api-version=2015-11-01`, {
      token: user,
      body: { displayName: 'other', offerId: '/delegatedProviders/default/offers/base-offer' },
    });
    assert.ok(made.status < 300, JSON.stringify(made.body));
    await t.call('POST', `${hub()}/providers/Stackledger.System/clock/advance?${V}`, {
      token: csp,
      body: { duration: 'PT2H' },
    });
    const chargeback = async (sub: string) => {
      const res = await t.call(
        'GET',
        `${admin}/subscriptions/${sub}/providers/Stackledger.Billing/chargeback?${V}&period=2026-03`,
        { token: operator },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.value.map((v: { subscriptionId: unknown }) => v.subscriptionId);
    };
    assert.ok(
      (await chargeback(t.b.stacks.local.providerSubscriptionId)).includes(tenantSub),
      'the storage account of the tenant is charged',
    );
    assert.deepEqual(await chargeback(other), [], "another subscription's path shows none of it");
    assert.deepEqual(await chargeback(tenantSub), [tenantSub]);
  });

  it('shows price sheets and overrides to who sets them and to the partner buying under them, to nobody else', async () => {
    const sheet = `${hub()}/providers/Stackledger.Billing/priceSheets/list?${V}`;
    assert.equal((await t.call('GET', sheet, { token: customerAdmin })).status, 403);
    assert.equal((await t.call('GET', sheet, { token: csp })).status, 200);
    assert.equal(
      (await t.call('GET', `${hub()}/providers/Stackledger.Billing/priceOverrides?${V}`, { token: customerAdmin }))
        .status,
      403,
    );
    assert.equal(
      (
        await t.call('GET', `${hub()}/providers/Stackledger.Billing/priceOverrides?${V}&level=provider`, {
          token: customerAdmin,
        })
      ).status,
      403,
    );
    assert.equal(
      (await t.call('GET', `${hub()}/providers/Stackledger.Billing/priceOverrides?${V}&level=provider`, { token: csp }))
        .status,
      200,
    );
  });
});

describe('a folder from before roles', () => {
  it("gives the CSP's and the operator's principals their root-scope roles at its next start", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'stackledger-roles-'));
    const t = await startTestSystem({ dataDir, clock: new Date('2026-03-10T12:00:00Z') });
    let restarted: RunningSystem | undefined;
    const db = (role: string) =>
      new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_${role}`) });
    try {
      // What an old folder holds: no assignment at the root scope on either side.
      for (const role of ['hub', 'stack_local']) {
        const client = db(role);
        await client.connect();
        await client.query(`delete from role_assignments where scope_key = '/'`);
        await client.end();
      }
      const before = await t.call('GET', `${t.b.hub.arm}/providers/Stackledger.System/clock?${V}`, {
        token: await t.appToken('csp', t.b.hub.arm),
      });
      assert.equal(before.status, 403, 'without its role, the CSP does not run the system');
      await t.system.stop();
      restarted = await startSystem({
        port: 0,
        dataDir,
        databaseUrl: withDatabase(testServerUrl(), t.dbPrefix),
        clock: new Date('2026-03-10T12:00:00Z'),
        logger: pino({ level: 'silent' }),
      });
      const b = restarted.bootstrap;
      const token = async (who: 'csp' | 'operator', resource: string) =>
        (
          await t.http.call('POST', `${b.hub.login}/${b[who].tenantId}/oauth2/token`, {
            form: {
              grant_type: 'client_credentials',
              client_id: b[who].clientId,
              client_secret: b[who].clientSecret,
              resource,
            },
          })
        ).access_token as string;
      assert.equal(
        (
          await t.http.send('GET', `${b.hub.arm}/providers/Stackledger.System/clock?${V}`, {
            token: await token('csp', b.hub.arm),
          })
        ).status,
        200,
      );
      const bridge = await t.http.send('GET', `${b.stacks.local.adminArm}/providers/Stackledger.System/bridge?${V}`, {
        token: await token('operator', b.stacks.local.adminArm),
      });
      assert.equal(bridge.status, 200, JSON.stringify(bridge.body));
    } finally {
      await restarted?.stop();
      await t.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
