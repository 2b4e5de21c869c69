// The ARM base's use cases, as the hub, the stack and their domains import them: one module per
// aggregate (subscriptions, resource groups, role assignments), the one authorization check, and
// the context each role hands them. This file only publishes them.

export {
  authorize,
  authorizeData,
  holdsDataActionAnywhere,
  mayPerform,
  mayPerformData,
  rightsAt,
  systemRights,
  type RightsAt,
  type SystemRights,
} from './authorization.ts';
export {
  inTransaction,
  namedRowIdentity,
  type ArmChange,
  type ArmContext,
  type RoleDb,
  type TenantInfo,
} from './context.ts';
export {
  authorizeListing,
  deleteResourceGroup,
  getResourceGroup,
  listResourceGroups,
  putResourceGroup,
  requireResourceGroup,
  type ResourceGroupInput,
} from './resource-groups.ts';
export {
  deleteRoleAssignment,
  ensureRootRole,
  getRoleAssignment,
  parseAssignmentFilter,
  putRoleAssignment,
  type RoleAssignmentInput,
} from './role-assignments.ts';
export {
  createSubscription,
  readableSubscription,
  requireSubscription,
  requireSubscriptionRight,
  requireWritable,
  SUBSCRIPTION_WRITABLE_STATES,
  type NewSubscription,
} from './subscriptions.ts';
