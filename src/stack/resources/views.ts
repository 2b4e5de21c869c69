import type { GenericResource } from '../../arm/providers.ts';
import { findSize } from './catalog.ts';
import { vmProperties, type ResourcesTable } from './tables.ts';

// Resources as the Compute, Storage and Network providers show them.

export function resourceId(r: ResourcesTable): string {
  return `/subscriptions/${r.subscription_id}/resourceGroups/${r.resource_group}/providers/${r.type}/${r.name}`;
}

export function resourceView(r: ResourcesTable) {
  const base = {
    id: resourceId(r),
    name: r.name,
    type: r.type,
    location: r.location,
    ...(Object.keys(r.tags).length > 0 ? { tags: r.tags } : {}),
  };
  switch (r.type_key) {
    case 'microsoft.compute/virtualmachines': {
      const { powerState: _p, ...properties } = r.properties;
      return { ...base, properties };
    }
    case 'microsoft.storage/storageaccounts': {
      const { usage: _u, ...properties } = r.properties;
      const host = (service: string) => `https://${r.name}.${service}.${r.location}.stackledger.local/`;
      return {
        ...base,
        sku: r.sku,
        kind: r.kind,
        properties: {
          ...properties,
          creationTime: r.created_at.toISOString(),
          primaryLocation: r.location,
          statusOfPrimary: 'available',
          primaryEndpoints: { blob: host('blob'), queue: host('queue'), table: host('table') },
        },
      };
    }
    default:
      return { ...base, sku: r.sku ?? undefined, properties: r.properties };
  }
}

/** A resource as ARM's generic list shows it: no properties. */
export function genericResourceView(r: ResourcesTable): GenericResource {
  return {
    id: resourceId(r),
    name: r.name,
    type: r.type,
    location: r.location,
    ...(Object.keys(r.tags).length > 0 ? { tags: r.tags } : {}),
    ...(r.sku ? { sku: r.sku } : {}),
    ...(r.kind ? { kind: r.kind } : {}),
  };
}

/** A VM's instance view: its provisioning and power states. */
export function instanceView(r: ResourcesTable) {
  const p = vmProperties(r);
  const power = p.powerState;
  const display = power === 'running' ? 'VM running' : power === 'stopped' ? 'VM stopped' : 'VM deallocated';
  return {
    computerName: p.osProfile?.computerName,
    osName: p.storageProfile.osDisk.osType === 'Windows' ? 'Windows Server' : 'Ubuntu',
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
