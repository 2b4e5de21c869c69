import { ROOT_SCOPE } from '../../../core/arm-id.ts';
import type { Principal } from '../../../core/principal.ts';
import type { MeterRates } from '../../metering/rules.ts';
import { METERS } from '../catalog.ts';
import type { ResourceType } from '../resource-type.ts';
import { resourceErrors } from '../rules.ts';
import { changeResource, type ResourceRef, type ResourcesContext } from '../service.ts';
import { resourcesStore } from '../store.ts';
import type { ResourcesTable } from '../tables.ts';

// Storage accounts (Microsoft.Storage): their used capacity, reported by the deployment's storage
// service (the operator's side, never the tenant), is what they meter.

export interface StorageUsage {
  blobGb: number;
  tableGb: number;
  queueGb: number;
}

export function storageRates(u: StorageUsage): MeterRates {
  const rates: MeterRates = {};
  if (u.blobGb > 0) rates[METERS.blockBlobCapacity.id] = u.blobGb;
  if (u.tableGb > 0) rates[METERS.tableCapacity.id] = u.tableGb;
  if (u.queueGb > 0) rates[METERS.queueCapacity.id] = u.queueGb;
  return rates;
}

const SKUS: readonly unknown[] = ['Standard_LRS', 'Premium_LRS'];
const KINDS: readonly unknown[] = ['Storage', 'StorageV2', 'BlobStorage'];

const usedGb = (r: Pick<ResourcesTable, 'properties'>): number =>
  r.properties.usage.blobGb + r.properties.usage.tableGb + r.properties.usage.queueGb;

export const storageAccounts: ResourceType = {
  type: 'Microsoft.Storage/storageAccounts',
  namespace: 'Microsoft.Storage',
  quotaProvider: 'Microsoft.Storage.Admin',
  apiVersions: ['2016-01-01', '2017-10-01', '2018-02-01', '2019-06-01'],
  async accept(body, existing) {
    const sku = (body?.sku as { name?: unknown } | undefined)?.name ?? existing?.sku?.name;
    if (!SKUS.includes(sku))
      throw resourceErrors.invalidParameter(
        `The sku '${sku}' is not supported; use Standard_LRS or Premium_LRS.`,
        'sku.name',
      );
    const kind = body?.kind ?? existing?.kind ?? 'Storage';
    if (!KINDS.includes(kind)) throw resourceErrors.invalidParameter(`The kind '${kind}' is not supported.`, 'kind');
    return {
      properties: existing?.properties ?? {
        provisioningState: 'Succeeded',
        usage: { blobGb: 0, tableGb: 0, queueGb: 0 },
      },
      sku: { name: sku, tier: String(sku).startsWith('Premium') ? 'Premium' : 'Standard' },
      kind: String(kind),
    };
  },
  async validateName(name, db, existing) {
    if (!/^[a-z0-9]{3,24}$/.test(name)) throw resourceErrors.storageNameInvalid(name);
    if (!existing && (await resourcesStore.nameTaken(db, storageAccounts.type, name)))
      throw resourceErrors.storageNameTaken(name);
  },
  meterState: (r) => storageRates(r.properties.usage),
  checkQuota(limits, live, next, existing) {
    if (!existing && limits.numberOfStorageAccounts !== undefined && live.length + 1 > limits.numberOfStorageAccounts) {
      throw resourceErrors.quotaExceeded('StorageAccounts', limits.numberOfStorageAccounts, live.length, 1);
    }
    const others = live.filter((r) => r.id !== existing?.id).reduce((n, r) => n + usedGb(r), 0);
    if (
      limits.capacityInGb !== undefined &&
      others + usedGb(next) > limits.capacityInGb &&
      usedGb(next) > (existing ? usedGb(existing) : 0)
    ) {
      throw resourceErrors.quotaExceeded('StorageCapacityInGb', limits.capacityInGb, others, usedGb(next));
    }
  },
  view(r) {
    // The used capacity is the storage service's, not the account's model.
    const { usage: _u, ...properties } = r.properties;
    const host = (service: string) => `https://${r.name}.${service}.${r.location}.stackledger.local/`;
    return {
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
  },
};

/**
 * Data written to (or removed from) a storage account, as the deployment's storage service
 * reports it: its used capacity, in GB per service, from now on.
 */
export async function setStorageUsage(
  ctx: ResourcesContext,
  principal: Principal,
  ref: ResourceRef,
  usage: Partial<StorageUsage>,
): Promise<ResourcesTable> {
  const { resource } = await changeResource(ctx, storageAccounts, principal, ref, {
    action: `${storageAccounts.type}/write`,
    reason: 'capacity changed',
    properties: (row) => ({ ...row.properties, usage: { ...row.properties.usage, ...usage } }),
    quotaApplies: () => true,
    // The storage service (the operator's side) reports what is stored: never the billed tenant.
    right: { action: 'Microsoft.Storage.Admin/storageAccounts/usedCapacity/action', scope: ROOT_SCOPE },
  });
  return resource;
}
