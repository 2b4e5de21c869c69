import { randomBytes } from 'node:crypto';
import { formatAddress, lowestFree, parseAddress, usableRange } from './addresses.ts';
import { refreshPublicIp, requireNetworkResource, requirePublicIp, requireSubnet, TYPES } from './references.ts';
import { arrayAt, namedChildren, networkErrors, referenceAt, stringAt, type Json } from './rules.ts';
import type { NetworkType } from './service.ts';
import { networkStore } from './store.ts';
import type { NetworkReferencesTable } from './tables.ts';
import { baseView, childView, networkResourceId, subResource } from './views.ts';

// Network interfaces: IP configurations in an existing subnet of the subscription, each with a
// private address of that subnet (the one asked for, Static, or the lowest free one, kept across
// updates) and optionally a public IP that no other IP configuration uses; optionally a security
// group. A VM that uses one shows as its `virtualMachine`; it cannot go while it does.

type StoredConfig = { name: string; properties: Json };

/** An Azure-style MAC address (Microsoft's prefix 00-0D-3A). */
const newMacAddress = () =>
  ['00', '0D', '3A', ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0').toUpperCase())].join('-');

const allocation = (v: unknown, path: string) => {
  if (v === undefined || v === null) return 'Dynamic';
  const found = ['Dynamic', 'Static'].find((m) => typeof v === 'string' && m.toLowerCase() === v.toLowerCase());
  if (!found)
    throw networkErrors.invalidRequest(
      `'${String(v).slice(0, 32)}' is not an allocation method; use Static or Dynamic.`,
      path,
    );
  return found;
};

export const networkInterfaces: NetworkType = {
  type: TYPES.networkInterfaces,
  quota: { limit: 'maxNicsPerSubscription', name: 'NetworkInterfaces' },
  children: 'ipConfigurations',

  async write({ db, row }, properties, existing) {
    const id = networkResourceId(row);
    const configs = namedChildren(properties.ipConfigurations, 'properties.ipConfigurations', 'IP configurations');
    if (configs.length === 0)
      throw networkErrors.invalidRequest(
        'A network interface needs at least one IP configuration.',
        'properties.ipConfigurations',
      );
    const before = existing ? await networkStore.referencesHeldBy(db, row.id) : [];
    await networkStore.deleteReferencesHeldBy(db, row.id);
    const refs: NetworkReferencesTable[] = [];
    const reference = (
      holder: string,
      kind: NetworkReferencesTable['kind'],
      targetId: string,
      child = '',
      ip: string | null = null,
    ) =>
      refs.push({
        subscription_id: row.subscription_id,
        holder_id: row.id,
        holder,
        kind,
        target_id: targetId,
        target_child: child,
        private_ip: ip,
      });
    const anyPrimary = configs.some((c) => c.properties.primary === true);
    const stored: StoredConfig[] = [];
    for (const [i, c] of configs.entries()) {
      const path = `properties.ipConfigurations[${i}].properties`;
      const holder = {
        subscriptionId: row.subscription_id,
        location: row.location,
        id: `${id}/ipConfigurations/${c.name}`,
      };
      const subnetId = referenceAt(c.properties.subnet, `${path}.subnet`);
      if (!subnetId) throw networkErrors.invalidRequest(`'${path}.subnet' is required.`, `${path}.subnet`);
      const subnet = await requireSubnet(db, subnetId, holder);
      const subnetName = `${networkResourceId(subnet.vnet)}/subnets/${subnet.name}`;
      const taken = [
        ...(await networkStore.takenPrivateAddresses(db, subnet.vnet.id, subnet.key)),
        ...refs
          .filter((r) => r.target_id === subnet.vnet.id && r.target_child === subnet.key)
          .map((r) => r.private_ip ?? ''),
      ]
        .map(parseAddress)
        .filter((a) => a !== undefined);
      const range = usableRange(subnet.prefix);
      const method = allocation(c.properties.privateIPAllocationMethod, `${path}.privateIPAllocationMethod`);
      let address: number | undefined;
      if (method === 'Static') {
        const asked = stringAt(c.properties.privateIPAddress, `${path}.privateIPAddress`) ?? '';
        address = parseAddress(asked);
        if (address === undefined || !range || address < range.first || address > range.last)
          throw networkErrors.privateIpNotInSubnet(asked.slice(0, 64), subnetName);
        if (taken.includes(address)) throw networkErrors.privateIpInUse(asked, subnetName);
      } else {
        const held = before.find(
          (r) =>
            r.kind === 'subnet' &&
            r.holder.toLowerCase() === holder.id.toLowerCase() &&
            r.target_id === subnet.vnet.id &&
            r.target_child === subnet.key,
        )?.private_ip;
        address = held ? parseAddress(held) : range && lowestFree(range, taken);
        if (address === undefined) throw networkErrors.subnetFull(subnetName);
      }
      reference(holder.id, 'subnet', subnet.vnet.id, subnet.key, formatAddress(address));
      const publicIpId = referenceAt(c.properties.publicIPAddress, `${path}.publicIPAddress`);
      const publicIp = publicIpId ? await requirePublicIp(db, publicIpId, holder) : undefined;
      if (publicIp) {
        const user =
          (await networkStore.referencesTo(db, [publicIp.id])).find((r) => r.kind === 'publicIPAddress') ??
          refs.find((r) => r.kind === 'publicIPAddress' && r.target_id === publicIp.id);
        if (user) throw networkErrors.publicIpInUse(publicIpId ?? '', user.holder);
        reference(holder.id, 'publicIPAddress', publicIp.id);
      }
      stored.push({
        name: c.name,
        properties: {
          privateIPAddress: formatAddress(address),
          privateIPAllocationMethod: method,
          subnet: subResource(subnetName),
          ...(publicIp
            ? {
                publicIPAddress: subResource(
                  `/subscriptions/${publicIp.subscription_id}/resourceGroups/${publicIp.resource_group}/providers/${TYPES.publicIPAddresses}/${publicIp.name}`,
                ),
              }
            : {}),
          primary: c.properties.primary === true || (!anyPrimary && i === 0),
          privateIPAddressVersion: 'IPv4',
        },
      });
    }
    const nsgId = referenceAt(properties.networkSecurityGroup, 'properties.networkSecurityGroup');
    const nsg = nsgId
      ? await requireNetworkResource(db, nsgId, TYPES.networkSecurityGroups, {
          subscriptionId: row.subscription_id,
          location: row.location,
          id,
        })
      : undefined;
    if (nsg) reference(id, 'networkSecurityGroup', nsg.id);
    await networkStore.insertReferences(db, refs);
    // The public IPs let go of and taken show it.
    const publicIps = new Set([...before, ...refs].filter((r) => r.kind === 'publicIPAddress').map((r) => r.target_id));
    for (const ip of publicIps) await refreshPublicIp(db, ip);
    const dns = arrayAt((properties.dnsSettings as Json | undefined)?.dnsServers, 'properties.dnsSettings.dnsServers');
    return {
      ipConfigurations: stored,
      ...(nsg ? { networkSecurityGroup: subResource(networkResourceId(nsg)) } : {}),
      dnsSettings: { dnsServers: dns.map((d, i) => stringAt(d, `properties.dnsSettings.dnsServers[${i}]`)) },
      enableIPForwarding: properties.enableIPForwarding === true,
      enableAcceleratedNetworking: properties.enableAcceleratedNetworking === true,
      macAddress: existing?.properties.macAddress ?? newMacAddress(),
    };
  },

  async release({ db, row }, withGroup) {
    const vm = (await networkStore.referencesTo(db, [row.id])).find((r) => r.kind === 'networkInterface');
    if (vm && !withGroup) throw networkErrors.nicInUse(networkResourceId(row), vm.holder);
    const held = await networkStore.referencesHeldBy(db, row.id, ['publicIPAddress']);
    await networkStore.deleteReferencesHeldBy(db, row.id);
    for (const r of held) await refreshPublicIp(db, r.target_id);
  },

  view(row, referencedBy) {
    const vm = referencedBy.find((r) => r.kind === 'networkInterface');
    const { macAddress, dnsSettings, ipConfigurations, ...rest } = row.properties as Json & {
      ipConfigurations: StoredConfig[];
      dnsSettings: { dnsServers: string[] };
    };
    return baseView(row, {
      ...rest,
      ipConfigurations: ipConfigurations.map((c) => childView(row, 'ipConfigurations', c.name, c.properties)),
      dnsSettings: { ...dnsSettings, appliedDnsServers: [] },
      // Attached: the VM, and the MAC address its host gave the interface.
      ...(vm ? { virtualMachine: subResource(vm.holder), primary: true, macAddress } : {}),
      nicType: 'Standard',
      hostedWorkloads: [],
      tapConfigurations: [],
    });
  },
};
