// The official @azure/arm-azurestack client (and the generic ARM PUT of @azure/arm-resources, as
// the seed's New-AzureRmResource sends it) against a running hub, trusting its CA through
// NODE_EXTRA_CA_CERTS. Prints what it saw as one JSON document.
import { AzureStackManagementClient } from '@azure/arm-azurestack';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { readFileSync } from 'node:fs';

const [bootstrapFile, customerSubscriptionId, customerTenantId, secondCustomerSubscriptionId] = process.argv.slice(2);
const b = JSON.parse(readFileSync(bootstrapFile, 'utf8'));
const { registrationSubscriptionId: sub, resourceGroup: rg, registrationName: name } = b.csp;
const secret = new ClientSecretCredential(b.csp.tenantId, b.csp.clientId, b.csp.clientSecret, {
  authorityHost: b.hub.login,
  disableInstanceDiscovery: true,
});
// The track-1 client asks for the public cloud's scope; the credential gets a token from our login
// endpoint for our ARM audience instead.
const credential = { getToken: () => secret.getToken(`${b.hub.arm}/.default`) };
const client = new AzureStackManagementClient(
  credential as ConstructorParameters<typeof AzureStackManagementClient>[0],
  sub,
  { baseUri: b.hub.arm },
);

/** What the SDK's errors carry that the test compares. */
type SdkError = { statusCode?: number; code?: string };

const seen: Record<string, unknown> = {};
seen.registrations = (await client.registrations.list(rg)).map((r) => ({
  name: r.name,
  cloudId: r.cloudId,
  billingModel: r.billingModel,
}));
const reg = await client.registrations.get(rg, name);
seen.registration = {
  id: reg.id,
  type: reg.type,
  objectId: reg.objectId,
  cloudId: reg.cloudId,
  billingModel: reg.billingModel,
  etag: reg.etag,
};
const created = await client.customerSubscriptions.create(rg, name, customerSubscriptionId, {
  tenantId: customerTenantId,
});
seen.created = { name: created.name, tenantId: created.tenantId, status: created._response.status };
const again = await client.customerSubscriptions.create(rg, name, customerSubscriptionId, {
  tenantId: customerTenantId,
});
seen.again = { status: again._response.status, etag: again.etag === created.etag };
seen.got = (await client.customerSubscriptions.get(rg, name, customerSubscriptionId)).tenantId;
seen.listed = (await client.customerSubscriptions.list(rg, name)).map((c) => c.name);
seen.activationKey = typeof (await client.registrations.getActivationKey(rg, name)).activationKey;
seen.deleted = (await client.customerSubscriptions.deleteMethod(rg, name, customerSubscriptionId))._response.status;
seen.deletedAgain = (
  await client.customerSubscriptions.deleteMethod(rg, name, customerSubscriptionId)
)._response.status;
try {
  await client.customerSubscriptions.get(rg, name, customerSubscriptionId);
} catch (e) {
  const { statusCode, code } = e as SdkError;
  seen.afterDelete = { statusCode, code };
}
try {
  await client.customerSubscriptions.create(rg, name, '00000000-0000-0000-0000-0000000000ff', {});
} catch (e) {
  const { statusCode, code } = e as SdkError;
  seen.refused = { statusCode, code };
}

// The seed's generic PUT: `New-AzureRmResource -ResourceId "subscriptions/.../customerSubscriptions/{id}" -ApiVersion 2017-06-01 -Properties`
// with no tenantId, which is then taken from the directory that holds the customer subscription.
const resources = new ResourceManagementClient(secret, sub, { endpoint: b.hub.arm });
const resourceId = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.AzureStack/registrations/${name}/customerSubscriptions/${secondCustomerSubscriptionId}`;
const generic = await resources.resources.beginCreateOrUpdateByIdAndWait(resourceId, '2017-06-01', { properties: {} });
seen.generic = { id: generic.id, tenantId: generic.properties?.tenantId };
seen.genericGet = (await resources.resources.getById(resourceId, '2017-06-01')).properties?.tenantId;

process.stdout.write(JSON.stringify(seen));
