import type { ColumnType } from 'kysely';
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

/** What a live resource counts toward its subscription's quotas: counter → amount (its type decides). */
export type QuotaUsage = Record<string, number>;

/** A resource's row as stored: what it counts toward quotas is kept with it, so that a delete can take it back. */
export interface ResourceRowsTable extends ResourcesTable {
  quota_usage: ColumnType<QuotaUsage, string, string>;
}

/**
 * Each subscription's usage of its quotas, maintained by a trigger on `resources` from the rows'
 * `quota_usage` (live rows only) in the transaction of every write: quota checks read these, not
 * every live resource.
 */
export interface ResourceUsageTable {
  subscription_id: string;
  counter: string;
  amount: ColumnType<string, string, string>;
}

// What a resource meters over time is metering's (src/stack/metering/tables.ts).
export interface ResourcesTables {
  resources: ResourceRowsTable;
  resource_usage: ResourceUsageTable;
  operations: OperationsTable;
}
