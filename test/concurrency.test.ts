// Eight identical creates at once answer as they would one after another: one creates (201 or 200)
// and the others get the conflict (409) or the idempotent success (200) that a repeat gets, never a
// 500 from a unique index.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';
import type { JsonResponse } from '../src/core/http-client.ts';

const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
const TABLE_METER = 'b4438d5d-453b-4ee1-b42a-dc72e377f1e4';
const AT_ONCE = 8;

describe('concurrent identical creates', () => {
  let t: TestSystem;
  let c: CustomerWithSubscription;

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-03-01T00:00:00Z') });
    c = await customerWithSubscription(t, 'racers');
  });
  after(() => t.stop());

  /**
   * Sends the same request AT_ONCE times together, then once more alone: one 2xx that created,
   * and every other concurrent answer the same as the lone repeat's.
   */
  async function race(send: () => Promise<JsonResponse>, created: number[], repeated: number) {
    const answers = await Promise.all(Array.from({ length: AT_ONCE }, send));
    const statuses = answers.map((a) => a.status).sort();
    for (const a of answers)
      assert.ok(a.status < 500, `a concurrent create answered ${a.status}: ${JSON.stringify(a.body)}`);
    const winners = answers.filter((a) => created.includes(a.status));
    if (created.includes(repeated)) {
      // An idempotent create: the first may say 201 (or 200), all the others 200.
      assert.ok(winners.length === AT_ONCE, `answers ${statuses}`);
      assert.ok(answers.filter((a) => a.status === 201).length <= 1, `answers ${statuses}`);
    } else {
      assert.equal(winners.length, 1, `answers ${statuses}`);
      assert.deepEqual(
        answers.filter((a) => !created.includes(a.status)).map((a) => a.status),
        Array(AT_ONCE - 1).fill(repeated),
        `answers ${statuses}`,
      );
    }
    const again = await send();
    assert.equal(again.status, repeated, `the lone repeat answered ${again.status}: ${JSON.stringify(again.body)}`);
  }

  it('customer domains through the partner center: one 201, seven 409', async () => {
    const token = await t.appToken('csp', t.b.hub.partnerCenter);
    const send = () =>
      t.call('POST', `${t.b.hub.partnerCenter}/v1/customers`, {
        token,
        body: { companyProfile: { domain: 'samedomain', companyName: 'Same Ltd' } },
      });
    await race(send, [201], 409);
  });

  it('directory users through the graph: one 201, seven conflicts', async () => {
    const token = await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.graph);
    const upn = `twin@${c.admin.userName.split('@')[1]}`;
    const body = {
      accountEnabled: true,
      displayName: 'Twin',
      mailNickname: 'twin',
      userPrincipalName: upn,
      passwordProfile: { password: 'Twin-Passw0rd!x', forceChangePasswordNextSignIn: false },
    };
    const first = await Promise.all(
      Array.from({ length: AT_ONCE }, () => t.call('POST', `${t.b.hub.graph}/v1.0/users`, { token, body })),
    );
    // What a repeat answers is the graph's own conflict code; the concurrent losers must answer it too.
    const repeat = await t.call('POST', `${t.b.hub.graph}/v1.0/users`, { token, body });
    assert.ok(repeat.status >= 400 && repeat.status < 500, `a repeat answered ${repeat.status}`);
    assert.deepEqual(
      first.map((a) => a.status).sort(),
      [201, ...Array(AT_ONCE - 1).fill(repeat.status)].sort(),
      JSON.stringify(first.map((a) => a.body)),
    );
    for (const loser of first.filter((a) => a.status !== 201))
      assert.equal(loser.body.error.code, repeat.body.error.code);
  });

  it('partners through Stackledger.System/partners: one 201, seven 409', async () => {
    const token = await t.appToken('csp', t.b.hub.arm);
    const send = () =>
      t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/partners?api-version=2026-11-01`, {
        token,
        body: { displayName: 'Twin CSP', domainPrefix: 'twincsp' },
      });
    await race(send, [200, 201], 409);
  });

  it('a price through Stackledger.Billing price sheets: all 200', async () => {
    const token = await t.appToken('csp', t.b.hub.arm);
    const send = () =>
      t.call(
        'PUT',
        `${t.b.hub.arm}/providers/Stackledger.Billing/priceSheets/list/meters/${TABLE_METER}?api-version=2026-11-01`,
        {
          token,
          body: {
            effectiveFrom: '2026-04-01',
            tiers: [
              { fromQuantity: '0', unitPrice: '0.002' },
              { fromQuantity: '50', unitPrice: '0.001' },
            ],
          },
        },
      );
    await race(send, [200, 201], 200);
  });

  it('resource groups: one 201, the others 200', async () => {
    const token = await t.appToken('csp', t.b.hub.arm);
    const send = () =>
      t.call('PUT', `${t.b.hub.arm}/subscriptions/${c.subscriptionId}/resourcegroups/twins?api-version=2021-04-01`, {
        token,
        body: { location: 'global' },
      });
    await race(send, [200, 201], 200);
  });

  it('role assignments: the same name once (201, then 200s), the same grant under new names 409', async () => {
    const token = await t.appToken('csp', t.b.hub.arm);
    const graph = await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.graph);
    const assignee = await t.call('POST', `${t.b.hub.graph}/v1.0/users`, {
      token: graph,
      body: {
        accountEnabled: true,
        displayName: 'Assignee',
        mailNickname: 'assignee',
        userPrincipalName: `assignee@${c.admin.userName.split('@')[1]}`,
        passwordProfile: { password: 'Assignee-Passw0rd!', forceChangePasswordNextSignIn: false },
      },
    });
    const principalId = assignee.body.id as string;
    const scope = `${t.b.hub.arm}/subscriptions/${c.subscriptionId}/providers/Microsoft.Authorization/roleAssignments`;
    const body = {
      properties: {
        roleDefinitionId: `/subscriptions/${c.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${OWNER}`,
        principalId,
      },
    };
    const name = randomUUID();
    await race(() => t.call('PUT', `${scope}/${name}?api-version=2022-04-01`, { token, body }), [200, 201], 200);
    // The same grant under other names: the one that exists wins, the others conflict.
    const others = await Promise.all(
      Array.from({ length: AT_ONCE }, () =>
        t.call('PUT', `${scope}/${randomUUID()}?api-version=2022-04-01`, { token, body }),
      ),
    );
    assert.deepEqual(
      others.map((a) => a.status),
      Array(AT_ONCE).fill(409),
      JSON.stringify(others.map((a) => a.body)),
    );
  });

  it('consent (a service principal through the graph): one 201, seven conflicts', async () => {
    const other = await customerWithSubscription(t, 'consenters');
    const token = await t.userToken(other.customerId, other.admin.userName, other.admin.password, t.b.hub.graph);
    const send = () =>
      t.call('POST', `${t.b.hub.graph}/v1.0/servicePrincipals`, {
        token,
        body: { appId: t.b.stacks.local.applicationId },
      });
    await race(send, [201], 409);
  });

  it('PUTs that create: a registration link, a tenant subscription, a plan and an offer answer 201 once, then 200', async () => {
    const csp = await t.appToken('csp', t.b.hub.arm);
    const reg = `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/${t.b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${t.b.csp.registrationName}`;
    await race(
      () =>
        t.call('PUT', `${reg}/customerSubscriptions/${c.subscriptionId}?api-version=2017-06-01`, {
          token: csp,
          body: { properties: {} },
        }),
      [200, 201],
      200,
    );
    const { user } = await tenantSubscription(t, c, 'first');
    const sub = randomUUID();
    const tenantBody = { displayName: 'twin', offerId: '/delegatedProviders/default/offers/base-offer' };
    await race(
      () =>
        t.call('PUT', `${t.b.stacks.local.tenantArm}/subscriptions/${sub}?api-version=2015-11-01`, {
          token: user,
          body: tenantBody,
        }),
      [200, 201],
      200,
    );
    const operator = await t.appToken('operator', t.b.stacks.local.adminArm);
    const catalog = `${t.b.stacks.local.adminArm}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/resourceGroups/plans/providers/Microsoft.Subscriptions.Admin`;
    await race(
      () =>
        t.call('PUT', `${catalog}/plans/twinplan?api-version=2015-11-01`, {
          token: operator,
          body: { location: 'local', properties: { quotaIds: [] } },
        }),
      [200, 201],
      200,
    );
    await race(
      () =>
        t.call('PUT', `${catalog}/offers/twinoffer?api-version=2015-11-01`, {
          token: operator,
          body: { location: 'local', properties: { basePlanIds: [] } },
        }),
      [200, 201],
      200,
    );
  });
});
