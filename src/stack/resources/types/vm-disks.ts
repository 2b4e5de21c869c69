import { armError } from '../../../core/errors.ts';
import { newGuid } from '../../../core/ids.ts';
import { findSize, resolveImage } from '../catalog.ts';
import type { AcceptedResource, ResourceBody, WriteScope } from '../resource-type.ts';
import { field, resourceErrors } from '../rules.ts';
import type { ResourcesTable } from '../tables.ts';
import { diskProperties, diskSizeOf, diskSkuOf, disks, imageDiskGb, platformImageId } from './disks.ts';
import { vmProperties } from './vm-properties.ts';

// The managed disks of a virtual machine, as the Compute RP keeps them: an OS disk with
// `managedDisk` is created from the VM's image as a disk resource (named `osDisk.name` or
// `{vm}_OsDisk_1_{guid}`); data disks are attached (`Attach`, an existing disk) or created
// (`Empty`); each names the VM in its `managedBy`. A data disk left out of a later PUT is
// detached. When the VM goes, its disks are detached (Azure's default) unless their
// `deleteOption` is `Delete`.

/** A disk entry of a VM's storage profile, as stored: the disk's id in `managedDisk.id`. */
interface DiskEntry {
  lun?: number;
  name: string;
  createOption: string;
  caching: string;
  diskSizeGB: number;
  managedDisk: { id: string; storageAccountType: string };
  deleteOption: 'Delete' | 'Detach';
  osType?: string;
}

const errors = {
  exists: (name: string, group: string) =>
    armError(
      'ConflictingUserInput',
      `Disk ${name} already exists in resource group ${group}. Only CreateOption.Attach is supported.`,
    ),
  alreadyAttached: (name: string, vmId: string) =>
    armError('OperationNotAllowed', `Disk ${name} is already attached to VM ${vmId}.`),
  tooMany: (max: number) =>
    armError(
      'OperationNotAllowed',
      `The maximum number of data disks allowed to be attached to a VM of this size is ${max}.`,
      'properties.storageProfile.dataDisks',
    ),
  invalid: (message: string, target: string) => resourceErrors.invalidParameter(message, target),
};

const deleteOptionOf = (value: unknown, target: string): 'Delete' | 'Detach' => {
  if (value === undefined || value === null) return 'Detach';
  const found = (['Delete', 'Detach'] as const).find(
    (o) => typeof value === 'string' && o.toLowerCase() === value.toLowerCase(),
  );
  if (!found)
    throw errors.invalid(`'${String(value).slice(0, 40)}' is not a delete option; use Delete or Detach.`, target);
  return found;
};

const sameId = (a: unknown, b: unknown) =>
  typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();

const diskId = (scope: WriteScope, name: string) =>
  `/subscriptions/${scope.ref.subscriptionId}/resourceGroups/${scope.ref.resourceGroup}/providers/${disks.type}/${name}`;

const idOf = (r: ResourcesTable) =>
  `/subscriptions/${r.subscription_id}/resourceGroups/${r.resource_group}/providers/${r.type}/${r.name}`;

const guid32 = () => newGuid().replaceAll('-', '');

/** Names the VM as the disk's holder. */
const attach = (scope: WriteScope, disk: ResourcesTable) =>
  scope.change(disks, disk, { ...disk.properties, managedBy: scope.selfId, diskState: 'Attached' }, 'attached');

/** Creates a disk in the VM's group for the VM: refused when one of that name exists. */
async function createDisk(scope: WriteScope, name: string, body: ResourceBody): Promise<ResourcesTable> {
  if (await scope.find(disks, diskId(scope, name))) throw errors.exists(name, scope.ref.resourceGroup);
  return attach(scope, await scope.create(disks, name, body));
}

/** The OS disk of a new VM whose request asks for a managed one; undefined when it does not. */
async function managedOsDisk(
  scope: WriteScope,
  request: unknown,
  accepted: AcceptedResource,
): Promise<DiskEntry | undefined> {
  const managed = field(request, 'managedDisk');
  if (typeof managed !== 'object' || managed === null) return undefined;
  const { image, version } = resolveImage(vmProperties(accepted.properties).imageReference);
  const sku = diskSkuOf(field(managed, 'storageAccountType') ?? 'Standard_LRS');
  const sizeGb = diskSizeOf(field(request, 'diskSizeGB')) ?? imageDiskGb(image);
  const given = field(request, 'name');
  const name = typeof given === 'string' && given !== '' ? given : `${scope.ref.name}_OsDisk_1_${guid32()}`;
  const disk = await createDisk(scope, name, {
    sku: { name: sku },
    properties: {
      creationData: {
        createOption: 'FromImage',
        imageReference: { id: platformImageId(scope.ref.subscriptionId, scope.location, image, version) },
      },
      diskSizeGB: sizeGb,
    },
  });
  return {
    osType: image.osType,
    name: disk.name,
    createOption: 'FromImage',
    caching: typeof field(request, 'caching') === 'string' ? String(field(request, 'caching')) : 'ReadWrite',
    diskSizeGB: diskProperties(disk.properties).diskSizeGB,
    managedDisk: { id: idOf(disk), storageAccountType: sku },
    deleteOption: deleteOptionOf(field(request, 'deleteOption'), 'properties.storageProfile.osDisk.deleteOption'),
  };
}

