import type { GenericResource } from '../../arm/providers.ts';
import { findSize } from './catalog.ts';
import type { ResourceType } from './resource-type.ts';
import type { ResourcesTable } from './tables.ts';
import { vmProperties } from './types/vm-properties.ts';

// Resources as the Compute, Storage and Network providers show them (each type says what it shows
// beyond its identity: ResourceType.view).

export function resourceId(r: ResourcesTable): string {
  return `/subscriptions/${r.subscription_id}/resourceGroups/${r.resource_group}/providers/${r.type}/${r.name}`;
}

/** A resource as its provider shows it: its identity, then what its type shows (sku and properties by default). */
/** A resource as its provider shows it: ARM's envelope, then what the type shows (sku, properties, …). */
export interface ResourceView {
  id: string;
  name: string;
  type: string;
  location: string;
  tags?: Record<string, string>;
  properties?: Record<string, unknown>;
  [part: string]: unknown;
}

/** What every view of a resource begins with: its identity, its location and its tags (none when empty). */
const resourceHead = (r: ResourcesTable) => ({
  id: resourceId(r),
  name: r.name,
  type: r.type,
  location: r.location,
  ...(Object.keys(r.tags).length > 0 ? { tags: r.tags } : {}),
});

export function resourceView(t: ResourceType, r: ResourcesTable): ResourceView {
  return {
    ...resourceHead(r),
    ...(t.view ? t.view(r) : { sku: r.sku ?? undefined, properties: r.properties }),
  };
}

/** A resource as ARM's generic list shows it: no properties (a disk's `managedBy` is the resource's own). */
export function genericResourceView(r: ResourcesTable): GenericResource {
  return {
    ...resourceHead(r),
    ...(r.sku ? { sku: r.sku } : {}),
    ...(r.kind ? { kind: r.kind } : {}),
    ...(typeof r.properties.managedBy === 'string' ? { managedBy: r.properties.managedBy } : {}),
  };
}

/** A VM's instance view: its provisioning and power states. */
export function instanceView(r: ResourcesTable) {
  const vm = vmProperties(r.properties);
  const power = vm.powerState;
  const display = power === 'running' ? 'VM running' : power === 'stopped' ? 'VM stopped' : 'VM deallocated';
  return {
    computerName: vm.computerName,
    osName: vm.osType === 'Windows' ? 'Windows Server' : 'Ubuntu',
    statuses: [
      {
        code: 'ProvisioningState/succeeded',
        level: 'Info',
        displayStatus: 'Provisioning succeeded',
        time: r.updated_at.toISOString(),
      },
      { code: `PowerState/${power}`, level: 'Info', displayStatus: display },
    ],
  };
}

export function vmSizeView(name: string) {
  const s = findSize(name)!;
  return {
    name: s.name,
    numberOfCores: s.numberOfCores,
    osDiskSizeInMB: s.osDiskSizeInMB,
    resourceDiskSizeInMB: s.resourceDiskSizeInMB,
    memoryInMB: s.memoryInMB,
    maxDataDiskCount: s.maxDataDiskCount,
  };
}
