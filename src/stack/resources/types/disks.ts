import { parseResourceId } from '../../../core/arm-id.ts';
import { armError } from '../../../core/errors.ts';
import { newGuid } from '../../../core/ids.ts';
import type { MeterRates } from '../../metering/rules.ts';
import { METERS, resolveImage, type PlatformImage } from '../catalog.ts';
import type { ResourceType } from '../resource-type.ts';
import { field, resourceErrors } from '../rules.ts';
import { optionalString, storedNumber, storedObject, storedString } from '../stored.ts';
import { resourcesStore } from '../store.ts';
import type { ResourcesTable, StoredProperties } from '../tables.ts';

// Managed disks (Microsoft.Compute/disks): empty or from a platform image, Standard_LRS or
// Premium_LRS (what Azure Stack Hub offers), from 1 to 1023 GB (its largest disk, M30), grown but
// never shrunk. A disk attached to a VM names it in `managedBy` (a VM attaches, detaches and
// deletes its disks: vm-disks.ts) and cannot be deleted. Each disk meters by the month: its size
// tier, and its provisioned size in GB (the deployment reports no thin-provisioned usage).

export const DISK_SKUS = ['Standard_LRS', 'Premium_LRS'] as const;
export type DiskSku = (typeof DISK_SKUS)[number];
/** Azure Stack Hub's largest managed disk (M30: 1023 GiB). */
export const MAX_DISK_GB = 1023;

/** The size tiers, smallest first: a disk is billed as the smallest that holds it. */
const TIERS: readonly { upToGb: number; meter: Record<DiskSku, string> }[] = [
  { upToGb: 32, meter: { Standard_LRS: METERS.diskS4.id, Premium_LRS: METERS.diskP4.id } },
  { upToGb: 64, meter: { Standard_LRS: METERS.diskS6.id, Premium_LRS: METERS.diskP6.id } },
  { upToGb: 128, meter: { Standard_LRS: METERS.diskS10.id, Premium_LRS: METERS.diskP10.id } },
  { upToGb: 256, meter: { Standard_LRS: METERS.diskS15.id, Premium_LRS: METERS.diskP15.id } },
  { upToGb: 512, meter: { Standard_LRS: METERS.diskS20.id, Premium_LRS: METERS.diskP20.id } },
  { upToGb: 1024, meter: { Standard_LRS: METERS.diskS30.id, Premium_LRS: METERS.diskP30.id } },
];
const ACTUAL_SIZE: Record<DiskSku, string> = {
  Standard_LRS: METERS.actualStandardDiskSize.id,
  Premium_LRS: METERS.actualPremiumDiskSize.id,
};

/** A disk meters one of its tier per month, and its size in GB per month. */
export function diskRates(sku: DiskSku, sizeGb: number): MeterRates {
  const tier = TIERS.find((t) => sizeGb <= t.upToGb);
  if (!tier) throw new Error(`a disk of ${sizeGb} GB is beyond the largest tier`);
  return { [tier.meter[sku]]: 1, [ACTUAL_SIZE[sku]]: sizeGb };
}

/** The OS disk an image gives when no size is asked: Azure's platform images' sizes. */
export const imageDiskGb = (image: PlatformImage) => (image.osType === 'Windows' ? 127 : 30);

/** A platform image version's ARM id, as a disk's `creationData.imageReference.id` names it. */
export const platformImageId = (subscriptionId: string, location: string, image: PlatformImage, version: string) =>
  `/Subscriptions/${subscriptionId}/Providers/Microsoft.Compute/Locations/${location}/Publishers/${image.publisher}/ArtifactTypes/VMImage/Offers/${image.offer}/Skus/${image.sku}/Versions/${version}`;

/** The image a platform image id names, or the RP's error. */
function imageOfId(id: unknown) {
  const parsed = typeof id === 'string' ? parseResourceId(id) : undefined;
  const names = new Map((parsed?.resources ?? []).map((r) => [r.type.toLowerCase(), r.name]));
  if (parsed?.namespace?.toLowerCase() !== 'microsoft.compute' || !names.has('publishers'))
    throw resourceErrors.invalidParameter(
      `'${String(id).slice(0, 300)}' is not the id of a platform image version.`,
      'properties.creationData.imageReference.id',
    );
  return resolveImage({
    publisher: names.get('publishers'),
    offer: names.get('offers'),
    sku: names.get('skus'),
    version: names.get('versions'),
  });
}

