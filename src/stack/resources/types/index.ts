import type { ResourceType } from '../resource-type.ts';
import { disks } from './disks.ts';
import { publicIpAddresses } from './public-ip-addresses.ts';
import { storageAccounts } from './storage-accounts.ts';
import { virtualMachines } from './virtual-machines.ts';

// The tenant resource types the stack serves: one module each. A new type plugs in here.
export const RESOURCE_TYPES: readonly ResourceType[] = [virtualMachines, storageAccounts, publicIpAddresses, disks];
