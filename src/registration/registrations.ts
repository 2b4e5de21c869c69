import { compactVerify } from 'jose';
import type { Kysely } from 'kysely';
import { DEPLOYMENT_REPORT } from '../arm/roles.ts';
import {
  authorize,
  authorizeListing,
  inTransaction,
  mayPerformData,
  namedRowIdentity,
  requireSubscription,
} from '../arm/service.ts';
import { armStore } from '../arm/store.ts';
import type { SubscriptionsTable } from '../arm/tables.ts';
import { ROOT_SCOPE } from '../core/arm-id.ts';
import { armErrors } from '../core/errors.ts';
import { newGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { REGISTRATION_TOKEN_ALGORITHMS } from '../core/registration-token.ts';
import { registrationScope, requireRegistration, type RegistrationContext, type RegistrationRef } from './context.ts';
import { registrationErrors, registrationTokenContent } from './rules.ts';
import { notificationStore } from '../notifications/store.ts';
import { REGISTRATION_TYPE, registrationStore } from './store.ts';
import type { Cursor } from '../core/paging.ts';
import type { RegistrationsTable } from './tables.ts';
import { retryOnceOnUniqueViolation } from '../db/database.ts';
import { registrationView } from './views.ts';
import type { ResourceLister } from '../arm/providers.ts';

// Use cases of Microsoft.AzureStack registrations: a deployment's registration from its signed
// token, its activation key, the provider's approval for multi-tenancy.

// A PUT that two callers send at once: the loser of the race to create runs again as the update.
export const putRegistration = (...args: Parameters<typeof putRegistrationOnce>) =>
  retryOnceOnUniqueViolation(() => putRegistrationOnce(...args));

export interface RegistrationInput {
  location?: string;
  tags?: Record<string, string>;
  properties?: { registrationToken?: string };
}

function requireGlobal(location: string | undefined): void {
  if (location !== undefined && location.toLowerCase() !== 'global') {
    throw armErrors.locationNotAvailableForResourceType(location, 'global', 'Microsoft.AzureStack/registrations');
  }
}

/** What a registration takes from its token. */
interface TokenFacts {
  cloudId: string;
  objectId: string;
  billingModel: string;
}

/**
 * The facts of a token that the deployment it names issued: the certificate that the application of
 * its ObjectId published under the token's kid verifies the signature, and that service principal
 * holds the Azure Stack Deployment role at '/', which only a system administrator gives. Anything
 * else is 400 InvalidRegistrationToken, the same answer whatever failed.
 */
async function trustedTokenFacts(ctx: RegistrationContext, token: string): Promise<TokenFacts> {
  const { content, kid } = registrationTokenContent(token);
  const key = await ctx.deploymentKey(content.ObjectId, kid);
  if (!key) throw registrationErrors.untrustedRegistrationToken();
  try {
    await compactVerify(token, key.publicKey, { algorithms: REGISTRATION_TOKEN_ALGORITHMS });
  } catch {
    throw registrationErrors.untrustedRegistrationToken();
  }
  const { objectId, tenantId, appId } = key.servicePrincipal;
  const deployment: Principal = { objectId, tenantId, appId, kind: 'ServicePrincipal', audience: '' };
  if (!(await mayPerformData(ctx.arm, deployment, DEPLOYMENT_REPORT, ROOT_SCOPE)))
    throw registrationErrors.untrustedRegistrationToken();
  return { cloudId: content.CloudId.toLowerCase(), objectId, billingModel: content.BillingModel };
}

async function putRegistrationOnce(
  ctx: RegistrationContext,
  principal: Principal,
  ref: RegistrationRef,
  input: RegistrationInput & { location: string; properties: { registrationToken: string } },
) {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, 'Microsoft.AzureStack/registrations/write', registrationScope(ref));
  if (!(await armStore.getResourceGroup(ctx.arm.db, sub.subscription_id, ref.resourceGroup)))
    throw armErrors.resourceGroupNotFound(ref.resourceGroup);
  requireGlobal(input.location);
  const facts = await trustedTokenFacts(ctx, input.properties.registrationToken);
  return writeRegistration(ctx, principal, sub, ref, {
    tags: input.tags,
    token: input.properties.registrationToken,
    facts,
  });
}

