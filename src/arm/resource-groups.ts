import { armErrors, armError } from '../core/errors.ts';
import type { Principal } from '../core/principal.ts';
import type { Cursor } from '../core/paging.ts';
import { authorize, principalIds } from './authorization.ts';
import { inTransaction, type ArmContext } from './context.ts';
import { armStore } from './store.ts';
import { readableSubscription, requireSubscription, requireWritable } from './subscriptions.ts';
import type { ResourceGroupsTable } from './tables.ts';

// Resource groups of the ARM base, shared by the hub and the stack.

const RESOURCE_GROUP_NAME = /^[-\w._()]{1,90}$/u;

export interface ResourceGroupInput {
  location: string;
  tags?: Record<string, string>;
  managedBy?: string;
}

export async function putResourceGroup(
  ctx: ArmContext,
  principal: Principal,
  subscriptionId: string,
  name: string,
  input: ResourceGroupInput,
): Promise<{ group: ResourceGroupsTable; created: boolean }> {
  const sub = await requireSubscription(ctx, subscriptionId);
  await authorize(
    ctx,
    principal,
    'Microsoft.Resources/subscriptions/resourceGroups/write',
    `/subscriptions/${subscriptionId}/resourceGroups/${name}`,
  );
  requireWritable(sub);
  if (!RESOURCE_GROUP_NAME.test(name) || name.endsWith('.')) {
    throw armError(
      'InvalidResourceGroup',
      `The provided resource group name '${name}' has these invalid characters or length. The name can be up to 90 characters, may contain alphanumerics, underscores, parentheses, hyphens and periods, and cannot end in a period.`,
      'name',
    );
  }
  const location = ctx.locations().find((l) => l.toLowerCase() === input.location.toLowerCase().replaceAll(' ', ''));
  if (!location) {
    throw armError(
      'LocationNotAvailableForResourceGroup',
      `The provided location '${input.location}' is not available for resource group. List of available regions is '${ctx.locations().join(',')}'.`,
      'location',
    );
  }
  const existing = await armStore.getResourceGroup(ctx.db, sub.subscription_id, name);
  if (existing && existing.location.toLowerCase() !== location.toLowerCase()) {
    throw armError(
      'InvalidResourceGroupLocation',
      `Invalid resource group location '${input.location}'. The Resource group already exists in location '${existing.location}'.`,
    );
  }
  const row: ResourceGroupsTable = {
    subscription_id: sub.subscription_id,
    name_key: name.toLowerCase(),
    name: existing?.name ?? name,
    location: existing?.location ?? location,
    tags: input.tags ?? {},
    managed_by: input.managedBy ?? null,
    created_at: existing?.created_at ?? ctx.clock.now(),
  };
  const created = await inTransaction(ctx.db, async (db) => {
    const isNew = await armStore.upsertResourceGroup(db, row);
    await ctx.recordChange?.(db, principal, sub, {
      operation: isNew ? 'Create resource group' : 'Update resource group',
      resourceType: 'Microsoft.Resources/resourceGroups',
      resourceId: `/subscriptions/${sub.subscription_id}/resourceGroups/${row.name}`,
      oldValue: existing ? { location: existing.location, tags: existing.tags } : undefined,
      newValue: { location: row.location, tags: row.tags },
    });
    return isNew;
  });
  return { group: row, created };
}

/** The groups of a subscription that the caller may read: all of them, or those it holds a role in. */
export async function listResourceGroups(
  ctx: ArmContext,
  principal: Principal,
  subscriptionId: string,
  cursor: Cursor,
): Promise<ResourceGroupsTable[]> {
  const sub = await readableSubscription(ctx, principal, subscriptionId);
  const wholeSubscription = await authorize(
    ctx,
    principal,
    'Microsoft.Resources/subscriptions/resourceGroups/read',
    `/subscriptions/${subscriptionId}`,
  ).then(
    () => true,
    () => false,
  );
  const onlyGroups = wholeSubscription
    ? undefined
    : await armStore.groupsWithAssignments(ctx.db, principalIds(principal), sub.subscription_id);
  return armStore.listResourceGroups(ctx.db, sub.subscription_id, cursor, onlyGroups);
}

export async function getResourceGroup(
  ctx: ArmContext,
  principal: Principal,
  subscriptionId: string,
  name: string,
): Promise<ResourceGroupsTable> {
  const sub = await requireSubscription(ctx, subscriptionId);
  await authorize(
    ctx,
    principal,
    'Microsoft.Resources/subscriptions/resourceGroups/read',
    `/subscriptions/${subscriptionId}/resourceGroups/${name}`,
  );
  const group = await armStore.getResourceGroup(ctx.db, sub.subscription_id, name);
  if (!group) throw armErrors.resourceGroupNotFound(name);
  return group;
}

/** Deletes a resource group; says whether there was one (200) or not (204). */
export async function deleteResourceGroup(
  ctx: ArmContext,
  principal: Principal,
  subscriptionId: string,
  name: string,
): Promise<boolean> {
  const sub = await requireSubscription(ctx, subscriptionId);
  await authorize(
    ctx,
    principal,
    'Microsoft.Resources/subscriptions/resourceGroups/delete',
    `/subscriptions/${subscriptionId}/resourceGroups/${name}`,
  );
  requireWritable(sub);
  return inTransaction(ctx.db, async (db) => {
    if (await armStore.getResourceGroup(db, sub.subscription_id, name))
      await ctx.onResourceGroupDeleted?.(db, sub.subscription_id, name);
    const deleted = await armStore.deleteResourceGroup(db, sub.subscription_id, name);
    if (deleted) {
      await ctx.recordChange?.(db, principal, sub, {
        operation: 'Delete resource group',
        resourceType: 'Microsoft.Resources/resourceGroups',
        resourceId: `/subscriptions/${sub.subscription_id}/resourceGroups/${name}`,
        oldValue: { name },
      });
    }
    return deleted;
  });
}

/**
 * The one rule of a provider's list: the caller may `action` at the subscription, or at the group
 * when the list is a group's, and that group exists (404 `ResourceGroupNotFound`). Answers the
 * subscription.
 */
export async function authorizeListing(
  ctx: ArmContext,
  principal: Principal,
  action: string,
  subscriptionId: string,
  resourceGroup: string | undefined,
) {
  const sub = await requireSubscription(ctx, subscriptionId);
  const scope = `/subscriptions/${subscriptionId}${resourceGroup === undefined ? '' : `/resourceGroups/${resourceGroup}`}`;
  await authorize(ctx, principal, action, scope);
  if (resourceGroup !== undefined) await requireResourceGroup(ctx, sub.subscription_id, resourceGroup);
  return sub;
}

/** The group a provider's resource lives in: it must exist (404 `ResourceGroupNotFound`). */
export async function requireResourceGroup(ctx: ArmContext, subscriptionId: string, group: string) {
  const row = await armStore.getResourceGroup(ctx.db, subscriptionId, group);
  if (!row) throw armErrors.resourceGroupNotFound(group);
  return row;
}
