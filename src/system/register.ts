import { API_VERSIONS } from '../core/api-versions.ts';
import type { HttpClient } from '../core/http-client.ts';

// Registering a deployment in the cloud, as its operator and the CSP do it: the operator asks the
// stack for its registration token; the CSP (Owner of the registration subscription) creates the
// Microsoft.AzureStack registration with it; the provider approves it for multi-tenancy.

export interface AppCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface RegisterStackInput {
  http: HttpClient;
  hub: { arm: string; login: string };
  stackAdminArm: string;
  operator: AppCredentials;
  csp: AppCredentials;
  registration: { subscriptionId: string; resourceGroup: string; name: string };
  billingModel?: string;
  /** Also approve it for multi-tenancy (the CSP's credentials must be the provider's). */
  approve?: boolean;
}

async function appToken(http: HttpClient, login: string, who: AppCredentials, resource: string): Promise<string> {
  const res = await http.call('POST', `${login}/${who.tenantId}/oauth2/token`, {
    form: { grant_type: 'client_credentials', client_id: who.clientId, client_secret: who.clientSecret, resource },
  });
  return res.access_token;
}

export async function registerStack(input: RegisterStackInput): Promise<{ id: string; properties: { cloudId: string; billingModel: string } }> {
  const { http, hub } = input;
  const operatorToken = await appToken(http, hub.login, input.operator, input.stackAdminArm);
  const { registrationToken, cloudId } = await http.call('POST', `${input.stackAdminArm}/providers/Stackledger.System/registrationToken?api-version=${API_VERSIONS.system[0]}`, {
    token: operatorToken,
    body: { billingModel: input.billingModel ?? 'PayAsYouUse' },
  });
  const cspToken = await appToken(http, hub.login, input.csp, hub.arm);
  const { subscriptionId, resourceGroup, name } = input.registration;
  const url = `${hub.arm}/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.AzureStack/registrations/${name}`;
  const current = await http.send('GET', `${url}?api-version=2017-06-01`, { token: cspToken });
  let registration = current.body;
  const sameModel = current.status === 200 && registration.properties.billingModel === (input.billingModel ?? 'PayAsYouUse');
  if (current.status !== 200 || registration.properties.cloudId !== cloudId || !sameModel) {
    registration = await http.call('PUT', `${url}?api-version=2017-06-01`, { token: cspToken, body: { location: 'global', properties: { registrationToken } } });
  }
  if (input.approve) registration = await http.call('POST', `${url}/approveMultiTenancy?api-version=${API_VERSIONS.system[0]}`, { token: cspToken });
  return registration;
}
