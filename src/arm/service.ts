import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.ts';
import { ancestorScopeKeys, parseResourceId, ROOT_SCOPE, scopeKey } from '../core/arm-id.ts';
import { armError, armErrors } from '../core/errors.ts';
import { isUniqueViolation } from '../db/database.ts';
import { isGuid, newGuid } from '../core/ids.ts';
import { noteRightsChecked, type Principal } from '../core/principal.ts';
import { assignableAt, findRole, roleAllows, roleAllowsData, roleIdFromReference, OWNER } from './roles.ts';
import { armStore, type ArmDb } from './store.ts';
import type { NamedArmRow, ResourceGroupsTable, RoleAssignmentsTable, SubscriptionsTable } from './tables.ts';

// Use cases of the ARM base, shared by the hub and the stack: subscriptions, resource groups,
// role assignments, and the one authorization check that every route calls.

export interface TenantInfo {
  tenantId: string;
  displayName?: string;
  defaultDomain?: string;
}

/**
 * A transaction on the role's own database, as a hook receives it: only the role (hub or stack)
 * knows all its tables, and Kysely's database type is invariant, so no narrower type takes each
 * caller's view of that database.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above; each hook's implementation names its role's tables.
export type RoleDb = Kysely<any>;

export interface ArmContext {
  db: ArmDb;
  clock: Clock;
  /** Locations that resources of this role may use. */
  locations(): string[];
  /** The directories the caller may see (GET /tenants). */
  tenantsOf(principal: Principal): Promise<TenantInfo[]>;
  /**
   * The type of a principal as its directory object says (User, ServicePrincipal), or undefined
   * when it does not exist there; `tenantId` is the directory of the assignment's scope.
   */
  principalType?(principalId: string, tenantId: string): Promise<string | undefined>;
  /** Roles a principal holds on a subscription without an assignment (the hub: a partner's admin on behalf of). */
  implicitRoles?(principal: Principal, subscription: SubscriptionsTable): Promise<string[]>;
  /** What else goes when a resource group goes (the stack: its resources). */
  onResourceGroupDeleted?(db: RoleDb, subscriptionId: string, resourceGroup: string): Promise<void>;
  /** Keeps a record of a change made in a subscription (the hub: the directory's activity log). */
  recordChange?(
    db: RoleDb,
    actor: Principal,
    subscription: SubscriptionsTable | null,
    change: ArmChange,
  ): Promise<void>;
}

export interface ArmChange {
  operation: string;
  resourceType: string;
  resourceId: string;
  oldValue?: unknown;
  newValue?: unknown;
}

export const SUBSCRIPTION_WRITABLE_STATES = new Set(['Enabled']);

function principalIds(principal: Principal): string[] {
  return [principal.objectId];
}

async function implicitRolesOn(
  ctx: ArmContext,
  principal: Principal,
  subscriptionId: string | undefined,
): Promise<string[]> {
  if (!ctx.implicitRoles || subscriptionId === undefined || !isGuid(subscriptionId)) return [];
  const sub = await armStore.getSubscription(ctx.db, subscriptionId.toLowerCase());
  return sub ? ctx.implicitRoles(principal, sub) : [];
}

/** The roles a principal holds at a scope: assigned there or above (down from the root `/`), or implied. */
async function rolesAt(ctx: ArmContext, principal: Principal, scope: string) {
  noteRightsChecked(principal);
  const assignments = await armStore.assignmentsAt(ctx.db, principalIds(principal), ancestorScopeKeys(scope));
  const roleIds = [
    ...assignments.map((a) => a.role_definition_id),
    ...(await implicitRolesOn(ctx, principal, parseResourceId(scope)?.subscriptionId)),
  ];
  return roleIds.map(findRole).filter((r) => r !== undefined);
}

