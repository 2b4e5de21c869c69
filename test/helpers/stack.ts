// Steps 7 and 8 of the seed for tests that start from a tenant on the stack: onboarding and consent,
// a tenant subscription with a resource group, a VM.
import { randomUUID } from 'node:crypto';
import type { CustomerWithSubscription } from './partner.ts';
import type { TestSystem } from './system.ts';

export async function onboardCustomer(t: TestSystem, c: CustomerWithSubscription): Promise<void> {
  const admin = t.b.stacks.local.adminArm;
  const operator = await t.appToken('operator', admin);
  const url = `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/resourcegroups/system.local/providers/Microsoft.Subscriptions.Admin/directoryTenants/${c.customerId}?api-version=2015-11-01`;
  await t.http.call('PUT', url, { token: operator, body: { properties: { tenantId: c.customerId } } });
  const graph = await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.graph);
  await t.http.call('POST', `${t.b.hub.graph}/v1.0/servicePrincipals`, {
    token: graph,
    body: { appId: t.b.stacks.local.applicationId },
  });
}

/** The customer's directory onboarded to the stack, its admin signed in there, a subscription of the base offer with group `rg`. */
export async function tenantSubscription(
  t: TestSystem,
  c: CustomerWithSubscription,
  displayName: string,
): Promise<{ user: string; sub: string }> {
  const tenant = t.b.stacks.local.tenantArm;
  await onboardCustomer(t, c);
  const user = await t.userToken(c.customerId, c.admin.userName, c.admin.password, tenant);
  const sub = randomUUID();
  await t.http.call('PUT', `${tenant}/subscriptions/${sub}?api-version=2015-11-01`, {
    token: user,
    body: { displayName, offerId: '/delegatedProviders/default/offers/base-offer' },
  });
  await t.http.call('PUT', `${tenant}/subscriptions/${sub}/resourcegroups/rg?api-version=2019-10-01`, {
    token: user,
    body: { location: 'local' },
  });
  return { user, sub };
}

/** A VM's body: its size, and Windows Server 2016 or Ubuntu 18.04. */
export const vmBody = (size: string, windows = false) => ({
  location: 'local',
  properties: {
    hardwareProfile: { vmSize: size },
    storageProfile: {
      imageReference: windows
        ? { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2016-Datacenter', version: 'latest' }
        : { publisher: 'Canonical', offer: 'UbuntuServer', sku: '18.04-LTS', version: 'latest' },
    },
    osProfile: { computerName: 'vm', adminUsername: 'azureuser', adminPassword: 'P@ssw0rd-1234!' },
  },
});

/** A VM's body with more in its storage profile (its OS disk, its data disks). */
export const withStorageProfile = (body: ReturnType<typeof vmBody>, storage: Record<string, unknown>) => ({
  ...body,
  properties: { ...body.properties, storageProfile: { ...body.properties.storageProfile, ...storage } },
});

/** The URL of the VM `name` in group `rg` of a tenant subscription. */
export const vmUrl = (t: TestSystem, sub: string, name: string) =>
  `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${name}?api-version=2020-06-01`;
