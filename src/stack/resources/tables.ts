import type { NamedArmRow } from '../../arm/tables.ts';

/**
 * A resource's properties as stored: a JSON object whose shape its type (types/*.ts) decides; each
 * type reads it through its own typed reader (built of stored.ts's), never a cast.
 */
export type StoredProperties = Record<string, unknown>;

export interface ResourcesTable extends NamedArmRow {
  type: string; // Microsoft.Compute/virtualMachines, Microsoft.Storage/storageAccounts, Microsoft.Network/publicIPAddresses
  type_key: string;
  location: string;
  tags: Record<string, string>;
  /** The resource's properties as the provider keeps them (sizes, images, power state, ...). */
  properties: StoredProperties;
  sku: Record<string, unknown> | null;
  kind: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface OperationsTable {
  id: string;
  subscription_id: string;
  resource_id: string | null;
  location: string;
  name: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  started_at: Date;
  ended_at: Date | null;
  error: { code: string; message: string } | null;
}

// What a resource meters over time is metering's (src/stack/metering/tables.ts).
export interface ResourcesTables {
  resources: ResourcesTable;
  operations: OperationsTable;
}
