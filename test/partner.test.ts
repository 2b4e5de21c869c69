// Steps 1-3 of the seed over HTTP, exactly as a CSP does them: customer, subscription, guest, Owner.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
const RG = 'api-version=2021-04-01';

describe('partner center and guest owners', () => {
  let t: TestSystem;
  let pc: string; // partner center base
  let graph: string;
  let arm: string;
  let csp: string; // the CSP's service principal, for the partner center

  before(async () => {
    t = await startTestSystem();
    ({ partnerCenter: pc, graph, arm } = t.b.hub);
    csp = await t.appToken('csp', pc);
  });
  after(() => t.stop());

  const newCustomer = async (prefix: string, token = csp) =>
    t.call('POST', `${pc}/v1/customers`, {
      token,
      body: {
        companyProfile: { domain: prefix, companyName: `${prefix} Ltd` },
        billingProfile: {
          email: `billing@${prefix}.example`,
          culture: 'en-US',
          language: 'en',
          companyName: `${prefix} Ltd`,
          defaultAddress: {
            addressLine1: '1 Main St',
            city: 'Redmond',
            state: 'WA',
            postalCode: '98052',
            country: 'US',
            firstName: 'Ada',
            lastName: 'Lovelace',
          },
        },
      },
    });

  const buyAzure = (customerId: string, token = csp) =>
    t.call('POST', `${pc}/v1/customers/${customerId}/orders`, {
      token,
      body: {
        referenceCustomerId: customerId,
        billingCycle: 'monthly',
        lineItems: [{ lineItemNumber: 0, offerId: 'MS-AZR-0145P', quantity: 1, friendlyName: 'Stack usage' }],
      },
    });

  const userToken = (tenant: string, user: string, password: string, resource: string) =>
    t.userToken(tenant, user, password, resource);

  it('lists the catalog with the CSP cloud subscription offer', async () => {
    const offers = await t.call('GET', `${pc}/v1/offers?country=US`, { token: csp });
    assert.equal(offers.status, 200);
    assert.equal(offers.body.attributes.objectType, 'Collection');
    const azure = offers.body.items.find((o: { id: unknown }) => o.id === 'MS-AZR-0145P');
    assert.ok(azure);
    assert.equal(azure.billing, 'usage');
    assert.equal(
      (await t.call('GET', `${pc}/v1/offers/MS-AZR-0145P?country=US`, { token: csp })).body.name,
      'Microsoft Azure',
    );
  });

  it('walks steps 1-3 with the customer managing its own directory and the CSP as guest Owner', async () => {
    // 1. The customer, with its own directory and first admin.
    const created = await newCustomer('fabrikam');
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const customer = created.body;
    assert.match(customer.id, /^[0-9a-f-]{36}$/);
    assert.equal(customer.companyProfile.tenantId, customer.id);
    assert.equal(customer.companyProfile.domain, 'fabrikam.onstackledger.local');
    assert.equal(customer.relationshipToPartner, 'reseller');
    assert.equal(customer.attributes.objectType, 'Customer');
    const { userName, password } = customer.userCredentials;
    assert.equal(userName, 'admin@fabrikam.onstackledger.local');
    const adminArm = await userToken(customer.id, userName, password, arm);
    assert.equal(decodeJwt(adminArm).tid, customer.id);

    // 2. A cloud subscription under the CSP offer, in the customer's directory.
    const order = await buyAzure(customer.id);
    assert.equal(order.status, 201, JSON.stringify(order.body));
    const subscriptionId = order.body.lineItems[0].subscriptionId;
    const sub = await t.call('GET', `${pc}/v1/customers/${customer.id}/subscriptions/${subscriptionId}`, {
      token: csp,
    });
    assert.equal(sub.body.status, 'active');
    assert.equal(sub.body.offerId, 'MS-AZR-0145P');
    assert.equal(sub.body.entitlementId, subscriptionId);
    const cloud = await t.call('GET', `${arm}/subscriptions/${subscriptionId}?api-version=2022-12-01`, {
      token: adminArm,
    });
    assert.equal(cloud.status, 200, 'the customer admin owns it');
    assert.equal(cloud.body.tenantId, customer.id);

    // 3. The customer's admin invites the CSP's admin as a guest.
    const adminGraph = await userToken(customer.id, userName, password, graph);
    const invitation = await t.call('POST', `${graph}/v1.0/invitations`, {
      token: adminGraph,
      body: { invitedUserEmailAddress: t.b.csp.admin.userName, inviteRedirectUrl: 'https://portal.example/' },
    });
    assert.equal(invitation.status, 201, JSON.stringify(invitation.body));
    assert.equal(invitation.body.status, 'PendingAcceptance');
    assert.equal(invitation.body.invitedUserType, 'Guest');
    const guestId = invitation.body.invitedUser.id;
    const users = await t.call('GET', `${graph}/v1.0/users`, { token: adminGraph });
    const byType = Object.fromEntries(
      users.body.value.map((u: { id: unknown; userType: unknown }) => [u.id, u.userType]),
    );
    assert.equal(byType[guestId], 'Guest');
    assert.equal(Object.values(byType).filter((x) => x === 'Member').length, 1);

    // The guest signs in to the customer's directory with its own credentials (redeeming the invitation).
    const guestArm = await userToken(customer.id, t.b.csp.admin.userName, t.b.csp.admin.password, arm);
    const claims = decodeJwt(guestArm);
    assert.equal(claims.tid, customer.id);
    assert.equal(claims.oid, guestId);
    assert.equal(claims.upn, t.b.csp.admin.userName, 'the same person');
    const guest = await t.call('GET', `${graph}/v1.0/users/${guestId}`, { token: adminGraph });
    assert.equal(guest.body.externalUserState, 'Accepted');

    // Before the role: 403. After the customer's admin makes the guest Owner: it manages the subscription.
    const rgUrl = `${arm}/subscriptions/${subscriptionId}/resourcegroups/csp-managed?${RG}`;
    const before = await t.call('PUT', rgUrl, { token: guestArm, body: { location: 'global' } });
    assert.equal(before.status, 403);
    assert.equal(before.body.error.code, 'AuthorizationFailed');
    const assignment = await t.call(
      'PUT',
      `${arm}/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`,
      {
        token: adminArm,
        body: {
          properties: {
            roleDefinitionId: `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${OWNER}`,
            principalId: guestId,
          },
        },
      },
    );
    assert.equal(assignment.status, 201, JSON.stringify(assignment.body));
    const afterRole = await t.call('PUT', rgUrl, { token: guestArm, body: { location: 'global' } });
    assert.equal(afterRole.status, 201);
    const guestSubs = await t.call('GET', `${arm}/subscriptions?api-version=2022-12-01`, { token: guestArm });
    assert.deepEqual(
      guestSubs.body.value.map((s: { subscriptionId: unknown }) => s.subscriptionId),
      [subscriptionId],
    );

    // The lifecycle is in the activity logs: the partner's and the customer directory's.
    const records = await t.call('GET', `${pc}/v1/auditrecords?startDate=2000-01-01`, { token: csp });
    const ops = records.body.items.map(
      (r: { operationType: unknown; resourceType: unknown }) => `${r.operationType} ${r.resourceType}`,
    );
    for (const op of ['CreateCustomer Customer', 'CreateOrder Order', 'CreateSubscription Subscription'])
      assert.ok(ops.includes(op), op);
    assert.ok(
      records.body.items.every((r: { resourceNewValue: unknown }) => !String(r.resourceNewValue).includes(password)),
      'no credential is logged',
    );
    const audits = await t.call(
      'GET',
      `${graph}/v1.0/auditLogs/directoryAudits?$filter=activityDateTime ge 2000-01-01T00:00:00Z`,
      { token: adminGraph },
    );
    const activities = audits.body.value.map((a: { activityDisplayName: unknown }) => a.activityDisplayName);
    assert.ok(activities.includes('Invite external user'));
    assert.ok(activities.includes('CreateSubscription'));
    const raised = audits.body.value.find(
      (a: { activityDisplayName: unknown }) => a.activityDisplayName === 'Create role assignment',
    );
    assert.ok(raised, 'raising the guest to Owner is recorded in the customer directory');
    assert.equal(raised.initiatedBy.user.id, decodeJwt(adminArm).oid);
    assert.equal(JSON.parse(raised.targetResources[0].modifiedProperties[0].newValue).principalId, guestId);
    const window = await t.call(
      'GET',
      `${graph}/v1.0/auditLogs/directoryAudits?$filter=activityDateTime ge 2000-01-01T00:00:00Z and activityDateTime le 2000-01-02T00:00:00Z`,
      { token: adminGraph },
    );
    assert.deepEqual(window.body.value, [], 'the time range is applied');
  });

  it('keeps the activity log append-only: no API changes it, and the database refuses to', async () => {
    const records = (await t.call('GET', `${pc}/v1/auditrecords`, { token: csp })).body.items;
    assert.ok(records.length > 0);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const res = await t.call(method, `${pc}/v1/auditrecords/${records[0].id}`, {
        token: csp,
        body: method === 'DELETE' ? undefined : { operationType: 'x' },
      });
      assert.equal(res.status, 404, method);
      const res2 = await t.call(method, `${pc}/v1/auditrecords`, {
        token: csp,
        body: method === 'DELETE' ? undefined : {},
      });
      assert.equal(res2.status, 404, method);
    }
    const db = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await db.connect();
    try {
      await assert.rejects(db.query('update activity_log set operation = $1', ['forged']), /append-only/);
      await assert.rejects(db.query('delete from activity_log'), /append-only/);
    } finally {
      await db.end();
    }
    assert.equal((await t.call('GET', `${pc}/v1/auditrecords`, { token: csp })).body.items.length, records.length);
  });

  it('walks the other way: the CSP keeps the directory and hands the customer a user of its own', async () => {
    const customer = (await newCustomer('contoso')).body;
    const subscriptionId = (await buyAzure(customer.id)).body.lineItems[0].subscriptionId;
    // The CSP signs in as the customer's first admin (it holds those credentials) and creates a local user.
    const { userName, password } = customer.userCredentials;
    const adminGraph = await userToken(customer.id, userName, password, graph);
    const localPassword = 'Local-User-Passw0rd!';
    const user = await t.call('POST', `${graph}/v1.0/users`, {
      token: adminGraph,
      body: {
        accountEnabled: true,
        displayName: 'Contoso operator',
        mailNickname: 'ops',
        userPrincipalName: 'ops@contoso.onstackledger.local',
        passwordProfile: { password: localPassword, forceChangePasswordNextSignIn: false },
      },
    });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    assert.equal(user.body.userType, 'Member');
    // The partner's own identity manages the subscription it sold (admin on behalf of) and gives the user Owner.
    const cspArm = await t.appToken('csp', arm);
    const assignment = await t.call(
      'PUT',
      `${arm}/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`,
      {
        token: cspArm,
        body: { properties: { roleDefinitionId: OWNER, principalId: user.body.id } },
      },
    );
    assert.equal(assignment.status, 201, JSON.stringify(assignment.body));
    const local = await userToken(customer.id, 'ops@contoso.onstackledger.local', localPassword, arm);
    // A member who is not an administrator of the directory may not invite or create users.
    const localGraph = await userToken(customer.id, 'ops@contoso.onstackledger.local', localPassword, graph);
    const denied = await t.call('POST', `${graph}/v1.0/invitations`, {
      token: localGraph,
      body: { invitedUserEmailAddress: t.b.csp.admin.userName, inviteRedirectUrl: 'https://x.example/' },
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'Authorization_RequestDenied');
    const badInvite = await t.call('POST', `${graph}/v1.0/invitations`, {
      token: adminGraph,
      body: { invitedUserEmailAddress: 'not-an-email', inviteRedirectUrl: 'https://x.example/' },
    });
    assert.equal(badInvite.status, 400);
    assert.equal(badInvite.body.error.code, 'Request_BadRequest');
    assert.equal(badInvite.body.error.target, 'invitedUserEmailAddress');
    const wrongDomain = await t.call('POST', `${graph}/v1.0/users`, {
      token: adminGraph,
      body: {
        displayName: 'x',
        userPrincipalName: 'x@elsewhere.example',
        passwordProfile: { password: localPassword },
      },
    });
    assert.equal(wrongDomain.status, 400);
    const again = await t.call('POST', `${graph}/v1.0/users`, {
      token: adminGraph,
      body: {
        displayName: 'x',
        userPrincipalName: 'ops@contoso.onstackledger.local',
        passwordProfile: { password: localPassword },
      },
    });
    assert.equal(again.status, 400);
    assert.match(again.body.error.message, /already exists/);
    assert.equal(
      (
        await t.call('PUT', `${arm}/subscriptions/${subscriptionId}/resourcegroups/app?${RG}`, {
          token: local,
          body: { location: 'global' },
        })
      ).status,
      201,
    );
    // The same user cannot act in another customer's directory.
    const fabrikam = (
      await t.call(
        'GET',
        `${pc}/v1/customers?filter=${encodeURIComponent(JSON.stringify({ Field: 'CompanyName', Value: 'fabrikam', Operator: 'starts_with' }))}`,
        { token: csp },
      )
    ).body.items[0];
    const refused = await t.call('POST', `${t.b.hub.login}/${fabrikam.id}/oauth2/token`, {
      form: {
        grant_type: 'password',
        client_id: '1950a258-227b-4e31-a9cf-717495945fc2',
        username: 'ops@contoso.onstackledger.local',
        password: localPassword,
        resource: arm,
      },
    });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body.error_codes, [50020]);
    const fabrikamSubs = (await t.call('GET', `${pc}/v1/customers/${fabrikam.id}/subscriptions`, { token: csp })).body
      .items;
    const crossed = await t.call('GET', `${arm}/subscriptions/${fabrikamSubs[0].id}/resourcegroups?${RG}`, {
      token: local,
    });
    assert.equal(crossed.status, 403);
  });

  it('moves subscriptions through their lifecycle and refuses illegal transitions', async () => {
    const customer = (await newCustomer('lifecycle')).body;
    const sid = (await buyAzure(customer.id)).body.lineItems[0].subscriptionId;
    const url = `${pc}/v1/customers/${customer.id}/subscriptions/${sid}`;
    const admin = await userToken(
      customer.id,
      customer.userCredentials.userName,
      customer.userCredentials.password,
      arm,
    );
    const state = async () =>
      (await t.call('GET', `${arm}/subscriptions/${sid}?api-version=2022-12-01`, { token: admin })).body.state;

    const suspended = await t.call('PATCH', url, { token: csp, body: { status: 'suspended' } });
    assert.equal(suspended.status, 200);
    assert.equal(suspended.body.status, 'suspended');
    assert.deepEqual(suspended.body.suspensionReasons, ['PartnerInitiated']);
    assert.equal(await state(), 'Disabled');
    const write = await t.call('PUT', `${arm}/subscriptions/${sid}/resourcegroups/x?${RG}`, {
      token: admin,
      body: { location: 'global' },
    });
    assert.equal(write.status, 409);
    assert.equal(write.body.error.code, 'ReadOnlyDisabledSubscription');

    // The whole resource back, as the vendor's documentation sends it.
    const whole = { ...suspended.body, status: 'active' };
    const active = await t.call('PATCH', url, {
      token: csp,
      body: { status: whole.status, friendlyName: whole.friendlyName, quantity: whole.quantity },
    });
    assert.equal(active.body.status, 'active');
    assert.equal(await state(), 'Enabled');

    const cancelled = await t.call('PATCH', url, { token: csp, body: { status: 'deleted' } });
    assert.equal(cancelled.body.status, 'deleted');
    assert.equal(
      (await t.call('GET', `${arm}/subscriptions/${sid}?api-version=2022-12-01`, { token: admin })).status,
      404,
    );
    const revive = await t.call('PATCH', url, { token: csp, body: { status: 'active' } });
    assert.equal(revive.status, 409);
    assert.equal(revive.body.code, 'SubscriptionStatusTransitionNotAllowed');
    assert.ok(revive.body.description);
    const bogus = await t.call('PATCH', url, { token: csp, body: { status: 'paused' } });
    assert.equal(bogus.status, 400);
    assert.equal(bogus.body.code, 'InvalidSubscriptionStatus');
    assert.equal((await t.call('GET', url, { token: csp })).body.status, 'deleted', 'nothing changed');

    const log = await t.call('GET', `${pc}/v1/auditrecords?startDate=2000-01-01`, { token: csp });
    const statuses = log.body.items
      .filter(
        (r: { resourceId: unknown; operationType: unknown }) =>
          r.resourceId === sid && r.operationType === 'UpdateSubscription',
      )
      .map(
        (r: { resourceOldValue: string; resourceNewValue: string }) =>
          `${JSON.parse(r.resourceOldValue).status}->${JSON.parse(r.resourceNewValue).status}`,
      );
    assert.deepEqual(statuses, ['active->suspended', 'suspended->active', 'active->deleted']);
  });

  it('refuses bad input with its own code and writes nothing', async () => {
    const before = (await t.call('GET', `${pc}/v1/customers?size=500`, { token: csp })).body.items.length;
    const missingDomain = await t.call('POST', `${pc}/v1/customers`, {
      token: csp,
      body: { companyProfile: {}, billingProfile: {} },
    });
    assert.equal(missingDomain.status, 400);
    assert.match(missingDomain.body.description, /companyProfile\.domain/);
    const badEmail = await t.call('POST', `${pc}/v1/customers`, {
      token: csp,
      body: { companyProfile: { domain: 'bademail' }, billingProfile: { email: 'not-an-email' } },
    });
    assert.equal(badEmail.status, 400);
    assert.equal(badEmail.body.code, 'InvalidEmail');
    const badDomain = await t.call('POST', `${pc}/v1/customers`, {
      token: csp,
      body: { companyProfile: { domain: 'has spaces!' } },
    });
    assert.equal(badDomain.status, 400);
    assert.equal(badDomain.body.code, 'InvalidDomain');
    assert.equal((await newCustomer('dupe')).status, 201);
    const duplicate = await newCustomer('DUPE');
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.code, 'DomainAlreadyExists');
    const afterCount = (await t.call('GET', `${pc}/v1/customers?size=500`, { token: csp })).body.items.length;
    assert.equal(afterCount, before + 1);

    const customer = (await t.call('GET', `${pc}/v1/customers?size=500`, { token: csp })).body.items.find(
      (c: { companyProfile: { domain: string } }) => c.companyProfile.domain.startsWith('dupe.'),
    );
    const unknownOffer = await t.call('POST', `${pc}/v1/customers/${customer.id}/orders`, {
      token: csp,
      body: { lineItems: [{ offerId: 'NOPE-123' }] },
    });
    assert.equal(unknownOffer.status, 400);
    assert.equal(unknownOffer.body.code, 'InvalidOfferId');
    const empty = await t.call('POST', `${pc}/v1/customers/${customer.id}/orders`, {
      token: csp,
      body: { lineItems: [] },
    });
    assert.equal(empty.status, 400);
    const unknownCustomer = await t.call('POST', `${pc}/v1/customers/${randomUUID()}/orders`, {
      token: csp,
      body: { lineItems: [{ offerId: 'MS-AZR-0145P' }] },
    });
    assert.equal(unknownCustomer.status, 404);
    assert.equal(unknownCustomer.body.code, 'CustomerNotFound');
    assert.deepEqual(
      (await t.call('GET', `${pc}/v1/customers/${customer.id}/subscriptions`, { token: csp })).body.items,
      [],
    );
    const noToken = await t.call('GET', `${pc}/v1/customers`);
    assert.equal(noToken.status, 401);
    assert.ok(noToken.body.code && noToken.body.description);
  });

  it("isolates partners: a second CSP sees none of the first one's customers (404, not 403)", async () => {
    const first = (await t.call('GET', `${pc}/v1/customers?size=500`, { token: csp })).body.items[0];
    const firstSubs = (await t.call('GET', `${pc}/v1/customers/${first.id}/subscriptions`, { token: csp })).body.items;
    const systemToken = await t.appToken('csp', arm);
    const partner = await t.call('POST', `${arm}/providers/Stackledger.System/partners?api-version=2026-11-01`, {
      token: systemToken,
      body: { displayName: 'Other CSP', domainPrefix: 'othercsp' },
    });
    assert.equal(partner.status, 201, JSON.stringify(partner.body));
    const other = (
      await t.call('POST', `${t.b.hub.login}/${partner.body.tenantId}/oauth2/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: partner.body.clientId,
          client_secret: partner.body.clientSecret,
          resource: pc,
        },
      })
    ).body.access_token;
    assert.deepEqual((await t.call('GET', `${pc}/v1/customers`, { token: other })).body.items, []);
    for (const [method, url, body] of [
      ['GET', `${pc}/v1/customers/${first.id}`, undefined],
      ['GET', `${pc}/v1/customers/${first.id}/subscriptions`, undefined],
      ['GET', `${pc}/v1/customers/${first.id}/subscriptions/${firstSubs[0].id}`, undefined],
      ['PATCH', `${pc}/v1/customers/${first.id}/subscriptions/${firstSubs[0].id}`, { status: 'suspended' }],
      ['POST', `${pc}/v1/customers/${first.id}/orders`, { lineItems: [{ offerId: 'MS-AZR-0145P' }] }],
    ] as const) {
      const res = await t.call(method, url, { token: other, body });
      assert.equal(res.status, 404, `${method} ${url}`);
    }
    assert.equal(
      (await t.call('GET', `${pc}/v1/customers/${first.id}/subscriptions/${firstSubs[0].id}`, { token: csp })).body
        .status,
      'active',
    );
    // Its own identities have no rights on the first partner's customers' subscriptions either.
    const otherArm = (
      await t.call('POST', `${t.b.hub.login}/${partner.body.tenantId}/oauth2/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: partner.body.clientId,
          client_secret: partner.body.clientSecret,
          resource: arm,
        },
      })
    ).body.access_token;
    assert.equal(
      (await t.call('GET', `${arm}/subscriptions/${firstSubs[0].id}/resourcegroups?${RG}`, { token: otherArm })).status,
      403,
    );
    // A customer is not a partner.
    const customerToken = await userToken(first.id, `admin@${first.companyProfile.domain}`, 'wrong', pc).catch(
      () => undefined,
    );
    assert.equal(customerToken, undefined);
    const notPartner = await t.call('GET', `${pc}/v1/customers`, { token: await t.appToken('operator', pc) });
    assert.equal(notPartner.status, 403);
    // Only the system's administrators onboard partners.
    const refused = await t.call('POST', `${arm}/providers/Stackledger.System/partners?api-version=2026-11-01`, {
      token: otherArm,
      body: { displayName: 'x', domainPrefix: 'x' },
    });
    assert.equal(refused.status, 403);
  });

  it('registers a directory that already exists as a customer with a delegated relationship', async () => {
    // A directory with its own pay-as-you-go subscription: its admin created both without a partner.
    const systemToken = await t.appToken('csp', arm);
    const own = await t.call('POST', `${arm}/providers/Stackledger.System/partners?api-version=2026-11-01`, {
      token: systemToken,
      body: { displayName: 'Woodgrove', domainPrefix: 'woodgrove' },
    });
    const dir = own.body;
    const woodArm = await userToken(dir.tenantId, dir.admin.userName, dir.admin.password, arm);
    const alias = await t.call(
      'PUT',
      `${arm}/providers/Microsoft.Subscription/aliases/woodgrove-payg?api-version=2021-10-01`,
      {
        token: woodArm,
        body: { properties: { displayName: 'Woodgrove own', workload: 'Production' } },
      },
    );
    assert.equal(alias.status, 201, JSON.stringify(alias.body));
    const again = await t.call(
      'PUT',
      `${arm}/providers/Microsoft.Subscription/aliases/woodgrove-payg?api-version=2021-10-01`,
      { token: woodArm, body: { properties: {} } },
    );
    assert.equal(again.status, 200);
    assert.equal(again.body.properties.subscriptionId, alias.body.properties.subscriptionId);

    const request = await t.call('GET', `${pc}/v1/customers/relationshiprequests`, { token: csp });
    assert.equal(request.status, 200);
    const woodPc = await userToken(dir.tenantId, dir.admin.userName, dir.admin.password, pc);
    const accepted = await t.call('POST', request.body.url, { token: woodPc });
    assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
    assert.equal(accepted.body.relationshipToPartner, 'delegated');
    assert.equal(accepted.body.id, dir.tenantId);
    assert.equal(accepted.body.userCredentials, undefined);
    const seen = await t.call('GET', `${pc}/v1/customers/${dir.tenantId}`, { token: csp });
    assert.equal(seen.status, 200);
    // The partner may now sell into that directory; its own subscription stays its own.
    const order = await buyAzure(dir.tenantId);
    assert.equal(order.status, 201);
    const subs = (
      await t.call('GET', `${pc}/v1/customers/${dir.tenantId}/subscriptions`, { token: csp })
    ).body.items.map((s: { id: unknown }) => s.id);
    assert.ok(!subs.includes(alias.body.properties.subscriptionId));
  });

  it('pages the customer list with MS-ContinuationToken', async () => {
    const seen: string[] = [];
    let page = await t.call('GET', `${pc}/v1/customers?size=2`, { token: csp });
    for (;;) {
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((c: { id: unknown }) => c.id));
      const next = page.body.links?.next;
      if (!next) break;
      assert.match(next.uri, /^\/v1\/customers\?size=2$/);
      page = await t.call('GET', `${pc}${next.uri}`, {
        token: csp,
        headers: { [next.headers[0].key]: next.headers[0].value },
      });
    }
    assert.ok(seen.length >= 4);
    assert.equal(new Set(seen).size, seen.length);
  });
});
