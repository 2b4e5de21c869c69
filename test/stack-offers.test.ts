// The operator's catalogue (quotas, plans, offers) and the subscriptions tenants take from it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { onboardCustomer } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const API = 'api-version=2015-11-01';

describe('offers and subscriptions on the stack', () => {
  let t: TestSystem;
  let admin: string;
  let tenant: string;
  let provider: string;
  let operator: string;
  let customer: CustomerWithSubscription;
  let user: string; // the customer's admin, on the tenant endpoint

  before(async () => {
    t = await startTestSystem();
    ({ adminArm: admin, tenantArm: tenant, providerSubscriptionId: provider } = t.b.stacks.local);
    operator = await t.appToken('operator', admin);
    customer = await customerWithSubscription(t, 'stacktenant');
    await onboardCustomer(t, customer);
    user = await t.userToken(customer.customerId, customer.admin.userName, customer.admin.password, tenant);
  });
  after(() => t.stop());

  it('has a public offer ready on a fresh system, and a tenant takes it', async () => {
    const offers = await t.call('GET', `${tenant}/offers?${API}`, { token: user });
    assert.equal(offers.status, 200);
    assert.deepEqual(
      offers.body.value.map((o: { id: unknown }) => o.id),
      ['/delegatedProviders/default/offers/base-offer'],
    );
    const subscriptionId = randomUUID();
    const created = await t.call('PUT', `${tenant}/subscriptions/${subscriptionId}?${API}`, {
      token: user,
      body: { displayName: 'Stack work', offerId: offers.body.value[0].id, subscriptionId },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body, {
      id: `/subscriptions/${subscriptionId}`,
      subscriptionId,
      displayName: 'Stack work',
      tenantId: customer.customerId,
      offerId: '/delegatedProviders/default/offers/base-offer',
      state: 'Enabled',
    });
    assert.equal(
      (
        await t.call('PUT', `${tenant}/subscriptions/${subscriptionId}?${API}`, {
          token: user,
          body: { displayName: 'Stack work', offerId: offers.body.value[0].id },
        })
      ).status,
      200,
    );
    const mine = await t.call('GET', `${tenant}/subscriptions?api-version=2022-12-01`, { token: user });
    assert.deepEqual(
      mine.body.value.map((s: { subscriptionId: unknown }) => s.subscriptionId),
      [subscriptionId],
    );
    // The creator is its Owner: it creates resource groups there.
    assert.equal(
      (
        await t.call('PUT', `${tenant}/subscriptions/${subscriptionId}/resourcegroups/app?api-version=2019-10-01`, {
          token: user,
          body: { location: 'local' },
        })
      ).status,
      201,
    );
    // The operator sees it with its directory and owner.
    const seen = await t.call(
      'GET',
      `${admin}/subscriptions/${provider}/providers/Microsoft.Subscriptions.Admin/subscriptions/${subscriptionId}?${API}`,
      { token: operator },
    );
    assert.equal(seen.status, 200);
    assert.equal(seen.body.tenantId, customer.customerId);
    assert.equal(seen.body.owner, customer.admin.userName);
    assert.match(seen.body.offerId, /\/providers\/Microsoft\.Subscriptions\.Admin\/offers\/base-offer$/);
  });

  it('refuses offers that are not public, and unknown ones', async () => {
    const planId = (
      await t.call('GET', `${admin}/subscriptions/${provider}/providers/Microsoft.Subscriptions.Admin/plans?${API}`, {
        token: operator,
      })
    ).body.value[0].id;
    const priv = await t.call(
      'PUT',
      `${admin}/subscriptions/${provider}/resourceGroups/plans/providers/Microsoft.Subscriptions.Admin/offers/private-offer?${API}`,
      {
        token: operator,
        body: { location: 'local', properties: { displayName: 'Private', state: 'Private', basePlanIds: [planId] } },
      },
    );
    assert.equal(priv.status, 201, JSON.stringify(priv.body));
    for (const offerId of [
      '/delegatedProviders/default/offers/private-offer',
      '/delegatedProviders/default/offers/nothing',
    ]) {
      const id = randomUUID();
      const res = await t.call('PUT', `${tenant}/subscriptions/${id}?${API}`, {
        token: user,
        body: { displayName: 'x', offerId },
      });
      assert.equal(res.status, 400, offerId);
      assert.equal(res.body.error.code, 'OfferNotFound');
      assert.equal(
        (await t.call('GET', `${tenant}/subscriptions/${id}?api-version=2022-12-01`, { token: user })).status,
        404,
      );
    }
    const listed = await t.call('GET', `${tenant}/offers?${API}`, { token: user });
    assert.ok(!listed.body.value.some((o: { name: unknown }) => o.name === 'private-offer'));
    // Made public, it is offered.
    await t.call(
      'PUT',
      `${admin}/subscriptions/${provider}/resourceGroups/plans/providers/Microsoft.Subscriptions.Admin/offers/private-offer?${API}`,
      { token: operator, body: { properties: { state: 'Public' } } },
    );
    assert.ok(
      (await t.call('GET', `${tenant}/offers?${API}`, { token: user })).body.value.some(
        (o: { name: unknown }) => o.name === 'private-offer',
      ),
    );
  });

  it('lets the operator manage quotas, plans and offers in the shapes of the specification', async () => {
    const quotaUrl = `${admin}/subscriptions/${provider}/providers/Microsoft.Compute.Admin/locations/local/quotas/small?api-version=2021-01-01`;
    const quota = await t.call('PUT', quotaUrl, {
      token: operator,
      body: { location: 'local', properties: { virtualMachineCount: 2, coresLimit: 4 } },
    });
    assert.equal(quota.status, 201, JSON.stringify(quota.body));
    assert.equal(quota.body.type, 'Microsoft.Compute.Admin/locations/quotas');
    assert.equal(quota.body.properties.virtualMachineCount, 2);
    assert.equal(quota.body.properties.coresLimit, 4);
    const bad = await t.call('PUT', quotaUrl, { token: operator, body: { properties: { coresLimit: -1 } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'InvalidQuotaValue');
    const storage = await t.call(
      'PUT',
      `${admin}/subscriptions/${provider}/providers/Microsoft.Storage.Admin/locations/local/quotas/small?api-version=2019-08-08`,
      {
        token: operator,
        body: { properties: { capacityInGb: 10, numberOfStorageAccounts: 1 } },
      },
    );
    assert.equal(storage.status, 201);
    const planUrl = `${admin}/subscriptions/${provider}/resourcegroups/plans/providers/Microsoft.Subscriptions.Admin/plans/small-plan?${API}`;
    const plan = await t.call('PUT', planUrl, {
      token: operator,
      body: { location: 'local', properties: { displayName: 'Small', quotaIds: [quota.body.id, storage.body.id] } },
    });
    assert.equal(plan.status, 201, JSON.stringify(plan.body));
    assert.deepEqual(plan.body.properties.quotaIds, [quota.body.id, storage.body.id]);
    const missingQuota = await t.call('PUT', planUrl, {
      token: operator,
      body: {
        properties: {
          quotaIds: [`/subscriptions/${provider}/providers/Microsoft.Compute.Admin/locations/local/quotas/nope`],
        },
      },
    });
    assert.equal(missingQuota.status, 400);
    assert.equal(missingQuota.body.error.code, 'QuotaNotFound');
    const offerUrl = `${admin}/subscriptions/${provider}/resourceGroups/plans/providers/Microsoft.Subscriptions.Admin/offers/small-offer?${API}`;
    const offer = await t.call('PUT', offerUrl, {
      token: operator,
      body: { location: 'local', properties: { displayName: 'Small', state: 'Public', maxSubscriptionsPerAccount: 1 } },
    });
    assert.equal(offer.status, 201);
    const linked = await t.call('POST', offerUrl.replace('?', '/link?'), {
      token: operator,
      body: { planName: 'small-plan', planLinkType: 'Base' },
    });
    assert.equal(linked.status, 200);
    assert.deepEqual(linked.body.properties.basePlanIds, [plan.body.id]);
    assert.equal((await t.call('DELETE', planUrl, { token: operator })).body.error.code, 'PlanInUse');
    // At most one subscription per account on this offer.
    const first = await t.call('PUT', `${tenant}/subscriptions/${randomUUID()}?${API}`, {
      token: user,
      body: { displayName: 'a', offerId: '/delegatedProviders/default/offers/small-offer' },
    });
    assert.equal(first.status, 201);
    const second = await t.call('PUT', `${tenant}/subscriptions/${randomUUID()}?${API}`, {
      token: user,
      body: { displayName: 'b', offerId: '/delegatedProviders/default/offers/small-offer' },
    });
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, 'MaxSubscriptionsPerAccountReached');
    const counted = await t.call('GET', offerUrl, { token: operator });
    assert.equal(counted.body.properties.subscriptionCount, 1);
    assert.equal((await t.call('DELETE', offerUrl, { token: operator })).body.error.code, 'OfferInUse');
    // A tenant cannot touch the catalogue.
    const tenantOnAdmin = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      admin,
    );
    assert.equal((await t.call('PUT', quotaUrl, { token: tenantOnAdmin, body: { properties: {} } })).status, 403);
  });

  it('lets the operator suspend, re-enable, set an owner and delete a tenant subscription', async () => {
    const id = randomUUID();
    assert.equal(
      (
        await t.call('PUT', `${tenant}/subscriptions/${id}?${API}`, {
          token: user,
          body: { displayName: 'managed', offerId: '/delegatedProviders/default/offers/base-offer' },
        })
      ).status,
      201,
    );
    const url = `${admin}/subscriptions/${provider}/providers/Microsoft.Subscriptions.Admin/subscriptions/${id}?${API}`;
    const all = await t.call(
      'GET',
      `${admin}/subscriptions/${provider}/providers/Microsoft.Subscriptions.Admin/subscriptions?${API}`,
      { token: operator },
    );
    assert.ok(all.body.value.some((s: { subscriptionId: unknown }) => s.subscriptionId === id));

    const suspended = await t.call('PUT', url, { token: operator, body: { properties: { state: 'Disabled' } } });
    assert.equal(suspended.status, 200);
    assert.equal(suspended.body.state, 'Disabled');
    const write = await t.call('PUT', `${tenant}/subscriptions/${id}/resourcegroups/x?api-version=2019-10-01`, {
      token: user,
      body: { location: 'local' },
    });
    assert.equal(write.status, 409);
    assert.equal(write.body.error.code, 'ReadOnlyDisabledSubscription');
    assert.equal(
      (await t.call('GET', `${tenant}/subscriptions/${id}?api-version=2022-12-01`, { token: user })).status,
      200,
      'reads still work',
    );
    assert.equal(
      (await t.call('PUT', url, { token: operator, body: { properties: { state: 'Enabled' } } })).body.state,
      'Enabled',
    );
    assert.equal(
      (
        await t.call('PUT', `${tenant}/subscriptions/${id}/resourcegroups/x?api-version=2019-10-01`, {
          token: user,
          body: { location: 'local' },
        })
      ).status,
      201,
    );

    // A new owner: a user of the same directory, found through the hub.
    const graph = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      t.b.hub.graph,
    );
    const password = 'Second-0wner-Passw0rd';
    await t.http.call('POST', `${t.b.hub.graph}/v1.0/users`, {
      token: graph,
      body: {
        displayName: 'Second owner',
        userPrincipalName: 'owner2@stacktenant.onstackledger.local',
        passwordProfile: { password },
      },
    });
    const owned = await t.call('PUT', url, {
      token: operator,
      body: { properties: { owner: 'owner2@stacktenant.onstackledger.local' } },
    });
    assert.equal(owned.status, 200, JSON.stringify(owned.body));
    assert.equal(owned.body.owner, 'owner2@stacktenant.onstackledger.local');
    const owner2 = await t.userToken(customer.customerId, 'owner2@stacktenant.onstackledger.local', password, tenant);
    assert.equal(
      (
        await t.call('PUT', `${tenant}/subscriptions/${id}/resourcegroups/y?api-version=2019-10-01`, {
          token: owner2,
          body: { location: 'local' },
        })
      ).status,
      201,
    );
    const nobody = await t.call('PUT', url, {
      token: operator,
      body: { properties: { owner: 'nobody@stacktenant.onstackledger.local' } },
    });
    assert.equal(nobody.status, 400);
    assert.equal(nobody.body.error.code, 'InvalidOwner');

    assert.equal((await t.call('DELETE', url, { token: operator })).status, 200);
    assert.equal((await t.call('DELETE', url, { token: operator })).status, 204);
    assert.equal(
      (await t.call('GET', `${tenant}/subscriptions/${id}?api-version=2022-12-01`, { token: user })).status,
      404,
    );
    const badState = await t.call(
      'PUT',
      `${admin}/subscriptions/${provider}/providers/Microsoft.Subscriptions.Admin/subscriptions/${provider}?${API}`,
      { token: operator, body: { properties: { state: 'Sleeping' } } },
    );
    assert.equal(badState.status, 400);
  });
});
