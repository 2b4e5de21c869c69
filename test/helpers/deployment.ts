// Deployments that are not stacks, for tests that register cloud ids of their own: an application
// that publishes a registration key (Graph's keyCredentials) and signs registration tokens with it,
// made a deployment (the Azure Stack Deployment role at '/') by the CSP, or not, as an attacker's.
import { randomUUID } from 'node:crypto';
import type { HttpClient } from '../../src/core/http-client.ts';
import { signRegistrationToken, type RegistrationTokenContent } from '../../src/core/registration-token.ts';
import { makeDeployment } from '../../src/system/register.ts';
import { newRegistrationKey, registrationKeyOf } from '../../src/stack/registration-key.ts';
import type { TestSystem } from './system.ts';

export interface TestDeployment {
  appId: string;
  secret: string;
  tenantId: string;
  /** The application's service principal in its home directory: the tokens' ObjectId. */
  objectId: string;
  /** A registration token this deployment signs, for a fresh cloud id unless one is given. */
  token(content?: Partial<RegistrationTokenContent>): Promise<string>;
  /** A token of the application itself, for a resource. */
  signIn(resource: string): Promise<string>;
}

export interface DeploymentInputs {
  http: HttpClient;
  hub: { arm: string; login: string; graph: string };
  /** A directory-API token of an administrator of the directory the application is made in. */
  graphToken: string;
  tenantId: string;
  name: string;
}

/** An application with a registration key in the directory of `graphToken`, as that directory's administrator may make one. */
export async function applicationWithRegistrationKey(input: DeploymentInputs): Promise<TestDeployment> {
  const { http, hub, graphToken } = input;
  const key = registrationKeyOf(await newRegistrationKey(input.name), input.name);
  const app = await http.call('POST', `${hub.graph}/v1.0/applications`, {
    token: graphToken,
    body: { displayName: input.name, keyCredentials: [key.keyCredential] },
  });
  await http.call('POST', `${hub.graph}/v1.0/servicePrincipals`, { token: graphToken, body: { appId: app.appId } });
  const secret = (
    await http.call('POST', `${hub.graph}/v1.0/applications/${app.appId}/addPassword`, {
      token: graphToken,
      body: { passwordCredential: { displayName: 'test' } },
    })
  ).secretText as string;
  const signIn = async (resource: string) =>
    (
      await http.call('POST', `${hub.login}/${input.tenantId}/oauth2/token`, {
        form: { grant_type: 'client_credentials', client_id: app.appId, client_secret: secret, resource },
      })
    ).access_token as string;
  const own = await signIn(hub.arm);
  const objectId = JSON.parse(Buffer.from(own.split('.')[1], 'base64url').toString()).oid as string;
  return {
    appId: app.appId,
    secret,
    tenantId: input.tenantId,
    objectId,
    signIn,
    token: (content = {}) =>
      signRegistrationToken(
        {
          CloudId: randomUUID(),
          ObjectId: objectId,
          BillingModel: 'PayAsYouUse',
          DeploymentName: input.name,
          Version: '1.0',
          ...content,
        },
        key.signer,
      ),
  };
}

/** A deployment in the operator's directory, trusted by the CSP as the system's administrator. */
export async function testDeployment(t: TestSystem, name: string): Promise<TestDeployment> {
  const graphToken = await t.appToken('operator', t.b.hub.graph);
  const deployment = await applicationWithRegistrationKey({
    http: t.http,
    hub: t.b.hub,
    graphToken,
    tenantId: t.b.operator.tenantId,
    name,
  });
  await makeDeployment(t.http, t.b.hub.arm, await t.appToken('csp', t.b.hub.arm), deployment.objectId);
  return deployment;
}
