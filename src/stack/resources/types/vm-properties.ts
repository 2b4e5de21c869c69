import { optionalObject, storedList, storedObject, storedOneOf, storedString } from '../stored.ts';
import type { StoredProperties } from '../tables.ts';

// What a VM's stored properties say that its rules, its disks and its views read: the typed
// reader of what virtual-machines.ts writes (vm-disks.ts reads it too, so it stands apart).

export const POWER_STATES = ['running', 'stopped', 'deallocated'] as const;
export type PowerState = (typeof POWER_STATES)[number];

export interface VmProperties {
  vmSize: string;
  powerState: PowerState;
  /** The OS disk's OS type, as metered. */
  osType: 'Windows' | 'Linux';
  /** The whole storage profile as stored, for a write that keeps what it does not change. */
  storageProfile: StoredProperties;
  imageReference: { publisher: string; offer: string; sku: string; version: string };
  osDisk: StoredProperties;
  /** The data disks as stored (none on a VM from before data disks). */
  dataDisks: unknown[];
  /** As the request gave it (os-profile.ts keeps it unchecked). */
  computerName: unknown;
}

export function vmProperties(p: StoredProperties): VmProperties {
  const storageProfile = storedObject(p.storageProfile, 'storageProfile');
  const image = storedObject(storageProfile.imageReference, 'storageProfile.imageReference');
  const osDisk = storedObject(storageProfile.osDisk, 'storageProfile.osDisk');
  const imageField = (k: 'publisher' | 'offer' | 'sku' | 'version') =>
    storedString(image[k], `storageProfile.imageReference.${k}`);
  return {
    vmSize: storedString(storedObject(p.hardwareProfile, 'hardwareProfile').vmSize, 'hardwareProfile.vmSize'),
    powerState: storedOneOf(p.powerState, POWER_STATES, 'powerState'),
    osType: storedOneOf(osDisk.osType, ['Windows', 'Linux'] as const, 'storageProfile.osDisk.osType'),
    storageProfile,
    imageReference: {
      publisher: imageField('publisher'),
      offer: imageField('offer'),
      sku: imageField('sku'),
      version: imageField('version'),
    },
    osDisk,
    dataDisks:
      storageProfile.dataDisks === undefined || storageProfile.dataDisks === null
        ? []
        : storedList(storageProfile.dataDisks, 'storageProfile.dataDisks'),
    computerName: optionalObject(p.osProfile, 'osProfile')?.computerName,
  };
}