export const diskErrors = {
  size: (value: unknown) =>
    resourceErrors.invalidParameter(
      `The value '${String(value).slice(0, 40)}' of parameter diskSizeGB is invalid: a disk on this deployment holds 1 to ${MAX_DISK_GB} GB.`,
      'properties.diskSizeGB',
    ),
  sizeRequired: () =>
    resourceErrors.invalidParameter("Required parameter 'diskSizeGB' is missing (null).", 'properties.diskSizeGB'),
  shrink: (id: string) =>
    armError(
      'BadRequest',
      `The disk resource with id ${id} cannot be resized down. Reducing disk size is not supported to prevent data loss; create a new disk of the size you need.`,
      'properties.diskSizeGB',
    ),
  resizeAttached: (name: string, vmId: string) =>
    armError(
      'OperationNotAllowed',
      `Cannot resize disk ${name} while it is attached to running VM ${vmId}. Resizing a disk of a virtual machine requires the virtual machine to be deallocated.`,
    ),
  attached: (name: string, vmId: string) => armError('OperationNotAllowed', `Disk ${name} is attached to VM ${vmId}.`),
  sku: (sku: unknown) =>
    resourceErrors.invalidParameter(
      `The storage account type '${String(sku).slice(0, 40)}' is not supported for managed disks on this deployment; use Standard_LRS or Premium_LRS.`,
      'sku.name',
    ),
  createOption: (option: unknown) =>
    resourceErrors.invalidParameter(
      `The create option '${String(option).slice(0, 40)}' is not supported for managed disks on this deployment; use Empty or FromImage.`,
      'properties.creationData.createOption',
    ),
};

/** A size in GB as a request gives it: undefined when absent, else a whole number of 1 to 1023 GB. */
export function diskSizeOf(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_DISK_GB)
    throw diskErrors.size(value);
  return value;
}

export function diskSkuOf(value: unknown): DiskSku {
  const sku = DISK_SKUS.find((s) => typeof value === 'string' && s.toLowerCase() === value.toLowerCase());
  if (!sku) throw diskErrors.sku(value);
  return sku;
}

/** What a disk's stored properties say that its rules read. */
export interface DiskProperties {
  createOption: string;
  diskSizeGB: number;
  /** The VM it is attached to, by ARM id. */
  managedBy: string | undefined;
}

export const diskProperties = (p: StoredProperties): DiskProperties => ({
  createOption: storedString(storedObject(p.creationData, 'creationData').createOption, 'creationData.createOption'),
  diskSizeGB: storedNumber(p.diskSizeGB, 'diskSizeGB'),
  managedBy: optionalString(p.managedBy, 'managedBy'),
});

/** The quota counter of a disk sku's provisioned GB (each sku has its own limit). */
const diskGbCounter = (sku: unknown) => `diskGb:${String(sku)}`;

const resourceIdOf = (r: ResourcesTable) =>
  `/subscriptions/${r.subscription_id}/resourceGroups/${r.resource_group}/providers/${r.type}/${r.name}`;

