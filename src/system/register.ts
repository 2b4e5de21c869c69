export type { AppCredentials };
import { API_VERSIONS } from '../core/api-versions.ts';
import { HttpError, type HttpClient } from '../core/http-client.ts';
import { appToken, type AppCredentials } from '../core/tokens.ts';
import { DEPLOYMENT } from '../arm/roles.ts';
import { newGuid } from '../core/ids.ts';
import { readRegistrationToken } from '../core/registration-token.ts';

// Registering a deployment in the cloud, as its operator and the CSP do it: the operator asks the
// stack for its registration token; the CSP, a system administrator, makes the token's ObjectId (the
// stack application's service principal) a deployment (the Azure Stack Deployment role at '/') and
// creates the Microsoft.AzureStack registration with it; the provider approves it for multi-tenancy.

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

/** The registration of a stack in the CSP's registration subscription: `local`'s is the bootstrap's, others' `stack-{name}`. */
export function registrationNameOf(stackName: string, csp: { registrationName: string }): string {
  return stackName === 'local' ? csp.registrationName : `stack-${stackName}`;
}

export async function registerStack(
  input: RegisterStackInput,
): Promise<{ id: string; properties: { cloudId: string; billingModel: string } }> {
  const { http, hub } = input;
  const operatorToken = await appToken(http, hub.login, input.operator, input.stackAdminArm);
  const { registrationToken, cloudId } = await http.call(
    'POST',
    `${input.stackAdminArm}/providers/Stackledger.System/registrationToken?api-version=${API_VERSIONS.system[0]}`,
    {
      token: operatorToken,
      body: { billingModel: input.billingModel ?? 'PayAsYouUse' },
    },
  );
  const cspToken = await appToken(http, hub.login, input.csp, hub.arm);
  const content = readRegistrationToken(registrationToken)?.content ?? {};
  if (typeof content.ObjectId !== 'string')
    throw new Error('the stack answered a registration token that names no ObjectId');
  await makeDeployment(http, hub.arm, cspToken, content.ObjectId);
  const { subscriptionId, resourceGroup, name } = input.registration;
  const url = `${hub.arm}/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.AzureStack/registrations/${name}`;
  const current = await http.send('GET', `${url}?api-version=2017-06-01`, { token: cspToken });
  let registration = current.body;
  const same =
    current.status === 200 &&
    registration.properties.cloudId === cloudId &&
    registration.properties.billingModel === content.BillingModel &&
    registration.properties.objectId === content.ObjectId;
  if (!same) {
    registration = await http.call('PUT', `${url}?api-version=2017-06-01`, {
      token: cspToken,
      body: { location: 'global', properties: { registrationToken } },
    });
  }
  if (input.approve)
    registration = await http.call('POST', `${url}/approveMultiTenancy?api-version=${API_VERSIONS.system[0]}`, {
      token: cspToken,
    });
  return registration;
}

/**
 * Gives a service principal the Azure Stack Deployment role at '/' (as a system administrator):
 * the hub then trusts the registration tokens it signs and takes its usage reports. Idempotent.
 */
export async function makeDeployment(
  http: HttpClient,
  hubArm: string,
  systemAdminToken: string,
  servicePrincipalId: string,
): Promise<void> {
  const url = `${hubArm}/providers/Microsoft.Authorization/roleAssignments/${newGuid()}?api-version=2022-04-01`;
  const body = {
    properties: {
      roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${DEPLOYMENT}`,
      principalId: servicePrincipalId,
      principalType: 'ServicePrincipal',
    },
  };
  const res = await http.send('PUT', url, { token: systemAdminToken, body });
  if (res.status !== 201 && !(res.status === 409 && res.body?.error?.code === 'RoleAssignmentExists'))
    throw new HttpError(res.status, res.body, url);
}

export interface OnboardInput {
  http: HttpClient;
  hub: { login: string; graph: string };
  stackAdminArm: string;
  providerSubscriptionId: string;
  location: string;
  operator: AppCredentials;
  /** The guest directory, by tenant id or domain. */
  directory: string;
  /** Credentials of an administrator application of the guest directory, to consent with. */
  consentAs?: AppCredentials;
  /** The stack's application id, whose service principal is the consent. */
  stackApplicationId: string;
}

/** Multi-tenancy: the operator onboards a guest directory, and the directory consents. */
export async function onboardDirectory(input: OnboardInput): Promise<{ tenantId: string }> {
  const { http, hub } = input;
  const operatorToken = await appToken(http, hub.login, input.operator, input.stackAdminArm);
  const url = `${input.stackAdminArm}/subscriptions/${input.providerSubscriptionId}/resourcegroups/system.${input.location}/providers/Microsoft.Subscriptions.Admin/directoryTenants/${input.directory}?api-version=2015-11-01`;
  const onboarded = await http.call('PUT', url, {
    token: operatorToken,
    body: { location: input.location, properties: {} },
  });
  if (input.consentAs)
    await consentToStack(
      http,
      hub.graph,
      await appToken(http, hub.login, input.consentAs, hub.graph),
      input.stackApplicationId,
    );
  return { tenantId: onboarded.properties.tenantId };
}

/** Graph's answer when the application already has its service principal in that directory. */
const isServicePrincipalConflict = (res: { status: number; body?: { error?: { code?: unknown } } }) =>
  res.status === 409 && res.body?.error?.code === 'Request_MultipleObjectsWithSameKeyValue';

/**
 * A guest directory's consent to a stack: an administrator of that directory (whose directory-API
 * token this is) creates the stack application's service principal there. Consenting twice is fine.
 */
export async function consentToStack(
  http: HttpClient,
  graph: string,
  graphToken: string,
  stackApplicationId: string,
): Promise<{ alreadyThere: boolean }> {
  const res = await http.send('POST', `${graph}/v1.0/servicePrincipals`, {
    token: graphToken,
    body: { appId: stackApplicationId },
  });
  const alreadyThere = isServicePrincipalConflict(res);
  if (res.status !== 201 && !alreadyThere) throw new HttpError(res.status, res.body, `${graph}/v1.0/servicePrincipals`);
  return { alreadyThere };
}