/** Whether the principal may perform an action at a scope (`/` for the whole system). */
export async function mayPerform(
  ctx: ArmContext,
  principal: Principal,
  action: string,
  scope: string,
): Promise<boolean> {
  return (await rolesAt(ctx, principal, scope)).some((role) => roleAllows(role, action));
}

/** The one authorization check: 403 AuthorizationFailed unless a role at or above the scope allows the action. */
export async function authorize(ctx: ArmContext, principal: Principal, action: string, scope: string): Promise<void> {
  if (!(await mayPerform(ctx, principal, action, scope)))
    throw armErrors.authorizationFailed(principal.objectId, action, scope);
}

/** Whether the principal holds a data action at a scope, which only roles that name it grant (never `*`). */
export async function mayPerformData(
  ctx: ArmContext,
  principal: Principal,
  dataAction: string,
  scope: string,
): Promise<boolean> {
  return (await rolesAt(ctx, principal, scope)).some((role) => roleAllowsData(role, dataAction));
}

/** The same check for a data action: 403 AuthorizationFailed unless a role at or above the scope names it. */
export async function authorizeData(
  ctx: ArmContext,
  principal: Principal,
  dataAction: string,
  scope: string,
): Promise<void> {
  if (!(await mayPerformData(ctx, principal, dataAction, scope)))
    throw armErrors.authorizationFailed(principal.objectId, dataAction, scope);
}

/** Whether the principal holds a data action anywhere (at the root or on any subscription). */
export async function holdsDataActionAnywhere(
  ctx: ArmContext,
  principal: Principal,
  dataAction: string,
): Promise<boolean> {
  noteRightsChecked(principal);
  const roleIds = await armStore.roleIdsOf(ctx.db, principalIds(principal));
  return roleIds.some((id) => {
    const role = findRole(id);
    return role !== undefined && roleAllowsData(role, dataAction);
  });
}

/** Rights over the whole system (the hub's administration, a stack's operation): roles assigned at the root scope `/`. */
export interface SystemRights {
  /** 403 AuthorizationFailed unless a role assigned at `/` allows the action. */
  require(principal: Principal, action: string): Promise<void>;
  may(principal: Principal, action: string): Promise<boolean>;
}

export function systemRights(ctx: ArmContext): SystemRights {
  return {
    require: (principal, action) => authorize(ctx, principal, action, ROOT_SCOPE),
    may: (principal, action) => mayPerform(ctx, principal, action, ROOT_SCOPE),
  };
}