/** The data disks a request asks for, given those the VM had: kept, attached or created; the others detached. */
async function dataDisks(
  scope: WriteScope,
  requested: unknown,
  previous: DiskEntry[],
  maxCount: number,
): Promise<DiskEntry[]> {
  const target = 'properties.storageProfile.dataDisks';
  if (!Array.isArray(requested)) throw errors.invalid('The data disks must be a list.', target);
  if (requested.length > maxCount) throw errors.tooMany(maxCount);
  const result: DiskEntry[] = [];
  for (const [i, d] of requested.entries()) {
    const at = `${target}[${i}]`;
    const lun = field(d, 'lun');
    if (typeof lun !== 'number' || !Number.isInteger(lun) || lun < 0 || lun > 63)
      throw errors.invalid(`The LUN of a data disk is a whole number from 0 to 63.`, `${at}.lun`);
    if (result.some((r) => r.lun === lun)) throw errors.invalid(`A disk at LUN ${lun} already exists.`, `${at}.lun`);
    const managed = field(d, 'managedDisk');
    const id = field(managed, 'id');
    const option = String(field(d, 'createOption') ?? '').toLowerCase();
    const caching = typeof field(d, 'caching') === 'string' ? String(field(d, 'caching')) : 'None';
    const deleteOption = deleteOptionOf(field(d, 'deleteOption'), `${at}.deleteOption`);
    const given = field(d, 'name');
    // The disk the VM has at this place: named by its id, or (an update that asks again for an
    // empty disk, as a redeployed template does) the one already at this LUN, as the Compute RP matches.
    const kept =
      previous.find((p) => sameId(p.managedDisk.id, id)) ??
      (id === undefined && option === 'empty'
        ? previous.find((p) => p.lun === lun && (typeof given !== 'string' || given === p.name))
        : undefined);
    if (kept) {
      result.push({ ...kept, lun, caching, deleteOption });
      continue;
    }
    let disk: ResourcesTable;
    if (option === 'attach') {
      const found = typeof id === 'string' ? await scope.find(disks, id) : undefined;
      if (!found)
        throw errors.invalid(
          `The managed disk '${String(id).slice(0, 300)}' to attach does not exist.`,
          `${at}.managedDisk.id`,
        );
      const holder = diskProperties(found.properties).managedBy;
      if (holder) throw errors.alreadyAttached(found.name, holder);
      if (found.location !== scope.location)
        throw errors.invalid(
          `The disk ${found.name} is in ${found.location}, not in the VM's location.`,
          `${at}.managedDisk.id`,
        );
      disk = await attach(scope, found);
    } else if (option === 'empty') {
      const size = diskSizeOf(field(d, 'diskSizeGB'));
      if (size === undefined)
        throw errors.invalid("Required parameter 'dataDisk.diskSizeGB' is missing (null).", `${at}.diskSizeGB`);
      const name = typeof given === 'string' && given !== '' ? given : `${scope.ref.name}_DataDisk_${lun}_${guid32()}`;
      const sku = diskSkuOf(field(managed, 'storageAccountType') ?? 'Standard_LRS');
      disk = await createDisk(scope, name, {
        sku: { name: sku },
        properties: { creationData: { createOption: 'Empty' }, diskSizeGB: size },
      });
    } else {
      throw errors.invalid(
        `The create option '${option.slice(0, 40)}' is not supported for a data disk; use Attach or Empty.`,
        `${at}.createOption`,
      );
    }
    result.push({
      lun,
      name: disk.name,
      createOption: option === 'attach' ? 'Attach' : 'Empty',
      caching,
      diskSizeGB: diskProperties(disk.properties).diskSizeGB,
      managedDisk: { id: idOf(disk), storageAccountType: String(disk.sku?.name) },
      deleteOption,
    });
  }
  for (const gone of previous.filter((p) => !result.some((r) => sameId(r.managedDisk.id, p.managedDisk.id))))
    await letGo(scope, gone, 'Detach');
  return result;
}

/** Detaches a VM's disk, or deletes it. */
async function letGo(scope: WriteScope, entry: DiskEntry, how: 'Delete' | 'Detach') {
  const disk = await scope.find(disks, entry.managedDisk.id);
  if (!disk || !sameId(disk.properties.managedBy, scope.selfId)) return;
  if (how === 'Delete') return scope.remove(disk, 'deleted with its virtual machine');
  const { managedBy: _m, ...properties } = disk.properties;
  await scope.change(disks, disk, { ...properties, diskState: 'Unattached' }, 'detached');
}

/** The entries of a storage profile that are managed disks (a VM from before managed disks has none). */
const managedEntries = (entries: unknown[]): DiskEntry[] =>
  entries.filter((d): d is DiskEntry => typeof (d as DiskEntry | undefined)?.managedDisk?.id === 'string');

/** A VM's write: its managed OS disk (when new) and its data disks. */
export async function settleVmDisks(
  accepted: AcceptedResource,
  existing: ResourcesTable | undefined,
  body: ResourceBody,
  scope: WriteScope,
): Promise<AcceptedResource> {
  const request = field(body?.properties, 'storageProfile');
  const vm = vmProperties(accepted.properties);
  const storage = { ...vm.storageProfile };
  if (!existing) storage.osDisk = (await managedOsDisk(scope, field(request, 'osDisk'), accepted)) ?? storage.osDisk;
  const requested = field(request, 'dataDisks');
  const previous = managedEntries(existing ? vmProperties(existing.properties).dataDisks : []);
  const maxCount = findSize(vm.vmSize)?.maxDataDiskCount ?? 0;
  if (requested !== undefined && requested !== null)
    storage.dataDisks = await dataDisks(scope, requested, previous, maxCount);
  else storage.dataDisks = previous;
  return { ...accepted, properties: { ...accepted.properties, storageProfile: storage } };
}

/** A VM's delete: each of its disks is detached, or deleted when its `deleteOption` says so. */
export async function releaseVmDisks(row: ResourcesTable, scope: WriteScope): Promise<void> {
  const vm = vmProperties(row.properties);
  for (const entry of managedEntries([vm.osDisk, ...vm.dataDisks]))
    await letGo(scope, entry, entry.deleteOption ?? 'Detach');
}
