import type { NamedArmRow } from '../../arm/tables.ts';

// The Network provider's own resources (virtual networks with their subnets, security groups with
// their rules, network interfaces), what refers to what, and the stack's public address pool.
// Public IP addresses themselves are metered resources, kept by the resources domain.

export interface NetworkResourcesTable extends NamedArmRow {
  type: string; // Microsoft.Network/virtualNetworks | networkSecurityGroups | networkInterfaces
  type_key: string;
  location: string;
  tags: Record<string, string>;
  /** The properties as the caller set them, children (subnets, security rules) inline. */
  properties: Record<string, unknown>;
  /** Changes at every write; children show their parent's. */
  etag: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export type ReferenceKind = 'subnet' | 'publicIPAddress' | 'networkSecurityGroup' | 'networkInterface';

/** One resource's part referring to another resource (or a subnet of a virtual network). */
export interface NetworkReferencesTable {
  id?: string;
  subscription_id: string;
  /** The row id of the referring resource (a NIC or virtual network here, a VM in the resources domain). */
  holder_id: string;
  /** The ARM id of the referring part (an IP configuration, a subnet, a VM), as shown in back-references. */
  holder: string;
  kind: ReferenceKind;
  /** The row id of the referred resource (a subnet's virtual network). */
  target_id: string;
  /** A subnet's name, lower case; '' for a whole resource. */
  target_child: string;
  /** The private address an IP configuration holds in its subnet. */
  private_ip: string | null;
}

export interface PublicIpPoolTable {
  address: string;
  public_ip_id: string;
}

/** Live network resources per subscription and type, kept by a trigger (migration 1703) for quota checks. */
export interface NetworkUsageTable {
  subscription_id: string;
  type_key: string;
  live: number;
}

export interface NetworkTables {
  network_usage: NetworkUsageTable;
  network_resources: NetworkResourcesTable;
  network_references: NetworkReferencesTable;
  public_ip_pool: PublicIpPoolTable;
}