export const disks: ResourceType = {
  type: 'Microsoft.Compute/disks',
  namespace: 'Microsoft.Compute',
  quotaProvider: 'Microsoft.Compute.Admin',
  // The versions Azure Stack Hub's disks take, and the 2022 one of az's latest profile.
  apiVersions: ['2017-03-30', '2018-04-01', '2018-06-01', '2018-09-30', '2019-03-01', '2019-07-01', '2022-07-02'],
  async accept(body, existing, db) {
    const p = body?.properties;
    const sku = diskSkuOf(field(body?.sku, 'name') ?? existing?.sku?.name ?? 'Standard_LRS');
    const size = diskSizeOf(field(p, 'diskSizeGB'));
    const creation = field(p, 'creationData');
    const option = field(creation, 'createOption');
    if (existing) {
      const had = diskProperties(existing.properties);
      if (option !== undefined && String(option).toLowerCase() !== had.createOption.toLowerCase())
        throw resourceErrors.propertyChange('properties.creationData.createOption');
      const sizeGb = size ?? had.diskSizeGB;
      if (sizeGb < had.diskSizeGB) throw diskErrors.shrink(resourceIdOf(existing));
      const vmId = had.managedBy;
      if (sizeGb > had.diskSizeGB && vmId) {
        const vm = parseResourceId(vmId);
        const row = vm?.resourceGroup
          ? await resourcesStore.get(
              db,
              existing.subscription_id,
              vm.resourceGroup,
              'Microsoft.Compute/virtualMachines',
              vm.resources[0].name,
            )
          : undefined;
        if (row && row.properties.powerState !== 'deallocated') throw diskErrors.resizeAttached(existing.name, vmId);
      }
      return {
        properties: { ...existing.properties, diskSizeGB: sizeGb },
        sku: { name: sku, tier: sku.split('_')[0] },
        kind: null,
      };
    }
    let osType = field(p, 'osType');
    let sizeGb = size;
    const known =
      typeof option === 'string'
        ? ['Empty', 'FromImage'].find((o) => o.toLowerCase() === option.toLowerCase())
        : undefined;
    if (!known) throw diskErrors.createOption(option);
    let imageReference: { id: string } | undefined;
    if (known === 'FromImage') {
      const id = field(field(creation, 'imageReference'), 'id');
      const { image } = imageOfId(id);
      osType = image.osType;
      imageReference = { id: String(id) };
      if (sizeGb !== undefined && sizeGb < imageDiskGb(image))
        throw resourceErrors.invalidParameter(
          `The specified disk size ${sizeGb} GB is smaller than the size of the corresponding disk in the image: ${imageDiskGb(image)} GB.`,
          'properties.diskSizeGB',
        );
      sizeGb ??= imageDiskGb(image);
    }
    if (sizeGb === undefined) throw diskErrors.sizeRequired();
    if (osType !== undefined && osType !== 'Windows' && osType !== 'Linux')
      throw resourceErrors.invalidParameter(`'${String(osType).slice(0, 40)}' is not an OS type.`, 'properties.osType');
    return {
      properties: {
        ...(osType ? { osType } : {}),
        creationData: { createOption: known, ...(imageReference ? { imageReference } : {}) },
        diskSizeGB: sizeGb,
        uniqueId: newGuid(),
        provisioningState: 'Succeeded',
        diskState: 'Unattached',
      },
      sku: { name: sku, tier: sku.split('_')[0] },
      kind: null,
    };
  },
  meterState: (r) => diskRates(diskSkuOf(r.sku?.name), diskProperties(r.properties).diskSizeGB),
  quotaUsage: (r) => ({ [diskGbCounter(r.sku?.name)]: diskProperties(r.properties).diskSizeGB }),
  checkQuota(limits, others, next, existing) {
    for (const [sku, limitName] of [
      ['Standard_LRS', 'maxAllocationStandardManagedDisksAndSnapshots'],
      ['Premium_LRS', 'maxAllocationPremiumManagedDisksAndSnapshots'],
    ] as const) {
      const limit = limits[limitName];
      const gb = (r: Pick<ResourcesTable, 'properties' | 'sku'>) =>
        r.sku?.name === sku ? diskProperties(r.properties).diskSizeGB : 0;
      const inUse = others[diskGbCounter(sku)] ?? 0;
      if (limit !== undefined && gb(next) > (existing ? gb(existing) : 0) && inUse + gb(next) > limit)
        throw resourceErrors.quotaExceeded(`${limitName} (GB)`, limit, inUse, gb(next));
    }
  },
  async release(row, scope) {
    const vmId = diskProperties(row.properties).managedBy;
    if (!vmId) return;
    // A group that goes takes its VMs along: a disk attached to one of them goes too.
    const vm = parseResourceId(vmId);
    if (scope.groupGoing && vm?.resourceGroup?.toLowerCase() === scope.groupGoing.toLowerCase()) return;
    throw diskErrors.attached(row.name, vmId);
  },
  view(r) {
    // `managedBy` is the resource's, not a property.
    const { managedBy, ...properties } = r.properties;
    return {
      ...(managedBy ? { managedBy } : {}),
      sku: r.sku,
      properties: {
        ...properties,
        diskSizeBytes: diskProperties(r.properties).diskSizeGB * 1024 ** 3,
        timeCreated: r.created_at.toISOString(),
      },
    };
  },
};
