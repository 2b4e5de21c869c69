import { roleDefinitionResourceId, type RoleDefinition } from './roles.ts';
import type { ResourceGroupsTable, RoleAssignmentsTable, SubscriptionsTable } from './tables.ts';

// How ARM base resources look on the wire.

export function subscriptionView(s: SubscriptionsTable) {
  return {
    id: `/subscriptions/${s.subscription_id}`,
    subscriptionId: s.subscription_id,
    tenantId: s.tenant_id,
    displayName: s.display_name,
    state: s.state,
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'Default', spendingLimit: 'Off' },
    authorizationSource: 'RoleBased',
  };
}

export function resourceGroupView(g: ResourceGroupsTable) {
  const view: Record<string, unknown> = {
    id: `/subscriptions/${g.subscription_id}/resourceGroups/${g.name}`,
    name: g.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: g.location,
    properties: { provisioningState: 'Succeeded' },
  };
  if (Object.keys(g.tags ?? {}).length > 0) view.tags = g.tags;
  if (g.managed_by) view.managedBy = g.managed_by;
  return view;
}

export function roleAssignmentView(a: RoleAssignmentsTable) {
  const created = a.created_at.toISOString();
  return {
    id: `${a.scope === '/' ? '' : a.scope}/providers/Microsoft.Authorization/roleAssignments/${a.name}`,
    name: a.name,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      roleDefinitionId: roleDefinitionResourceId(a.subscription_id, a.role_definition_id),
      principalId: a.principal_id,
      principalType: a.principal_type,
      scope: a.scope,
      createdOn: created,
      updatedOn: created,
      createdBy: a.created_by,
      updatedBy: a.created_by,
    },
  };
}

export function roleDefinitionView(subscriptionId: string | null, r: RoleDefinition) {
  return {
    id: roleDefinitionResourceId(subscriptionId, r.id),
    name: r.id,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: r.roleName,
      type: 'BuiltInRole',
      description: r.description,
      assignableScopes: r.assignableAt === 'subscription' ? ['/subscriptions'] : ['/'],
      permissions: [{ actions: r.actions, notActions: r.notActions, dataActions: r.dataActions, notDataActions: [] }],
    },
  };
}