/**
 * Writes a registration under a lock on its cloud id: a deployment has one live registration, so a
 * cloud id that another live registration holds is 409 RegistrationAlreadyExists and nothing is
 * written. A row that already holds the cloud id keeps it (legacy duplicates stay until deleted).
 */
async function writeRegistration(
  ctx: RegistrationContext,
  principal: Principal,
  sub: SubscriptionsTable,
  ref: RegistrationRef,
  input: { tags?: Record<string, string>; token: string; facts: TokenFacts },
) {
  const { facts } = input;
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    await registrationStore.lockCloudId(db, facts.cloudId);
    const existing = await registrationStore.getLive(db, sub.subscription_id, ref.resourceGroup, ref.name);
    const alreadyHeld = existing !== undefined && existing.cloud_id === facts.cloudId;
    if (!alreadyHeld && (await registrationStore.otherLiveHolder(db, facts.cloudId, existing?.id)))
      throw registrationErrors.registrationAlreadyExists(facts.cloudId);
    const row: RegistrationsTable = {
      ...namedRowIdentity(existing, sub.subscription_id, ref),
      location: 'global',
      tags: input.tags ?? existing?.tags ?? {},
      object_id: facts.objectId,
      cloud_id: facts.cloudId,
      billing_model: facts.billingModel,
      registration_token: input.token,
      // A new deployment behind the same name needs the provider's approval again.
      multi_tenancy_approved: alreadyHeld && existing.multi_tenancy_approved,
      etag: newGuid(),
      created_at: existing?.created_at ?? now,
      updated_at: now,
      deleted_at: null,
    };
    if (existing) await registrationStore.update(db, row);
    else await registrationStore.insert(db, row);
    await registrationChanged(db, sub, ref, row, existing ? 'updated' : 'created', now);
    await ctx.arm.recordChange?.(db, principal, sub, {
      operation: existing ? 'Update registration' : 'Create registration',
      resourceType: 'Microsoft.AzureStack/registrations',
      resourceId: registrationScope(ref),
      oldValue: existing ? { cloudId: existing.cloud_id, billingModel: existing.billing_model } : undefined,
      newValue: { cloudId: row.cloud_id, billingModel: row.billing_model },
    });
    return { registration: row, created: !existing };
  });
}

export const getRegistration = (ctx: RegistrationContext, principal: Principal, ref: RegistrationRef) =>
  requireRegistration(ctx, principal, ref, 'Microsoft.AzureStack/registrations/read');

/** A PATCH that keeps the stored token is not verified again, so registrations from before signed tokens keep working. */
export async function patchRegistration(
  ctx: RegistrationContext,
  principal: Principal,
  ref: RegistrationRef,
  input: RegistrationInput,
) {
  const current = await requireRegistration(ctx, principal, ref, 'Microsoft.AzureStack/registrations/write');
  requireGlobal(input.location);
  const token = input.properties?.registrationToken ?? current.registration_token;
  const facts =
    token === current.registration_token
      ? { cloudId: current.cloud_id, objectId: current.object_id, billingModel: current.billing_model }
      : await trustedTokenFacts(ctx, token);
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  const { registration } = await writeRegistration(ctx, principal, sub, ref, {
    tags: input.tags ?? current.tags,
    token,
    facts,
  });
  return registration;
}

/**
 * Warns of cloud ids that more than one live registration holds: only folders from before the rule
 * have them. Both are kept (their links and usage history too) until an administrator deletes one;
 * each reports for itself meanwhile, since usage is taken from the one naming the caller.
 */
export async function reportSharedCloudIds(ctx: RegistrationContext, logger: { warn(obj: object, msg: string): void }) {
  const shared = await registrationStore.sharedCloudIds(ctx.db);
  for (const { cloud_id, registrations } of shared) {
    logger.warn(
      { cloudId: cloud_id, registrations },
      `the deployment ${cloud_id} is held by ${registrations.length} live registrations; delete all but one (a deployment has one registration)`,
    );
  }
  return shared;
}

