import { authorize, createSubscription, inTransaction } from '../../arm/service.ts';
import { armStore } from '../../arm/store.ts';
import { OWNER } from '../../arm/roles.ts';
import type { Cursor } from '../../core/paging.ts';
import type { SubscriptionsTable } from '../../arm/tables.ts';
import { scopeKey } from '../../core/arm-id.ts';
import { armErrors, armError } from '../../core/errors.ts';
import { isGuid, newGuid } from '../../core/ids.ts';
import { noteRightsChecked, type Principal } from '../../core/principal.ts';
import { retryOnceOnUniqueViolation } from '../../db/database.ts';
import { requireProviderScope, type OffersContext } from './context.ts';
import { ADMIN_SUBSCRIPTION_STATES, offerNameOf, offersErrors, tenantOfferId } from './rules.ts';
import { offersStore } from './store.ts';

// Tenant subscriptions: a tenant takes a public offer or cancels its subscription (tenant
// endpoint); the operator creates, changes (owner, state) and deletes them (admin endpoint).

// A PUT that two callers send at once: the loser of the race to create runs again as the update.
export const takeOffer = (...args: Parameters<typeof takeOfferOnce>) =>
  retryOnceOnUniqueViolation(() => takeOfferOnce(...args));
export const putAdminSubscription = (...args: Parameters<typeof putAdminSubscriptionOnce>) =>
  retryOnceOnUniqueViolation(() => putAdminSubscriptionOnce(...args));

/** A tenant takes a public offer: a new subscription in the caller's directory, owned by the caller. */
async function takeOfferOnce(
  ctx: OffersContext,
  principal: Principal,
  subscriptionId: string,
  input: { displayName: string; offerId: string },
) {
  // Self-service: anyone admitted takes a public offer, into a subscription of its own directory.
  noteRightsChecked(principal);
  if (!isGuid(subscriptionId)) throw armErrors.invalidSubscriptionId(subscriptionId);
  const existing = await armStore.getSubscription(ctx.arm.db, subscriptionId.toLowerCase());
  if (existing) {
    if (existing.state === 'Deleted' || existing.tenant_id !== principal.tenantId) {
      throw armError('SubscriptionIdAlreadyExists', `The subscription id '${subscriptionId}' is already in use.`);
    }
    await authorize(
      ctx.arm,
      principal,
      'Microsoft.Resources/subscriptions/write',
      `/subscriptions/${existing.subscription_id}`,
    );
    return { subscription: existing, created: false };
  }
  const name = offerNameOf(input.offerId);
  const offer = name ? await offersStore.offerByName(ctx.db, name) : undefined;
  if (offer?.state !== 'Public') throw offersErrors.offerNotAvailable(input.offerId);
  const offerId = tenantOfferId(offer.name);
  const owner = principal.userPrincipalName ?? principal.objectId;
  if (
    offer.max_subscriptions_per_account !== null &&
    (await armStore.liveSubscriptionsOfOwner(ctx.arm.db, principal.tenantId, owner, offerId)) >=
      offer.max_subscriptions_per_account
  ) {
    throw offersErrors.tooManySubscriptions(offer.name, offer.max_subscriptions_per_account);
  }
  const subscription = await inTransaction(ctx.arm.db, async (db) => {
    const created = await createSubscription(
      ctx.arm,
      {
        subscriptionId,
        tenantId: principal.tenantId,
        displayName: input.displayName,
        owners: [{ principalId: principal.objectId, principalType: principal.kind }],
        createdBy: principal.objectId,
        offerId,
      },
      db,
    );
    await armStore.setSubscriptionOwner(db, created.subscription_id, owner);
    return { ...created, owner };
  });
  return { subscription, created: true };
}

/** The owner of a tenant subscription cancels it. */
export async function cancelSubscription(
  ctx: OffersContext,
  principal: Principal,
  subscriptionId: string,
): Promise<boolean> {
  if (!isGuid(subscriptionId)) throw armErrors.invalidSubscriptionId(subscriptionId);
  const sub = await armStore.getSubscription(ctx.arm.db, subscriptionId.toLowerCase());
  if (!sub || sub.state === 'Deleted') return false;
  await authorize(
    ctx.arm,
    principal,
    'Microsoft.Resources/subscriptions/delete',
    `/subscriptions/${sub.subscription_id}`,
  );
  await armStore.setSubscriptionState(ctx.arm.db, sub.subscription_id, 'Deleted');
  await ctx.onSubscriptionStateChanged?.(sub.subscription_id);
  return true;
}

export interface AdminSubscriptionInput {
  displayName?: string;
  offerId?: string;
  owner?: string;
  state?: string;
  tenantId?: string;
}

const invalidOwner = (owner: string, tenantId: string) =>
  armError('InvalidOwner', `No user '${owner}' in the directory '${tenantId}'.`, 'properties.owner');

/** The operator's right on tenant subscriptions, held on the default provider subscription. */
const requireAdminRight = (
  ctx: OffersContext,
  principal: Principal,
  providerSubscriptionId: string,
  verb: 'read' | 'write' | 'delete',
) =>
  requireProviderScope(
    ctx,
    principal,
    providerSubscriptionId,
    `Microsoft.Subscriptions.Admin/subscriptions/${verb}`,
    `/subscriptions/${providerSubscriptionId}`,
  );

/** A tenant subscription by id, unless it is not a GUID, does not exist or was deleted. */
async function liveSubscription(ctx: OffersContext, targetId: string) {
  const sub = isGuid(targetId) ? await armStore.getSubscription(ctx.arm.db, targetId.toLowerCase()) : undefined;
  return sub && sub.state !== 'Deleted' ? sub : undefined;
}

