import type { NamedArmRow } from '../../arm/tables.ts';
import type { WithGeneratedId } from '../../db/database.ts';
import type { PowerState, StorageUsage } from './metering.ts';

export interface ResourcesTable extends NamedArmRow {
  type: string; // Microsoft.Compute/virtualMachines, Microsoft.Storage/storageAccounts, Microsoft.Network/publicIPAddresses
  type_key: string;
  location: string;
  tags: Record<string, string>;
  /** The resource's properties as the provider keeps them (sizes, images, power state, ...). */
  properties: Record<string, unknown>;
  sku: Record<string, unknown> | null;
  kind: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

// What each type keeps in `properties` and reads back (service.ts writes them in its `accept`); the
// row's type decides which applies.
export type VmProperties = {
  hardwareProfile: { vmSize: string };
  storageProfile: { imageReference: Record<string, unknown>; osDisk: { osType: 'Windows' | 'Linux' } };
  osProfile?: { computerName?: unknown };
  powerState: PowerState;
};
export type StorageAccountProperties = { usage: StorageUsage };
export type PublicIpProperties = {
  publicIPAllocationMethod: 'Static' | 'Dynamic';
  ipAddress: string;
  resourceGuid: string;
};

type WithProperties = Pick<ResourcesTable, 'properties'>;
export const vmProperties = (r: WithProperties) => r.properties as VmProperties;
export const storageAccountProperties = (r: WithProperties) => r.properties as StorageAccountProperties;
export const publicIpProperties = (r: WithProperties) => r.properties as PublicIpProperties;

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
