import { formatPrefix } from './addresses.ts';
import { requireNetworkResource, TYPES } from './references.ts';
import { networkErrors, readVirtualNetwork, type Json } from './rules.ts';
import type { NetworkType } from './service.ts';
import { networkStore } from './store.ts';
import type { NetworkReferencesTable } from './tables.ts';
import { backReferences, baseView, childView, networkResourceId, subResource } from './views.ts';

// Virtual networks: an address space and subnets inside it, apart; a subnet may name a security
// group. A subnet that IP configurations use keeps its prefix and cannot go.

type StoredSubnet = { name: string; properties: { addressPrefix: string; networkSecurityGroup?: { id: string } } };

const subnetsOf = (properties: Json) => (properties.subnets as StoredSubnet[] | undefined) ?? [];

const inSubnet = (name: string) => (r: NetworkReferencesTable) =>
  r.kind === 'subnet' && r.target_child === name.toLowerCase();

export const virtualNetworks: NetworkType = {
  type: TYPES.virtualNetworks,
  quota: { limit: 'maxVnetsPerSubscription', name: 'VirtualNetworks' },
  children: 'subnets',

  async write({ db, row }, properties, existing) {
    const id = networkResourceId(row);
    const spec = readVirtualNetwork(id, row.name, properties);
    if (existing) {
      const used = (await networkStore.referencesTo(db, [existing.id])).filter((r) => r.kind === 'subnet');
      for (const before of subnetsOf(existing.properties)) {
        const user = used.find(inSubnet(before.name));
        if (!user) continue;
        const after = spec.subnets.find((s) => s.name.toLowerCase() === before.name.toLowerCase());
        if (!after) throw networkErrors.subnetInUse(`${id}/subnets/${before.name}`, user.holder);
        if (formatPrefix(after.prefix) !== before.properties.addressPrefix)
          throw networkErrors.subnetInUseCannotChange(`${id}/subnets/${before.name}`, user.holder);
      }
    }
    await networkStore.deleteReferencesHeldBy(db, row.id);
    const subnets: StoredSubnet[] = [];
    for (const s of spec.subnets) {
      const subnetId = `${id}/subnets/${s.name}`;
      const holder = { subscriptionId: row.subscription_id, location: row.location, id: subnetId };
      const nsg = s.networkSecurityGroup
        ? await requireNetworkResource(db, s.networkSecurityGroup, TYPES.networkSecurityGroups, holder)
        : undefined;
      if (nsg)
        await networkStore.insertReferences(db, [
          {
            subscription_id: row.subscription_id,
            holder_id: row.id,
            holder: subnetId,
            kind: 'networkSecurityGroup',
            target_id: nsg.id,
            target_child: '',
            private_ip: null,
          },
        ]);
      subnets.push({
        name: s.name,
        properties: {
          addressPrefix: formatPrefix(s.prefix),
          ...(nsg ? { networkSecurityGroup: subResource(networkResourceId(nsg)) } : {}),
        },
      });
    }
    return {
      addressSpace: { addressPrefixes: spec.addressPrefixes },
      dhcpOptions: { dnsServers: spec.dnsServers },
      subnets,
    };
  },

  async release({ db, row }, withGroup) {
    const user = (await networkStore.referencesTo(db, [row.id])).find((r) => r.kind === 'subnet');
    if (user && !withGroup)
      throw networkErrors.subnetInUse(`${networkResourceId(row)}/subnets/${user.target_child}`, user.holder);
    await networkStore.deleteReferencesHeldBy(db, row.id);
  },

  view(row, referencedBy) {
    return baseView(row, {
      addressSpace: row.properties.addressSpace,
      dhcpOptions: row.properties.dhcpOptions,
      subnets: subnetsOf(row.properties).map((s) => {
        const ipConfigurations = backReferences(referencedBy, inSubnet(s.name));
        return childView(row, 'subnets', s.name, {
          ...s.properties,
          ...(ipConfigurations ? { ipConfigurations } : {}),
          privateEndpointNetworkPolicies: 'Enabled',
          privateLinkServiceNetworkPolicies: 'Enabled',
        });
      }),
      virtualNetworkPeerings: [],
      enableDdosProtection: false,
    });
  },
};
