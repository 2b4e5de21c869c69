/** A directory onboarded to the deployment (multi-tenancy), by the operator. */
export interface DirectoryTenantsTable {
  tenant_id: string;
  name: string;
  name_key: string;
  subscription_id: string;
  resource_group: string;
  created_at: Date;
  /** When the directory's consent (the stack application's service principal there) was last seen. */
  consent_seen_at: Date | null;
}

export interface TenancyTables {
  directory_tenants: DirectoryTenantsTable;
}
