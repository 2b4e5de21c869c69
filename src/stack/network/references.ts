import { parseResourceId, resourceTypeOf } from '../../core/arm-id.ts';
import { setLinkedProperties } from '../resources/service.ts';
import { resourcesStore } from '../resources/store.ts';
import type { ResourcesTable } from '../resources/tables.ts';
import { parseAddress, parsePrefix, type Prefix } from './addresses.ts';
import { networkErrors, PUBLIC_IP_POOL, type Json } from './rules.ts';
import { asResourcesDb } from './service.ts';
import { networkStore, type NetworkDb } from './store.ts';
import type { NetworkResourcesTable } from './tables.ts';

// Following an id a caller wrote to the resource it names: only in the holder's own subscription
// (another subscription's resource is "not found", never confirmed), live, in the same location.

export const TYPES = {
  virtualNetworks: 'Microsoft.Network/virtualNetworks',
  subnets: 'Microsoft.Network/virtualNetworks/subnets',
  networkSecurityGroups: 'Microsoft.Network/networkSecurityGroups',
  networkInterfaces: 'Microsoft.Network/networkInterfaces',
  publicIPAddresses: 'Microsoft.Network/publicIPAddresses',
  virtualMachines: 'Microsoft.Compute/virtualMachines',
} as const;

function parseReference(id: string, type: string, subscriptionId: string) {
  const parsed = parseResourceId(id);
  if (
    !parsed ||
    parsed.resourceGroup === undefined ||
    parsed.subscriptionId.toLowerCase() !== subscriptionId ||
    resourceTypeOf(parsed).toLowerCase() !== type.toLowerCase()
  )
    return undefined;
  return { resourceGroup: parsed.resourceGroup, names: parsed.resources.map((r) => r.name) };
}

/** The live network resource of `type` that `id` names, in the subscription and location; else the vendor's error. */
export async function requireNetworkResource(
  db: NetworkDb,
  id: string,
  type: string,
  holder: { subscriptionId: string; location: string; id: string },
): Promise<NetworkResourcesTable> {
  const ref = parseReference(id, type, holder.subscriptionId);
  const row = ref && (await networkStore.get(db, holder.subscriptionId, ref.resourceGroup, type, ref.names[0]));
  if (!row || row.location !== holder.location) throw networkErrors.referenceNotFound(id, holder.id);
  return row;
}

export interface SubnetFound {
  vnet: NetworkResourcesTable;
  name: string;
  key: string;
  prefix: Prefix;
}

export async function requireSubnet(
  db: NetworkDb,
  id: string,
  holder: { subscriptionId: string; location: string; id: string },
): Promise<SubnetFound> {
  const ref = parseReference(id, TYPES.subnets, holder.subscriptionId);
  const vnet =
    ref && (await networkStore.get(db, holder.subscriptionId, ref.resourceGroup, TYPES.virtualNetworks, ref.names[0]));
  const subnet = ((vnet?.properties.subnets as { name: string; properties: Json }[] | undefined) ?? []).find(
    (s) => s.name.toLowerCase() === ref?.names[1].toLowerCase(),
  );
  const prefix = subnet && parsePrefix(String(subnet.properties.addressPrefix))?.prefix;
  if (!vnet || !subnet || !prefix || vnet.location !== holder.location)
    throw networkErrors.referenceNotFound(id, holder.id);
  return { vnet, name: subnet.name, key: subnet.name.toLowerCase(), prefix };
}

/** A public IP address (the resources domain keeps them, metered). */
export async function requirePublicIp(
  db: NetworkDb,
  id: string,
  holder: { subscriptionId: string; location: string; id: string },
): Promise<ResourcesTable> {
  const ref = parseReference(id, TYPES.publicIPAddresses, holder.subscriptionId);
  const row =
    ref &&
    (await resourcesStore.get(
      asResourcesDb(db),
      holder.subscriptionId,
      ref.resourceGroup,
      TYPES.publicIPAddresses,
      ref.names[0],
    ));
  if (!row || row.location !== holder.location) throw networkErrors.referenceNotFound(id, holder.id);
  return row;
}

/**
 * What a public IP shows of its links: the IP configuration that uses it, and its address, from
 * the pool while it is Static or in use (a Dynamic one unused has none).
 */
export async function publicIpLinks(db: NetworkDb, ip: Pick<ResourcesTable, 'id' | 'properties'>): Promise<Json> {
  const user = (await networkStore.referencesTo(db, [ip.id])).find((r) => r.kind === 'publicIPAddress');
  if (ip.properties.publicIPAllocationMethod !== 'Static' && !user) {
    await networkStore.releasePublicAddress(db, ip.id);
    return { ipAddress: undefined, ipConfiguration: undefined };
  }
  // A Static address given before the pool existed (outside it) stays that IP's.
  const earlier = ip.properties.ipAddress;
  const legacy = typeof earlier === 'string' && !inPool(earlier) && !(await networkStore.publicAddressOf(db, ip.id));
  const ipAddress = legacy ? earlier : await networkStore.allocatePublicAddress(db, ip.id);
  if (!ipAddress) throw networkErrors.poolExhausted();
  return { ipAddress, ipConfiguration: user ? { id: user.holder } : undefined };
}

function inPool(address: string): boolean {
  const a = parseAddress(address);
  const first = parseAddress(PUBLIC_IP_POOL.first) ?? 0;
  const last = parseAddress(PUBLIC_IP_POOL.last) ?? 0;
  return a !== undefined && a >= first && a <= last;
}

/** After an IP configuration took or let go of a public IP: its links as the public IP shows them. */
export async function refreshPublicIp(db: NetworkDb, publicIpId: string): Promise<void> {
  const row = await resourcesStore.byId(asResourcesDb(db), publicIpId);
  if (!row || row.deleted_at) return;
  await setLinkedProperties(asResourcesDb(db), row.id, await publicIpLinks(db, row));
}
