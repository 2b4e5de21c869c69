import { ancestorScopeKeys, scopeKey } from '../core/arm-id.ts';
import { armError, armErrors } from '../core/errors.ts';
import { isGuid, newGuid } from '../core/ids.ts';
import { noteRightsChecked, type Principal } from '../core/principal.ts';
import { authorizeAssigned, principalIds } from './authorization.ts';
import { inTransaction, type ArmContext } from './context.ts';
import { OWNER } from './roles.ts';
import { armStore, type ArmDb } from './store.ts';
import type { SubscriptionsTable } from './tables.ts';

// Subscriptions of the ARM base, shared by the hub and the stack: the one a path names, whether it
// may be read or written, and creating one with its owners.

export const SUBSCRIPTION_WRITABLE_STATES = new Set(['Enabled']);

/** The subscription named in a path: 400 when not a GUID, 404 when unknown or deleted. */
export async function requireSubscription(ctx: ArmContext, subscriptionId: string): Promise<SubscriptionsTable> {
  if (!isGuid(subscriptionId)) throw armErrors.invalidSubscriptionId(subscriptionId);
  return found(await armStore.getSubscription(ctx.db, subscriptionId.toLowerCase()), subscriptionId);
}

/** A subscription read by the id a path names: 404 when unknown or deleted. */
function found<T extends { state: SubscriptionsTable['state'] }>(sub: T | undefined, subscriptionId: string): T {
  if (!sub || sub.state === 'Deleted') throw armErrors.subscriptionNotFound(subscriptionId);
  return sub;
}

/**
 * The subscription named in a path (as `requireSubscription`), once the principal may perform
 * `action` on it: the subscription and the principal's assigned roles are read in one statement;
 * a missing one is still a 404 first.
 */
export async function requireSubscriptionRight(
  ctx: ArmContext,
  principal: Principal,
  action: string,
  subscriptionId: string,
): Promise<SubscriptionsTable> {
  if (!isGuid(subscriptionId)) throw armErrors.invalidSubscriptionId(subscriptionId);
  // Ids are stored in lower case, so the scope is the one the subscription's row names.
  const scope = `/subscriptions/${subscriptionId.toLowerCase()}`;
  const read = await armStore.subscriptionWithAssignedRoles(
    ctx.db,
    subscriptionId.toLowerCase(),
    principalIds(principal),
    ancestorScopeKeys(scope),
  );
  const subscription = found(read?.subscription, subscriptionId);
  await authorizeAssigned(ctx, principal, action, scope, { subscription, roleIds: read!.roleIds });
  return subscription;
}

export function requireWritable(sub: SubscriptionsTable): void {
  if (!SUBSCRIPTION_WRITABLE_STATES.has(sub.state)) {
    throw armError(
      'ReadOnlyDisabledSubscription',
      `The subscription '${sub.subscription_id}' is disabled and therefore marked as read only. You cannot perform any write actions on this subscription until it is re-enabled.`,
    );
  }
}

export async function readableSubscription(
  ctx: ArmContext,
  principal: Principal,
  subscriptionId: string,
): Promise<SubscriptionsTable> {
  const sub = await requireSubscription(ctx, subscriptionId);
  noteRightsChecked(principal);
  const implicit = (await ctx.implicitRoles?.(principal, sub)) ?? [];
  if (
    implicit.length === 0 &&
    !(await armStore.hasAnyAssignmentInSubscription(ctx.db, principalIds(principal), sub.subscription_id))
  ) {
    throw armErrors.authorizationFailed(
      principal.objectId,
      'Microsoft.Resources/subscriptions/read',
      `/subscriptions/${subscriptionId}`,
    );
  }
  return sub;
}

export interface NewSubscription {
  subscriptionId?: string;
  tenantId: string;
  displayName: string;
  owners: { principalId: string; principalType: string }[];
  createdBy?: string;
  offerId?: string;
  soldBy?: string;
}

/** Creates a subscription; whoever is named as owner gets the Owner role on it. */
export async function createSubscription(
  ctx: ArmContext,
  input: NewSubscription,
  db: ArmDb = ctx.db,
): Promise<SubscriptionsTable> {
  const now = ctx.clock.now();
  const row: SubscriptionsTable = {
    subscription_id: (input.subscriptionId ?? newGuid()).toLowerCase(),
    tenant_id: input.tenantId,
    display_name: input.displayName,
    state: 'Enabled',
    created_at: now,
    created_by: input.createdBy ?? null,
    offer_id: input.offerId ?? null,
    sold_by: input.soldBy ?? null,
  };
  await inTransaction(db, async (trx) => {
    await armStore.insertSubscription(trx, row);
    for (const owner of input.owners) {
      await armStore.insertRoleAssignment(trx, {
        name: newGuid(),
        scope: `/subscriptions/${row.subscription_id}`,
        scope_key: scopeKey(`/subscriptions/${row.subscription_id}`),
        subscription_id: row.subscription_id,
        role_definition_id: OWNER,
        principal_id: owner.principalId,
        principal_type: owner.principalType,
        created_at: now,
        created_by: input.createdBy ?? null,
      });
    }
  });
  return row;
}