/** The operator creates or changes a tenant subscription: its owner, its state (suspend = Disabled). */
async function putAdminSubscriptionOnce(
  ctx: OffersContext,
  principal: Principal,
  providerSubscriptionId: string,
  targetId: string,
  input: AdminSubscriptionInput,
) {
  await requireAdminRight(ctx, principal, providerSubscriptionId, 'write');
  if (!isGuid(targetId)) throw armErrors.invalidSubscriptionId(targetId);
  if (input.state !== undefined && !ADMIN_SUBSCRIPTION_STATES.includes(input.state)) {
    throw armError(
      'InvalidSubscriptionState',
      `'${input.state}' is not a subscription state; use one of ${ADMIN_SUBSCRIPTION_STATES.join(', ')}.`,
      'properties.state',
    );
  }
  const sub = await armStore.getSubscription(ctx.arm.db, targetId.toLowerCase());
  if (!sub) return { subscription: await createForTenant(ctx, principal, targetId, input), created: true };
  if (input.owner !== undefined && input.owner !== sub.owner) await changeOwner(ctx, principal, sub, input.owner);
  if (input.state !== undefined && input.state !== sub.state) {
    await armStore.setSubscriptionState(ctx.arm.db, sub.subscription_id, input.state);
    await ctx.onSubscriptionStateChanged?.(sub.subscription_id);
  }
  return { subscription: (await armStore.getSubscription(ctx.arm.db, sub.subscription_id))!, created: false };
}

/** A new subscription the operator makes for a user of a directory, of any offer. */
async function createForTenant(
  ctx: OffersContext,
  principal: Principal,
  targetId: string,
  input: AdminSubscriptionInput,
): Promise<SubscriptionsTable> {
  if (!input.offerId || !input.owner)
    throw armError('InvalidRequestContent', "A new subscription needs 'offerId' and 'owner'.", 'properties');
  const offer = await offersStore.offerByName(ctx.db, offerNameOf(input.offerId) ?? '');
  if (!offer) throw offersErrors.offerNotAvailable(input.offerId);
  const tenantId = input.tenantId;
  if (!tenantId || !isGuid(tenantId))
    throw armError(
      'InvalidRequestContent',
      "A new subscription needs the owner's directory as 'tenantId'.",
      'properties.tenantId',
    );
  const ownerId = await ctx.findUser(tenantId, input.owner);
  if (!ownerId) throw invalidOwner(input.owner, tenantId);
  const sub = await createSubscription(ctx.arm, {
    subscriptionId: targetId,
    tenantId,
    displayName: input.displayName ?? input.owner,
    owners: [{ principalId: ownerId, principalType: 'User' }],
    createdBy: principal.objectId,
    offerId: tenantOfferId(offer.name),
  });
  await armStore.setSubscriptionOwner(ctx.arm.db, sub.subscription_id, input.owner);
  // Read again, as the update path does, so both answer the stored row (its owner included).
  return (await armStore.getSubscription(ctx.arm.db, sub.subscription_id))!;
}

/** The operator names another owner: a user of the subscription's directory, made its Owner. */
async function changeOwner(ctx: OffersContext, principal: Principal, sub: SubscriptionsTable, owner: string) {
  const ownerId = await ctx.findUser(sub.tenant_id, owner);
  if (!ownerId) throw invalidOwner(owner, sub.tenant_id);
  const scope = `/subscriptions/${sub.subscription_id}`;
  if (!(await armStore.findEquivalentAssignment(ctx.arm.db, scopeKey(scope), OWNER, ownerId))) {
    await armStore.insertRoleAssignment(ctx.arm.db, {
      name: newGuid(),
      scope,
      scope_key: scopeKey(scope),
      subscription_id: sub.subscription_id,
      role_definition_id: OWNER,
      principal_id: ownerId,
      principal_type: 'User',
      created_at: ctx.arm.clock.now(),
      created_by: principal.objectId,
    });
  }
  await armStore.setSubscriptionOwner(ctx.arm.db, sub.subscription_id, owner);
}

export async function getAdminSubscription(
  ctx: OffersContext,
  principal: Principal,
  providerSubscriptionId: string,
  targetId: string,
) {
  await requireAdminRight(ctx, principal, providerSubscriptionId, 'read');
  const sub = await liveSubscription(ctx, targetId);
  if (!sub) throw armErrors.subscriptionNotFound(targetId);
  return sub;
}

export async function listAdminSubscriptions(
  ctx: OffersContext,
  principal: Principal,
  providerSubscriptionId: string,
  cursor: Cursor,
) {
  await requireProviderScope(
    ctx,
    principal,
    providerSubscriptionId,
    'Microsoft.Subscriptions.Admin/subscriptions/read',
    `/subscriptions/${providerSubscriptionId}`,
  );
  return armStore.listSubscriptions(ctx.arm.db, cursor);
}

export async function deleteAdminSubscription(
  ctx: OffersContext,
  principal: Principal,
  providerSubscriptionId: string,
  targetId: string,
): Promise<boolean> {
  await requireAdminRight(ctx, principal, providerSubscriptionId, 'delete');
  const sub = await liveSubscription(ctx, targetId);
  if (!sub) return false;
  if (sub.subscription_id === ctx.providerSubscriptionId())
    throw armError('CannotDeleteProviderSubscription', 'The default provider subscription cannot be deleted.');
  await armStore.setSubscriptionState(ctx.arm.db, sub.subscription_id, 'Deleted');
  await ctx.onSubscriptionStateChanged?.(sub.subscription_id);
  return true;
}
