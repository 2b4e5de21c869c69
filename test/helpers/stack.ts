// Steps 7 of the seed for tests that start from a tenant on the stack: onboarding and consent.
import type { CustomerWithSubscription } from './partner.ts';
import type { TestSystem } from './system.ts';

export async function onboardCustomer(t: TestSystem, c: CustomerWithSubscription): Promise<void> {
  const admin = t.b.stacks.local.adminArm;
  const operator = await t.appToken('operator', admin);
  const url = `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/resourcegroups/system.local/providers/Microsoft.Subscriptions.Admin/directoryTenants/${c.customerId}?api-version=2015-11-01`;
  await t.http.call('PUT', url, { token: operator, body: { properties: { tenantId: c.customerId } } });
  const graph = await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.graph);
  await t.http.call('POST', `${t.b.hub.graph}/v1.0/servicePrincipals`, { token: graph, body: { appId: t.b.stacks.local.applicationId } });
}
