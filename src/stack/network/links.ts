import { armStore } from '../../arm/store.ts';
import type { ResourceLinks } from '../resources/service.ts';
import type { ResourcesDb } from '../resources/store.ts';
import type { ResourcesTable } from '../resources/tables.ts';
import { resourceId } from '../resources/views.ts';
import { publicIpLinks, requireNetworkResource, TYPES } from './references.ts';
import { isObject, networkErrors, type Json } from './rules.ts';
import { networkStore, type NetworkDb } from './store.ts';
import type { TablesOf } from '../../db/database.ts';
import { networkResourceId } from './views.ts';

// The network's say in the resources domain's writes and deletes (its `ResourceLinks`): a VM's
// NICs must exist in its subscription and location and be no other VM's, and are its own while it
// lives; a public IP shows its address and the IP configuration using it, and cannot go while used.

/**
 * The resources domain hands its own view of the write's transaction; the network's tables are on
 * the same (the stack's) database, which `withTables` says to the type alone.
 */
const withNetworkTables = (db: ResourcesDb): NetworkDb => db.withTables<TablesOf<NetworkDb>>();

/** The ids of a VM's `networkProfile.networkInterfaces`, read strictly. */
function nicIdsOf(vm: ResourcesTable): string[] {
  const profile = vm.properties.networkProfile;
  if (profile === undefined || profile === null) return [];
  const list = isObject(profile) ? profile.networkInterfaces : undefined;
  if (list !== undefined && !Array.isArray(list))
    throw networkErrors.invalidRequest(
      "'properties.networkProfile.networkInterfaces' must be an array.",
      'properties.networkProfile.networkInterfaces',
    );
  const ids = ((list as unknown[] | undefined) ?? []).map((entry, i) => {
    const id = isObject(entry) ? entry.id : undefined;
    if (typeof id !== 'string')
      throw networkErrors.invalidRequest(
        `'properties.networkProfile.networkInterfaces[${i}].id' is required.`,
        `properties.networkProfile.networkInterfaces[${i}].id`,
      );
    return id;
  });
  if (new Set(ids.map((i) => i.toLowerCase())).size < ids.length)
    throw networkErrors.invalidRequest(
      'A network interface is named twice in the network profile.',
      'properties.networkProfile',
    );
  return ids;
}

async function attachNics(db: NetworkDb, vm: ResourcesTable): Promise<void> {
  const vmId = resourceId(vm);
  const holder = { subscriptionId: vm.subscription_id, location: vm.location, id: vmId };
  const nics = [];
  for (const id of nicIdsOf(vm)) nics.push(await requireNetworkResource(db, id, TYPES.networkInterfaces, holder));
  const users = await networkStore.referencesTo(
    db,
    nics.map((n) => n.id),
  );
  const other = users.find((u) => u.kind === 'networkInterface' && u.holder_id !== vm.id);
  const nic = other && nics.find((n) => n.id === other.target_id);
  if (other && nic) {
    throw networkErrors.nicAttachedElsewhere(networkResourceId(nic), other.holder);
  }
  await networkStore.deleteReferencesHeldBy(db, vm.id, ['networkInterface']);
  await networkStore.insertReferences(
    db,
    nics.map((n) => ({
      subscription_id: vm.subscription_id,
      holder_id: vm.id,
      holder: vmId,
      kind: 'networkInterface' as const,
      target_id: n.id,
      target_child: '',
      private_ip: null,
    })),
  );
}

const isType = (row: ResourcesTable, type: string) => row.type_key === type.toLowerCase();

export const resourceLinks: ResourceLinks = {
  async beforeWrite(db, row) {
    if (isType(row, TYPES.virtualMachines)) await attachNics(withNetworkTables(db), row);
    if (!isType(row, TYPES.publicIPAddresses)) return row.properties;
    const links: Json = await publicIpLinks(withNetworkTables(db), row);
    return { ...row.properties, ...links };
  },

  async beforeDelete(db, row, withGroup) {
    // Not while an IP configuration takes it (writes in the network take the same lock).
    await armStore.lockSubscription(db, row.subscription_id);
    const ndb = withNetworkTables(db);
    if (isType(row, TYPES.virtualMachines))
      await networkStore.deleteReferencesHeldBy(ndb, row.id, ['networkInterface']);
    if (isType(row, TYPES.publicIPAddresses)) {
      const user = (await networkStore.referencesTo(ndb, [row.id])).find((r) => r.kind === 'publicIPAddress');
      if (user && !withGroup) throw networkErrors.publicIpCannotBeDeleted(resourceId(row), user.holder);
      await networkStore.deleteReferencesTo(ndb, row.id);
      await networkStore.releasePublicAddress(ndb, row.id);
    }
  },
};
