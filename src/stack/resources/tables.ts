import type { NamedArmRow } from '../../arm/tables.ts';
import type { WithGeneratedId } from '../../db/database.ts';

export interface ResourcesTable extends NamedArmRow {
  type: string; // Microsoft.Compute/virtualMachines, Microsoft.Storage/storageAccounts, Microsoft.Network/publicIPAddresses
  type_key: string;
  location: string;
  tags: Record<string, string>;
  /** The resource's properties as the provider keeps them (sizes, images, power state, ...). */
  properties: Record<string, any>;
  sku: Record<string, any> | null;
  kind: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** What a resource meters between two changes: rates per meter per hour. */
export interface ResourceStatesTable {
  id: string;
  resource_id: string;
  subscription_id: string;
  valid_from: Date;
  valid_to: Date | null;
  rates: Record<string, number>;
  reason: string;
  recorded_at: Date;
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

export interface UsageRecordsTable {
  resource_id: string;
  meter_id: string;
  hour: Date;
  revision: number;
  quantity: string;
  subscription_id: string;
  tenant_id: string;
  resource_uri: string;
  location: string;
  tags: Record<string, string>;
  reported_at: Date;
  delivered_at?: Date | null;
}

export interface ResourcesTables {
  resources: ResourcesTable;
  resource_states: WithGeneratedId<ResourceStatesTable>;
  operations: OperationsTable;
  usage_records: UsageRecordsTable;
  metering_dirty_hours: { hour: Date };
}
