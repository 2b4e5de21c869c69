import { ancestorScopeKeys, parseResourceId, ROOT_SCOPE } from '../core/arm-id.ts';
import { armErrors } from '../core/errors.ts';
import { isGuid } from '../core/ids.ts';
import { noteRightsChecked, type Principal } from '../core/principal.ts';
import type { ArmContext } from './context.ts';
import { findRole, roleAllows, roleAllowsData } from './roles.ts';
import { armStore } from './store.ts';
import type { SubscriptionsTable } from './tables.ts';

// The one authorization check that every route calls, for both roles: the roles a principal holds
// at a scope (assigned there or above, or implied by the role) and what they allow.

export function principalIds(principal: Principal): string[] {
  return [principal.objectId];
}

/** The scope's subscription, as a caller that reads it anyway hands it over (undefined: unknown). */
export type KnownSubscription = Promise<SubscriptionsTable | undefined>;

async function implicitRolesOn(
  ctx: ArmContext,
  principal: Principal,
  subscriptionId: string | undefined,
  known: KnownSubscription | undefined,
): Promise<string[]> {
  if (!ctx.implicitRoles || subscriptionId === undefined || !isGuid(subscriptionId)) return [];
  const sub = await (known ?? armStore.getSubscription(ctx.db, subscriptionId.toLowerCase()));
  return sub ? ctx.implicitRoles(principal, sub) : [];
}

/** The roles a principal holds at a scope: assigned there or above (down from the root `/`), or implied. */
async function rolesAt(ctx: ArmContext, principal: Principal, scope: string, known?: KnownSubscription) {
  noteRightsChecked(principal);
  // Two independent look-ups, at once: a request waits for one round trip, not two.
  const [assignments, implicit] = await Promise.all([
    armStore.assignmentsAt(ctx.db, principalIds(principal), ancestorScopeKeys(scope)),
    implicitRolesOn(ctx, principal, parseResourceId(scope)?.subscriptionId, known),
  ]);
  return rolesOf([...assignments.map((a) => a.role_definition_id), ...implicit]);
}

const rolesOf = (roleIds: string[]) => roleIds.map(findRole).filter((r) => r !== undefined);

type Role = ReturnType<typeof rolesOf>[number];

/** Whether any of the roles allows the action: the check itself. */
const allowed = (roles: Role[], action: string) => roles.some((role) => roleAllows(role, action));

/**
 * `authorize` on a subscription whose row and the principal's roles assigned at the scope (at or
 * above it: `ancestorScopeKeys`) the caller has read already, in one statement
 * (`armStore.subscriptionWithAssignedRoles`); the roles the subscription implies are added.
 */
export async function authorizeAssigned(
  ctx: ArmContext,
  principal: Principal,
  action: string,
  scope: string,
  assigned: { subscription: SubscriptionsTable; roleIds: string[] },
): Promise<void> {
  noteRightsChecked(principal);
  const implicit = (await ctx.implicitRoles?.(principal, assigned.subscription)) ?? [];
  if (!allowed(rolesOf([...assigned.roleIds, ...implicit]), action))
    throw armErrors.authorizationFailed(principal.objectId, action, scope);
}

/** What a principal's roles at a scope allow: read once for several checks of one request. */
export interface RightsAt {
  allows(action: string): boolean;
  allowsData(dataAction: string): boolean;
  /** 403 AuthorizationFailed unless a role at or above the scope names the data action. */
  requireData(dataAction: string): void;
}

/** `known`: the scope's subscription, when the caller reads it anyway (read once, not twice). */
export async function rightsAt(
  ctx: ArmContext,
  principal: Principal,
  scope: string,
  known?: KnownSubscription,
): Promise<RightsAt> {
  const roles = await rolesAt(ctx, principal, scope, known);
  const allowsData = (dataAction: string) => roles.some((role) => roleAllowsData(role, dataAction));
  return {
    allows: (action) => allowed(roles, action),
    allowsData,
    requireData: (dataAction) => {
      if (!allowsData(dataAction)) throw armErrors.authorizationFailed(principal.objectId, dataAction, scope);
    },
  };
}

/** Whether the principal may perform an action at a scope (`/` for the whole system). */
export async function mayPerform(
  ctx: ArmContext,
  principal: Principal,
  action: string,
  scope: string,
  known?: KnownSubscription,
): Promise<boolean> {
  return (await rightsAt(ctx, principal, scope, known)).allows(action);
}

/** The one authorization check: 403 AuthorizationFailed unless a role at or above the scope allows the action. */
export async function authorize(
  ctx: ArmContext,
  principal: Principal,
  action: string,
  scope: string,
  known?: KnownSubscription,
): Promise<void> {
  if (!(await mayPerform(ctx, principal, action, scope, known)))
    throw armErrors.authorizationFailed(principal.objectId, action, scope);
}

/** Whether the principal holds a data action at a scope, which only roles that name it grant (never `*`). */
export async function mayPerformData(
  ctx: ArmContext,
  principal: Principal,
  dataAction: string,
  scope: string,
): Promise<boolean> {
  return (await rightsAt(ctx, principal, scope)).allowsData(dataAction);
}

/** The same check for a data action: 403 AuthorizationFailed unless a role at or above the scope names it. */
export async function authorizeData(
  ctx: ArmContext,
  principal: Principal,
  dataAction: string,
  scope: string,
): Promise<void> {
  (await rightsAt(ctx, principal, scope)).requireData(dataAction);
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
