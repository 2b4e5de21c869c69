import { STACK_OPERATOR, SYSTEM_ADMINISTRATOR } from '../arm/roles.ts';
import { createSubscription, ensureRootRole } from '../arm/service.ts';
import { armStore } from '../arm/store.ts';
import { newGuid } from '../core/ids.ts';
import { isSealed, type Sealer } from '../core/sealed.ts';
import type { Hub } from '../hub/app.ts';
import type { AdministeredDirectory } from '../identity/service.ts';
import type { Stack } from '../stack/app.ts';
import { createDefaultCatalog } from '../stack/offers/default-catalog.ts';

// First-run set-up, as an installer does it: the CSP's directory with an admin user and a service
// principal, the CSP's registration subscription, the stack operator's directory and principal,
// the stack's application, and the stack's default provider subscription. Each step runs once;
// the record of what was made lives in each role's database (`settings` 'bootstrap'), so a restart
// finds it again and bootstrap.json can always be written anew. No secret is in it in plain text:
// the administrators' passwords and the stack's secret are sealed (core/sealed.ts), and the CSP's
// and the operator's application secrets are held, sealed, by identity itself, so that a new one
// made through the directory API (`stackledger credentials rotate`) is the one written next time.
// A record of the first version, with plain-text secrets, is sealed at the next start.

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
  /** The secret's key id and end (ISO 8601) at the hub; unknown for a secret of the first version. */
  applicationSecretKeyId?: string;
  applicationSecretEndsAt?: string;
}

export interface StackApplicationCredentials {
  appId: string;
  secret: string;
  keyId?: string;
  endsAt?: string;
}

/** The hub's stored record: no application secret (identity holds it), the passwords sealed. */
type StoredPrincipal = Omit<PrincipalCredentials, 'clientSecret'> & {
  /** Only in a record of the first version, in plain text. */
  clientSecret?: string;
};
interface StoredHubBootstrap {
  csp: StoredPrincipal & Omit<HubBootstrap['csp'], keyof PrincipalCredentials>;
  operator: StoredPrincipal;
}

const passwordPurpose = (userName: string) => `password of ${userName}`;
const stackSecretPurpose = (appId: string) => `client secret of ${appId}`;

function storedPrincipal<T extends PrincipalCredentials>(c: T, sealer: Sealer): Omit<T, 'clientSecret'> {
  const { clientSecret: _held, ...rest } = c;
  return { ...rest, admin: { ...c.admin, password: sealer.seal(c.admin.password, passwordPurpose(c.admin.userName)) } };
}

/** A principal's credentials from the stored record; `upgraded` when the record was of the first version. */
async function openPrincipal(
  hub: Hub,
  sealer: Sealer,
  stored: StoredPrincipal,
): Promise<{ credentials: PrincipalCredentials; upgraded: boolean }> {
  let upgraded = false;
  if (stored.clientSecret !== undefined) {
    if (!(await hub.identity.holdExistingSecret(stored.clientId, stored.clientSecret))) {
      throw new Error(
        `the recorded secret of application ${stored.clientId} is no longer valid; the system's credentials cannot be recovered`,
      );
    }
    upgraded = true;
  }
  let password = stored.admin.password;
  if (isSealed(password)) password = sealer.open(password, passwordPurpose(stored.admin.userName));
  else upgraded = true;
  const clientSecret = await hub.identity.heldSecret(stored.clientId);
  if (!clientSecret)
    throw new Error(
      `application ${stored.clientId} has no live secret that the hub holds: add one with the directory API's addPassword`,
    );
  const { clientSecret: _plain, ...rest } = stored;
  return { credentials: { ...rest, clientSecret, admin: { ...stored.admin, password } }, upgraded };
}

async function saveHubRecord(hub: Hub, sealer: Sealer, record: HubBootstrap): Promise<void> {
  const stored: StoredHubBootstrap = {
    csp: storedPrincipal(record.csp, sealer),
    operator: storedPrincipal(record.operator, sealer),
  };
  await armStore.putSetting(hub.arm.db, 'bootstrap', stored);
}

