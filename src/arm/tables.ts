// Tables of the ARM base that every role (hub and stack) has: subscriptions, resource groups,
// role assignments, and the role's own settings.

export interface SubscriptionsTable {
  subscription_id: string;
  tenant_id: string;
  display_name: string;
  state: string;
  created_at: Date;
  created_by: string | null;
  offer_id?: string | null;
  /** The partner (its directory) that sold this subscription through the partner center. */
  sold_by?: string | null;
  /** The stack: its owner's sign-in name, as the operator set it. */
  owner?: string | null;
}

/**
 * The identity columns of a resource kept in its own table (registrations, plans, offers, VMs…):
 * names as first written, and lower-case keys that make lookups case-insensitive, as ARM's are.
 */
export interface NamedArmRow {
  id: string;
  subscription_id: string;
  resource_group: string;
  resource_group_key: string;
  name: string;
  name_key: string;
}

export interface ResourceGroupsTable {
  subscription_id: string;
  name_key: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  managed_by: string | null;
  created_at: Date;
}

export interface RoleAssignmentsTable {
  name: string;
  scope: string;
  scope_key: string;
  /** Null for an assignment at the root scope `/`. */
  subscription_id: string | null;
  role_definition_id: string;
  principal_id: string;
  principal_type: string;
  created_at: Date;
  created_by: string | null;
}

export interface SettingsTable {
  key: string;
  value: unknown;
}

export interface ArmTables {
  subscriptions: SubscriptionsTable;
  resource_groups: ResourceGroupsTable;
  role_assignments: RoleAssignmentsTable;
  settings: SettingsTable;
}