/** Deletes a registration: its customer subscriptions stop being in force now. Says whether there was one. */
export async function deleteRegistration(
  ctx: RegistrationContext,
  principal: Principal,
  ref: RegistrationRef,
): Promise<boolean> {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, 'Microsoft.AzureStack/registrations/delete', registrationScope(ref));
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    const reg = await registrationStore.getLive(db, sub.subscription_id, ref.resourceGroup, ref.name);
    if (!reg) return false;
    await registrationStore.endAllLinks(db, reg.id, now, principal.objectId);
    await registrationStore.markDeleted(db, reg.id, now);
    await registrationChanged(db, sub, ref, reg, 'deleted', now);
    await ctx.arm.recordChange?.(db, principal, sub, {
      operation: 'Delete registration',
      resourceType: 'Microsoft.AzureStack/registrations',
      resourceId: registrationScope(ref),
      oldValue: { cloudId: reg.cloud_id, billingModel: reg.billing_model },
    });
    return true;
  });
}

export async function listRegistrations(
  ctx: RegistrationContext,
  principal: Principal,
  subscriptionId: string,
  resourceGroup: string | undefined,
  cursor: Cursor,
) {
  const sub = await authorizeListing(
    ctx.arm,
    principal,
    'Microsoft.AzureStack/registrations/read',
    subscriptionId,
    resourceGroup,
  );
  return registrationStore.list(ctx.db, sub.subscription_id, resourceGroup, cursor);
}

/** What registrations publish for ARM's generic resource list (the caller's rights are checked by the route). */
export function registrationLister(ctx: RegistrationContext): ResourceLister {
  return async (subscriptionId, resourceGroup, filter, cursor) => {
    if (filter.resourceType !== undefined && filter.resourceType.toLowerCase() !== REGISTRATION_TYPE.toLowerCase())
      return [];
    const rows = await registrationStore.listFiltered(
      ctx.db,
      { subscriptionId, resourceGroup, name: filter.name, location: filter.location },
      cursor,
    );
    return rows.map((r) => {
      const { etag: _etag, properties: _properties, ...generic } = registrationView(r);
      return generic;
    });
  };
}

export async function activationKey(
  ctx: RegistrationContext,
  principal: Principal,
  ref: RegistrationRef,
): Promise<string> {
  const reg = await requireRegistration(
    ctx,
    principal,
    ref,
    'Microsoft.AzureStack/registrations/getActivationKey/action',
  );
  return ctx.signActivationKey({
    registrationId: registrationScope({
      subscriptionId: reg.subscription_id,
      resourceGroup: reg.resource_group,
      name: reg.name,
    }),
    cloudId: reg.cloud_id,
    objectId: reg.object_id,
    billingModel: reg.billing_model,
  });
}

/** The provider's approval of a registration for multi-tenancy (or its withdrawal). */
export async function setMultiTenancyApproval(
  ctx: RegistrationContext,
  principal: Principal,
  ref: RegistrationRef,
  approved: boolean,
) {
  // At the root scope: an Owner of the registration's own subscription may not approve it.
  await ctx.system.require(principal, 'Microsoft.AzureStack/registrations/approveMultiTenancy/action');
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  const reg = await registrationStore.getLive(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  if (!reg) throw registrationErrors.registrationNotFound(ref.subscriptionId, ref.resourceGroup, ref.name);
  const next = { ...reg, multi_tenancy_approved: approved, etag: newGuid(), updated_at: ctx.arm.clock.now() };
  await inTransaction(ctx.db, async (db) => {
    await registrationStore.update(db, next);
    await registrationChanged(
      db,
      sub,
      ref,
      next,
      approved ? 'multiTenancyApproved' : 'multiTenancyRevoked',
      next.updated_at,
    );
  });
  return next;
}

/**
 * Tells webhooks a registration changed, in the transaction that changed it. Whoever may read the
 * registration's subscription (its directory, the partner that sold it, the system) may hear of it.
 */
function registrationChanged<DB>(
  db: Kysely<DB>,
  sub: SubscriptionsTable,
  ref: RegistrationRef,
  reg: RegistrationsTable,
  change: 'created' | 'updated' | 'deleted' | 'multiTenancyApproved' | 'multiTenancyRevoked',
  at: Date,
) {
  return notificationStore.record(db, [
    {
      key: `registration.changed:${reg.id}:${change === 'deleted' ? 'deleted' : reg.etag}`,
      type: 'registration.changed',
      occurredAt: at,
      data: {
        registrationId: registrationScope(ref),
        change,
        cloudId: reg.cloud_id,
        billingModel: reg.billing_model,
        multiTenancyApproved: reg.multi_tenancy_approved,
      },
      partnerId: sub.sold_by ?? null,
      customerId: sub.tenant_id,
    },
  ]);
}
