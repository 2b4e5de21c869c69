import type { NamedArmRow } from '../../arm/tables.ts';

/**
 * A resource's properties as stored: JSON whose shape its type (types/*.ts) decides and reads. One
 * named escape hatch, like `UndeclaredJson`: typing each type's properties with its own reader is
 * the follow-up (ARCHITECTURE.md, "Dependencies and why").
 */
// biome-ignore lint/suspicious/noExplicitAny: the deliberate escape hatch above, in one place.
export type StoredProperties = Record<string, any>;

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