/** The subscription named in a path: 400 when not a GUID, 404 when unknown or deleted. */
export async function requireSubscription(ctx: ArmContext, subscriptionId: string): Promise<SubscriptionsTable> {
  if (!isGuid(subscriptionId)) throw armErrors.invalidSubscriptionId(subscriptionId);
  const sub = await armStore.getSubscription(ctx.db, subscriptionId.toLowerCase());
  if (!sub || sub.state === 'Deleted') throw armErrors.subscriptionNotFound(subscriptionId);
  return sub;
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

/** Runs work in the given transaction, or in a new one. */
/** The identity of a named resource's row: the existing row's (an update keeps id and spelling), else a new one. */
export function namedRowIdentity(
  existing: NamedArmRow | undefined,
  subscriptionId: string,
  ref: { resourceGroup: string; name: string },
): NamedArmRow {
  return {
    id: existing?.id ?? newGuid(),
    subscription_id: subscriptionId,
    resource_group: existing?.resource_group ?? ref.resourceGroup,
    resource_group_key: ref.resourceGroup.toLowerCase(),
    name: existing?.name ?? ref.name,
    name_key: ref.name.toLowerCase(),
  };
}

export function inTransaction<DB, T>(db: Kysely<DB>, work: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
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

/** Gives each principal a role at the root scope `/`, once (bootstrap, and upgrades of older folders). */
export async function ensureRootRole(
  ctx: ArmContext,
  roleId: string,
  principals: { principalId: string; principalType: string }[],
): Promise<void> {
  for (const p of principals) {
    await armStore.ensureRoleAssignment(ctx.db, {
      name: newGuid(),
      scope: ROOT_SCOPE,
      scope_key: ROOT_SCOPE,
      subscription_id: null,
      role_definition_id: roleId,
      principal_id: p.principalId.toLowerCase(),
      principal_type: p.principalType,
      created_at: ctx.clock.now(),
      created_by: null,
    });
  }
}

// ---- resource groups ----------------------------------------------------------------------------

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
  offset: number,
  limit: number,
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
  return armStore.listResourceGroups(ctx.db, sub.subscription_id, offset, limit, onlyGroups);
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

// ---- role assignments ---------------------------------------------------------------------------

export interface RoleAssignmentInput {
  roleDefinitionId: string;
  principalId: string;
  principalType?: string;
}

/** The subscription a role-assignment scope lies in, or null at the root scope `/`. */
async function scopeSubscription(ctx: ArmContext, subscriptionId: string | null): Promise<SubscriptionsTable | null> {
  return subscriptionId === null ? null : requireSubscription(ctx, subscriptionId);
}

export async function putRoleAssignment(
  ctx: ArmContext,
  principal: Principal,
  scope: string,
  subscriptionId: string | null,
  name: string,
  input: RoleAssignmentInput,
): Promise<{ assignment: RoleAssignmentsTable; created: boolean }> {
  const sub = await scopeSubscription(ctx, subscriptionId);
  await authorize(ctx, principal, 'Microsoft.Authorization/roleAssignments/write', scope);
  if (!isGuid(name)) {
    throw armError(
      'InvalidRoleAssignmentId',
      `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`,
      'name',
    );
  }
  const roleId = roleIdFromReference(input.roleDefinitionId);
  const role = roleId ? findRole(roleId) : undefined;
  if (!roleId || !role) {
    throw armError(
      'RoleDefinitionDoesNotExist',
      `The specified role definition with ID '${input.roleDefinitionId}' does not exist.`,
      'properties.roleDefinitionId',
    );
  }
  if (!assignableAt(role, scopeKey(scope))) {
    throw armError(
      'InvalidRoleAssignmentScope',
      `The role '${role.roleName}' cannot be assigned at scope '${scope}': it is assignable ${role.assignableAt === 'root' ? "only at the root scope '/'" : 'only at a subscription or below'}.`,
      'properties.scope',
    );
  }
  if (!isGuid(input.principalId)) {
    throw armError(
      'InvalidPrincipalId',
      `A valid principal ID must be provided for role assignment; '${input.principalId}' is not one.`,
      'properties.principalId',
    );
  }
  const principalId = input.principalId.toLowerCase();
  let principalType = input.principalType ?? 'User';
  if (ctx.principalType) {
    const found = await ctx.principalType(principalId, sub?.tenant_id ?? principal.tenantId);
    if (!found) {
      throw armError(
        'PrincipalNotFound',
        `Principal ${principalId} does not exist in the directory.`,
        'properties.principalId',
      );
    }
    principalType = found;
  }
  const key = scopeKey(scope);
  const existing = await armStore.getRoleAssignment(ctx.db, name);
  if (existing) {
    if (existing.scope_key === key && existing.role_definition_id === roleId && existing.principal_id === principalId) {
      return { assignment: existing, created: false };
    }
    throw armError(
      'RoleAssignmentUpdateNotPermitted',
      `Tenant ID, application ID, principal ID, and scope are not allowed to be updated; role assignment '${name}' already exists with other values.`,
    );
  }
  const twin = await armStore.findEquivalentAssignment(ctx.db, key, roleId, principalId);
  // A twin request of this very name may have made it since: that is this assignment, as a repeat sees it.
  if (twin?.name === name.toLowerCase()) return { assignment: twin, created: false };
  if (twin) throw armError('RoleAssignmentExists', `The role assignment already exists (as '${twin.name}').`);
  const row: RoleAssignmentsTable = {
    name: name.toLowerCase(),
    scope,
    scope_key: key,
    subscription_id: sub?.subscription_id ?? null,
    role_definition_id: roleId,
    principal_id: principalId,
    principal_type: principalType,
    created_at: ctx.clock.now(),
    created_by: principal.objectId,
  };
  try {
    await inTransaction(ctx.db, async (db) => {
      await armStore.insertRoleAssignment(db, row);
      await ctx.recordChange?.(db, principal, sub, {
        operation: 'Create role assignment',
        resourceType: 'Microsoft.Authorization/roleAssignments',
        resourceId: `${scope}/providers/Microsoft.Authorization/roleAssignments/${row.name}`,
        newValue: assignmentRecord(row),
      });
    });
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
    // A concurrent twin won: the same assignment under this name is the repeat's 200, anything else a conflict.
    const winner = await armStore.getRoleAssignment(ctx.db, name);
    if (
      winner &&
      winner.scope_key === key &&
      winner.role_definition_id === roleId &&
      winner.principal_id === principalId
    )
      return { assignment: winner, created: false };
    throw armError('RoleAssignmentExists', 'The role assignment already exists.');
  }
  return { assignment: row, created: true };
}

export async function getRoleAssignment(
  ctx: ArmContext,
  principal: Principal,
  scope: string,
  subscriptionId: string | null,
  name: string,
): Promise<RoleAssignmentsTable> {
  await scopeSubscription(ctx, subscriptionId);
  await authorize(ctx, principal, 'Microsoft.Authorization/roleAssignments/read', scope);
  const row = isGuid(name) ? await armStore.getRoleAssignment(ctx.db, name) : undefined;
  if (!row || row.scope_key !== scopeKey(scope)) {
    throw armError('RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);
  }
  return row;
}

export async function deleteRoleAssignment(
  ctx: ArmContext,
  principal: Principal,
  scope: string,
  subscriptionId: string | null,
  name: string,
): Promise<RoleAssignmentsTable | undefined> {
  const sub = await scopeSubscription(ctx, subscriptionId);
  await authorize(ctx, principal, 'Microsoft.Authorization/roleAssignments/delete', scope);
  const row = isGuid(name) ? await armStore.getRoleAssignment(ctx.db, name) : undefined;
  if (!row || row.scope_key !== scopeKey(scope)) return undefined;
  await inTransaction(ctx.db, async (db) => {
    await armStore.deleteRoleAssignment(db, name);
    await ctx.recordChange?.(db, principal, sub, {
      operation: 'Delete role assignment',
      resourceType: 'Microsoft.Authorization/roleAssignments',
      resourceId: `${scope}/providers/Microsoft.Authorization/roleAssignments/${row.name}`,
      oldValue: assignmentRecord(row),
    });
  });
  return row;
}

function assignmentRecord(a: RoleAssignmentsTable) {
  return {
    roleDefinitionId: a.role_definition_id,
    principalId: a.principal_id,
    principalType: a.principal_type,
    scope: a.scope,
  };
}

/** Parses the $filter values that ARM's role assignment list accepts. */
export function parseAssignmentFilter(filter: string | undefined): { atScopeOnly: boolean; principalId?: string } {
  if (filter === undefined || filter.trim() === '') return { atScopeOnly: false };
  const f = filter.trim();
  if (/^atScope\(\)$/i.test(f)) return { atScopeOnly: true };
  const m = /^(?:principalId\s+eq\s+'([0-9a-f-]{36})'|assignedTo\('([0-9a-f-]{36})'\))$/i.exec(f);
  if (m) return { atScopeOnly: false, principalId: (m[1] ?? m[2]).toLowerCase() };
  throw armError(
    'UnsupportedQuery',
    `The filter '${filter}' is not supported. Supported filters are 'atScope()', "principalId eq '{id}'" and "assignedTo('{id}')".`,
    '$filter',
  );
}