/** The stack's record as stored, with its secret opened. */
export const openStackRecord = (sealer: Sealer, stored: StackBootstrap): StackBootstrap => ({
  ...stored,
  applicationSecret: sealer.open(stored.applicationSecret, stackSecretPurpose(stored.applicationId)),
});

/** Reads the stack's record, sealing a plain-text secret of the first version. */
async function loadStackRecord(stack: Stack, sealer: Sealer): Promise<StackBootstrap | undefined> {
  const stored = await armStore.getSetting<StackBootstrap>(stack.arm.db, 'bootstrap');
  if (!stored) return undefined;
  if (isSealed(stored.applicationSecret)) return openStackRecord(sealer, stored);
  await saveStackRecord(stack, sealer, stored);
  return stored;
}

export async function saveStackRecord(stack: Stack, sealer: Sealer, record: StackBootstrap): Promise<void> {
  await armStore.putSetting(stack.arm.db, 'bootstrap', {
    ...record,
    applicationSecret: sealer.seal(record.applicationSecret, stackSecretPurpose(record.applicationId)),
  });
}

export async function bootstrapHub(hub: Hub, sealer: Sealer): Promise<HubBootstrap> {
  const record = await loadOrCreateHubRecord(hub, sealer);
  // The CSP's service principal and administrator run the system by role, not by directory
  // membership; a folder from before roles gets them on its next start.
  await ensureRootRole(hub.arm, SYSTEM_ADMINISTRATOR, [
    { principalId: record.csp.servicePrincipalId, principalType: 'ServicePrincipal' },
    { principalId: record.csp.admin.objectId, principalType: 'User' },
  ]);
  return record;
}

async function loadOrCreateHubRecord(hub: Hub, sealer: Sealer): Promise<HubBootstrap> {
  const existing = await armStore.getSetting<StoredHubBootstrap>(hub.arm.db, 'bootstrap');
  if (existing) {
    const csp = await openPrincipal(hub, sealer, existing.csp);
    const operator = await openPrincipal(hub, sealer, existing.operator);
    const record: HubBootstrap = { csp: { ...existing.csp, ...csp.credentials }, operator: operator.credentials };
    if (csp.upgraded || operator.upgraded) await saveHubRecord(hub, sealer, record);
    return record;
  }
  const held = { holdsSecret: true };
  const csp = await hub.identity.createAdministeredDirectory(
    'Contoso Cloud Provider',
    `csp.${DOMAIN_SUFFIX}`,
    'partner',
    hub.identity.db,
    held,
  );
  const operator = await hub.identity.createAdministeredDirectory(
    'Stack operator',
    `operator.${DOMAIN_SUFFIX}`,
    'operator',
    hub.identity.db,
    held,
  );
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
  const record: HubBootstrap = {
    csp: { ...csp, registrationSubscriptionId: sub.subscription_id, resourceGroup, registrationName: 'stack-local' },
    operator,
  };
  await saveHubRecord(hub, sealer, record);
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
  sealer: Sealer,
  ensureApplication: (known: Partial<StackApplicationCredentials> | undefined) => Promise<StackApplicationCredentials>,
): Promise<StackBootstrap> {
  const existing = await loadStackRecord(stack, sealer);
  const app = await ensureApplication(
    existing && {
      appId: existing.applicationId,
      secret: existing.applicationSecret,
      keyId: existing.applicationSecretKeyId,
      endsAt: existing.applicationSecretEndsAt,
    },
  );
  // The operator's principals operate the deployment by role (also in folders from before roles).
  await ensureRootRole(stack.arm, STACK_OPERATOR, owners);
  if (existing) {
    if (existing.applicationSecret === app.secret) return existing;
    const updated = {
      ...existing,
      applicationSecret: app.secret,
      applicationSecretKeyId: app.keyId,
      applicationSecretEndsAt: app.endsAt,
    };
    await saveStackRecord(stack, sealer, updated);
    return updated;
  }
  const sub = await createSubscription(stack.arm, {
    tenantId: homeDirectory,
    displayName: 'Default Provider Subscription',
    owners,
  });
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
    applicationSecretKeyId: app.keyId,
    applicationSecretEndsAt: app.endsAt,
    providerSubscriptionId: sub.subscription_id,
    cloudId: newGuid(),
  };
  await saveStackRecord(stack, sealer, record);
  return record;
}
