// The scenario the fault and crash tests share, against a hub and a stack run as separate processes
// (each read through a getter: a restart rewrites its bootstrap file and may renew the client): customers A, linked to the
// stack's registration (billed its own usage), and C, not linked (billed to the CSP), each onboarded
// to the stack, consenting, with a tenant subscription of the base offer and a VM of its own size.
import type { HttpClient } from '../../src/core/http-client.ts';
import { AZURE_POWERSHELL } from './system.ts';

type Credentials = { tenantId: string; clientId: string; clientSecret: string };
export interface HubFile {
  hub: { arm: string; login: string; graph: string; partnerCenter: string };
  csp: Credentials & { registrationSubscriptionId: string; resourceGroup: string; registrationName: string };
  operator: Credentials;
}
export interface StackFile {
  adminArm: string;
  tenantArm: string;
  providerSubscriptionId: string;
  applicationId: string;
}

export interface Tenant {
  id: string;
  /** The CSP subscription. */
  sub: string;
  admin: { userName: string; password: string };
  /** The subscription on the stack, and its VM's id there. */
  tenantSub: string;
  vm: string;
  /** The administrator's token for the stack's tenant endpoint. */
  tenantToken(): Promise<string>;
}

export async function twoTenantsWithVms(o: {
  http: () => HttpClient;
  hub: () => HubFile;
  stack: () => StackFile;
  domainPrefix: string;
  tenantSubs: Record<'a' | 'c', string>;
}): Promise<Record<'a' | 'c', Tenant>> {
  const http = { call: (...args: Parameters<HttpClient['call']>) => o.http().call(...args) };
  const token = async (tenant: string, form: Record<string, string>) =>
    (await http.call('POST', `${o.hub().hub.login}/${tenant}/oauth2/token`, { form })).access_token as string;
  const app = (who: Credentials, resource: string) =>
    token(who.tenantId, {
      grant_type: 'client_credentials',
      client_id: who.clientId,
      client_secret: who.clientSecret,
      resource,
    });
  const user = (c: { id: string; admin: Tenant['admin'] }, resource: string) =>
    token(c.id, {
      grant_type: 'password',
      client_id: AZURE_POWERSHELL,
      username: c.admin.userName,
      password: c.admin.password,
      resource,
    });
  const hb = o.hub();
  const pc = hb.hub.partnerCenter;
  const pcToken = await app(hb.csp, pc);
  const tenants = {} as Record<'a' | 'c', Tenant>;
  for (const name of ['a', 'c'] as const) {
    const customer = await http.call('POST', `${pc}/v1/customers`, {
      token: pcToken,
      body: { companyProfile: { domain: `${o.domainPrefix}-${name}` } },
    });
    const order = await http.call('POST', `${pc}/v1/customers/${customer.id}/orders`, {
      token: pcToken,
      body: { lineItems: [{ offerId: 'MS-AZR-0145P' }] },
    });
    const tenantSub = o.tenantSubs[name];
    const c = {
      id: customer.id as string,
      sub: order.lineItems[0].subscriptionId as string,
      admin: customer.userCredentials,
      tenantSub,
    };
    tenants[name] = {
      ...c,
      vm: `/subscriptions/${tenantSub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`,
      tenantToken: () => user(c, o.stack().tenantArm),
    };
  }
  await http.call(
    'PUT',
    `${hb.hub.arm}/subscriptions/${hb.csp.registrationSubscriptionId}/resourceGroups/${hb.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${hb.csp.registrationName}/customerSubscriptions/${tenants.a.sub}?api-version=2017-06-01`,
    { token: await app(hb.csp, hb.hub.arm), body: { properties: {} } },
  );
  for (const [name, size] of [
    ['a', 'Standard_A2_v2'],
    ['c', 'Standard_A1_v2'],
  ] as const) {
    const c = tenants[name];
    const s = o.stack();
    await http.call(
      'PUT',
      `${s.adminArm}/subscriptions/${s.providerSubscriptionId}/resourcegroups/system.local/providers/Microsoft.Subscriptions.Admin/directoryTenants/${c.id}?api-version=2015-11-01`,
      {
        token: await app(hb.operator, s.adminArm),
        body: { properties: {} },
      },
    );
    await http.call('POST', `${hb.hub.graph}/v1.0/servicePrincipals`, {
      token: await user(c, hb.hub.graph),
      body: { appId: s.applicationId },
    });
    const tenantUser = await c.tenantToken();
    await http.call('PUT', `${s.tenantArm}/subscriptions/${c.tenantSub}?api-version=2015-11-01`, {
      token: tenantUser,
      body: { displayName: name, offerId: '/delegatedProviders/default/offers/base-offer' },
    });
    await http.call('PUT', `${s.tenantArm}/subscriptions/${c.tenantSub}/resourcegroups/rg?api-version=2019-10-01`, {
      token: tenantUser,
      body: { location: 'local' },
    });
    await http.call('PUT', `${s.tenantArm}${c.vm}?api-version=2020-06-01`, {
      token: tenantUser,
      body: {
        location: 'local',
        properties: {
          hardwareProfile: { vmSize: size },
          storageProfile: {
            imageReference: { publisher: 'Canonical', offer: 'UbuntuServer', sku: '18.04-LTS', version: 'latest' },
          },
          osProfile: { computerName: 'vm', adminUsername: 'u', adminPassword: 'P@ssw0rd-1234!' },
        },
      },
    });
  }
  return tenants;
}
