import { STACK_OPERATOR, SYSTEM_ADMINISTRATOR } from '../arm/roles.ts';
import { createSubscription, ensureRootRole } from '../arm/service.ts';
import { armStore } from '../arm/store.ts';
import { newGuid } from '../core/ids.ts';
import type { Hub } from '../hub/app.ts';
import type { AdministeredDirectory } from '../identity/service.ts';
import type { Stack } from '../stack/app.ts';
import { createDefaultCatalog } from '../stack/offers/service.ts';

// First-run set-up, as an installer does it: the CSP's directory with an admin user and a service
// principal, the CSP's registration subscription, the stack operator's directory and principal,
// the stack's application, and the stack's default provider subscription. Each step runs once;
// the record of what was made (credentials included) lives in each role's database, so a restart
// finds it again and bootstrap.json can always be written anew.

export const DOMAIN_SUFFIX = 'onstackledger.local';

export type PrincipalCredentials = AdministeredDirectory;

export interface HubBootstrap {
  csp: PrincipalCredentials & { registrationSubscriptionId: string; resourceGroup: string; registrationName: string };
  operator: PrincipalCredentials;
}

export interface StackBootstrap {
  homeDirectory: string;
  applicationId: string;
  providerSubscriptionId: string;
  /** The deployment's identity in the cloud, carried by its registration token. */
  cloudId: string;
  /** The application's secret, with which the stack checks a guest directory's consent. */
  applicationSecret: string;
}

export interface StackApplicationCredentials {
  appId: string;
  secret: string;
}

export async function bootstrapHub(hub: Hub): Promise<HubBootstrap> {
  const existing = await armStore.getSetting<HubBootstrap>(hub.arm.db, 'bootstrap');
  const record = existing ?? (await firstHubStart(hub));
  // The CSP's service principal and administrator run the system by role, not by directory
  // membership; a folder from before roles gets them on its next start.
  await ensureRootRole(hub.arm, SYSTEM_ADMINISTRATOR, [
    { principalId: record.csp.servicePrincipalId, principalType: 'ServicePrincipal' },
    { principalId: record.csp.admin.objectId, principalType: 'User' },
  ]);
  return record;
}

async function firstHubStart(hub: Hub): Promise<HubBootstrap> {
  const csp = await hub.identity.createAdministeredDirectory('Contoso Cloud Provider', `csp.${DOMAIN_SUFFIX}`, 'partner');
  const operator = await hub.identity.createAdministeredDirectory('Stack operator', `operator.${DOMAIN_SUFFIX}`, 'operator');
  const sub = await createSubscription(hub.arm, {
    tenantId: csp.tenantId,
    displayName: 'Azure Stack registration',
    owners: [
      { principalId: csp.servicePrincipalId, principalType: 'ServicePrincipal' },
      { principalId: csp.admin.objectId, principalType: 'User' },
    ],
  });
  const resourceGroup = 'azurestack';
  await armStore.upsertResourceGroup(hub.arm.db, {
    subscription_id: sub.subscription_id,
    name_key: resourceGroup,
    name: resourceGroup,
    location: hub.arm.locations()[0],
    tags: {},
    managed_by: null,
    created_at: hub.arm.clock.now(),
  });
  const record: HubBootstrap = { csp: { ...csp, registrationSubscriptionId: sub.subscription_id, resourceGroup, registrationName: 'stack-local' }, operator };
  await armStore.putSetting(hub.arm.db, 'bootstrap', record);
  return record;
}

/**
 * The stack's own first-run set-up: its application (registered or updated by `ensureApplication`
 * through the hub) and its default provider subscription with the resource group `system.{location}`.
 */
export async function bootstrapStack(
  stack: Stack,
  location: string,
  homeDirectory: string,
  owners: { principalId: string; principalType: string }[],
  ensureApplication: (known: Partial<StackApplicationCredentials> | undefined) => Promise<StackApplicationCredentials>,
): Promise<StackBootstrap> {
  const existing = await armStore.getSetting<StackBootstrap>(stack.arm.db, 'bootstrap');
  const app = await ensureApplication(existing && { appId: existing.applicationId, secret: existing.applicationSecret });
  // The operator's principals operate the deployment by role (also in folders from before roles).
  await ensureRootRole(stack.arm, STACK_OPERATOR, owners);
  if (existing) {
    if (existing.applicationSecret === app.secret) return existing;
    const updated = { ...existing, applicationSecret: app.secret };
    await armStore.putSetting(stack.arm.db, 'bootstrap', updated);
    return updated;
  }
  const sub = await createSubscription(stack.arm, { tenantId: homeDirectory, displayName: 'Default Provider Subscription', owners });
  const group = `system.${location}`;
  await armStore.upsertResourceGroup(stack.arm.db, {
    subscription_id: sub.subscription_id,
    name_key: group.toLowerCase(),
    name: group,
    location,
    tags: {},
    managed_by: null,
    created_at: stack.arm.clock.now(),
  });
  await createDefaultCatalog(stack.offers, sub.subscription_id);
  const record: StackBootstrap = {
    homeDirectory,
    applicationId: app.appId,
    applicationSecret: app.secret,
    providerSubscriptionId: sub.subscription_id,
    cloudId: newGuid(),
  };
  await armStore.putSetting(stack.arm.db, 'bootstrap', record);
  return record;
}
