import { ArmError, armError } from '../../core/errors.ts';
import type { JsonResponse } from '../../core/http-client.ts';
import { requestAppToken } from '../../core/tokens.ts';
import type { HubDirectory, StackApplication } from './service.ts';

// What kind of principal an object id is, as its directory says: a stack records it on role
// assignments (principalType) instead of trusting what the caller claims. The stack's application
// reads the directory of the assignment's subscription, which consented to it (or is its home).

const TYPES: Record<string, string> = {
  '#microsoft.graph.user': 'User',
  '#microsoft.graph.servicePrincipal': 'ServicePrincipal',
  '#microsoft.graph.group': 'Group',
};

const unavailable = (why: string) =>
  armError('ServiceUnavailable', `The directory service could not say what the principal is (${why}); retry.`);

/** `User`, `ServicePrincipal` or `Group`; undefined when the directory has no such object. */
export async function directoryObjectType(
  hub: HubDirectory,
  app: StackApplication,
  tenantId: string,
  objectId: string,
): Promise<string | undefined> {
  const clientId = app.appId();
  const clientSecret = app.secret();
  if (!clientId || !clientSecret) throw unavailable('the deployment is not registered yet');
  let found: JsonResponse<{ '@odata.type'?: string }>;
  try {
    const token = await requestAppToken(hub.http, hub.login(), { tenantId, clientId, clientSecret }, hub.graph());
    if (token.status !== 200) throw unavailable(`sign-in answered ${token.status}`);
    found = await hub.http.send<{ '@odata.type'?: string }>(
      'GET',
      `${hub.graph()}/v1.0/directoryObjects/${encodeURIComponent(objectId)}`,
      { token: token.body.access_token },
    );
  } catch (e) {
    // The hub out of reach is no reason for a 500.
    throw e instanceof ArmError ? e : unavailable('the hub did not answer');
  }
  if (found.status === 404) return undefined;
  if (found.status !== 200) throw unavailable(`the directory answered ${found.status}`);
  return TYPES[found.body['@odata.type'] ?? ''];
}
