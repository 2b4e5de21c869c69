import { ROOT_SCOPE, scopeKey } from '../core/arm-id.ts';
import { armError } from '../core/errors.ts';
import { isUniqueViolation } from '../db/database.ts';
import { isGuid, newGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { authorize } from './authorization.ts';
import { inTransaction, type ArmContext } from './context.ts';
import { assignableAt, findRole, roleIdFromReference } from './roles.ts';
import { armStore } from './store.ts';
import { requireSubscription } from './subscriptions.ts';
import type { RoleAssignmentsTable, SubscriptionsTable } from './tables.ts';

// Role assignments of the ARM base, shared by the hub and the stack: at the root scope `/`, on a
// subscription, a resource group or a resource.

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
