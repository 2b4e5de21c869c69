// Runs the unmodified official clients against a running system, as a user would, with
// NODE_EXTRA_CA_CERTS=DIR/ca.pem set by the caller. Prints what it saw as one JSON document.
import { ClientSecretCredential } from '@azure/identity';
import { ResourceManagementClient } from '@azure/arm-resources';
import { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import { readFileSync } from 'node:fs';

const b = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const credential = new ClientSecretCredential(b.csp.tenantId, b.csp.clientId, b.csp.clientSecret, {
  authorityHost: b.hub.login,
  disableInstanceDiscovery: true,
});
const sub = b.csp.registrationSubscriptionId;

const token = await credential.getToken(`${b.hub.arm}/.default`);
const resources = new ResourceManagementClient(credential, sub, { endpoint: b.hub.arm });
const created = await resources.resourceGroups.createOrUpdate('sdk-rg', { location: 'global', tags: { by: 'sdk' } });
const groups: string[] = [];
for await (const g of resources.resourceGroups.list()) groups.push(g.name!);
const byId = await resources.resources.getById(`/subscriptions/${sub}/resourceGroups/sdk-rg`, '2021-04-01');
const exists = await resources.resourceGroups.checkExistence('sdk-rg');
await resources.resourceGroups.beginDeleteAndWait('sdk-rg');
const existsAfter = await resources.resourceGroups.checkExistence('sdk-rg');

const subscriptions = new SubscriptionClient(credential, { endpoint: b.hub.arm });
const subs: string[] = [];
for await (const s of subscriptions.subscriptions.list()) subs.push(s.subscriptionId!);
const tenants: string[] = [];
for await (const t of subscriptions.tenants.list()) tenants.push(t.tenantId!);

let refused: { statusCode?: number; code?: string } = {};
try {
  await new ResourceManagementClient(credential, '00000000-0000-0000-0000-000000000000', {
    endpoint: b.hub.arm,
  }).resourceGroups.get('nope');
} catch (e) {
  const { statusCode, code } = e as typeof refused;
  refused = { statusCode, code };
}

process.stdout.write(
  JSON.stringify({
    tokenExpires: token.expiresOnTimestamp,
    created: created.name,
    groups,
    byId: byId.id,
    exists: exists.body,
    existsAfter: existsAfter.body,
    subs,
    tenants,
    refused,
  }),
);
