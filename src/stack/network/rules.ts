import { armError } from '../../core/errors.ts';
import {
  formatPrefix,
  overlaps as overlapsPrefix,
  parsePrefix,
  type Prefix,
  within as withinPrefix,
} from './addresses.ts';

// The Network provider's rules that need no database: names, address spaces and subnets, security
// rules, and its error codes (the vendor's, with its messages).

export const NETWORK = 'Microsoft.Network';

/** The stack's pool of public addresses (a range reserved for benchmarks: never routed on the Internet). */
export const PUBLIC_IP_POOL = { first: '198.18.0.1', last: '198.18.255.254' };

export const networkErrors = {
  invalidName: (name: string) =>
    armError(
      'InvalidResourceName',
      `Resource name ${name.slice(0, 100)} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`,
    ),
  invalidRequest: (message: string, target?: string) => armError('InvalidRequestFormat', message, target),
  badPrefix: (prefix: unknown, owner: string) =>
    armError(
      'InvalidAddressPrefixFormat',
      `Address prefix ${String(prefix).slice(0, 64)} of resource ${owner} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24.`,
    ),
  unalignedPrefix: (given: string, aligned: string, owner: string) =>
    armError(
      'InvalidCIDRNotation',
      `The address prefix ${given} in resource ${owner} has an invalid CIDR notation. For the given prefix length, the address prefix should be ${aligned}.`,
    ),
  addressSpacesOverlap: (vnet: string, a: string, b: string) =>
    armError('VnetAddressSpacesOverlap', `Virtual network ${vnet} address spaces ${a} and ${b} overlap.`),
  subnetOutsideVnet: (subnet: string, vnet: string) =>
    armError(
      'NetcfgSubnetRangeOutsideVnet',
      `Subnet '${subnet}' is not valid because its IP address range is outside the IP address range of virtual network '${vnet}'.`,
    ),
  subnetsOverlap: (subnet: string, vnet: string) =>
    armError(
      'NetcfgSubnetRangesOverlap',
      `Subnet '${subnet}' is not valid because its IP address range overlaps with that of an existing subnet in virtual network '${vnet}'.`,
    ),
  duplicateChild: (kind: string, name: string) =>
    armError('DuplicateResourceName', `Resource has two ${kind} with the same name '${name}'.`),
  subnetInUse: (subnet: string, by: string) =>
    armError(
      'InUseSubnetCannotBeDeleted',
      `Subnet ${subnet} is in use by ${by} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.`,
    ),
  subnetInUseCannotChange: (subnet: string, by: string) =>
    armError(
      'InUseSubnetCannotBeUpdated',
      `Subnet ${subnet} is in use by ${by} and its address prefix cannot be changed.`,
    ),
  nsgInUse: (nsg: string, by: string[]) =>
    armError(
      'InUseNetworkSecurityGroupCannotBeDeleted',
      `Network security group ${nsg} cannot be deleted because it is in use by the following resources: ${by.join(', ')}. In order to delete the Network security group, remove the association with the resource(s).`,
    ),
  nicInUse: (nic: string, vm: string) =>
    armError(
      'NicInUse',
      `Network Interface ${nic} is used by existing resource ${vm}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`,
    ),
  nicAttachedElsewhere: (nic: string, vm: string) =>
    armError(
      'NicInUse',
      `Network Interface ${nic} is used by existing resource ${vm} and cannot be attached to another virtual machine.`,
    ),
  publicIpInUse: (ip: string, by: string) =>
    armError(
      'PublicIPAddressInUse',
      `Resource ${ip} is in use by ${by} and cannot be referenced by another IP configuration.`,
    ),
  publicIpCannotBeDeleted: (ip: string, by: string) =>
    armError(
      'PublicIPAddressCannotBeDeleted',
      `Public IP address ${ip} can not be deleted since it is still allocated to resource ${by}. In order to delete the public IP, disassociate/detach the Public IP address from the resource. To learn how to do this, see aka.ms/deletepublicip.`,
    ),
  referenceNotFound: (target: string, holder: string) =>
    armError(
      'InvalidResourceReference',
      `Resource ${target.slice(0, 400)} referenced by resource ${holder} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
    ),
  subnetFull: (subnet: string) => armError('SubnetIsFull', `Subnet ${subnet} has no more free addresses.`),
  privateIpNotInSubnet: (ip: string, subnet: string) =>
    armError(
      'PrivateIPAddressNotInSubnet',
      `IP configuration's private IP address ${ip} does not belong to the subnet ${subnet}.`,
    ),
  privateIpInUse: (ip: string, subnet: string) =>
    armError('PrivateIPAddressInUse', `IP address ${ip} is already in use in subnet ${subnet}.`),
  poolExhausted: () =>
    armError('PublicIPCountLimitReached', 'The deployment has no more public IP addresses to allocate.'),
  ruleInvalidPriority: (rule: string, given: unknown) =>
    armError(
      'SecurityRuleInvalidPriority',
      `Security rule ${rule} has invalid Priority. Value provided: ${String(given).slice(0, 32)} Allowed range 100-4096.`,
    ),
  ruleConflict: (a: string, b: string) =>
    armError(
      'SecurityRuleConflict',
      `Security rule ${a} conflicts with rule ${b}. Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules.`,
    ),
  ruleParameter: (rule: string, parameter: string, value: unknown) =>
    armError(
      'SecurityRuleParameterContainsUnsupportedValue',
      `Security rule parameter ${parameter} for rule with Id ${rule} cannot be ${JSON.stringify(value)?.slice(0, 64)}.`,
    ),
};

/** The Network provider's names: 1 to 80 word characters, dots and hyphens, beginning with a word character and ending with one or '_'. */
export function checkName(name: string): void {
  if (!/^\w(?:[\w.-]{0,78}\w)?$/.test(name)) throw networkErrors.invalidName(name);
}

// ---- request bodies: plain JSON read defensively --------------------------------------------------

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object member of a body: absent or null is empty; anything else but an object is refused. */
export function objectAt(v: unknown, path: string): Json {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw networkErrors.invalidRequest(`'${path}' must be an object.`, path);
  return v;
}

export function arrayAt(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw networkErrors.invalidRequest(`'${path}' must be an array.`, path);
  if (v.length > 1000) throw networkErrors.invalidRequest(`'${path}' has more than 1000 entries.`, path);
  return v;
}

export function stringAt(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw networkErrors.invalidRequest(`'${path}' must be a string.`, path);
  return v;
}

/** `{id}` of a sub-resource reference, or undefined when absent. */
export function referenceAt(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const id = stringAt(objectAt(v, path).id, `${path}.id`);
  if (!id) throw networkErrors.invalidRequest(`'${path}.id' is required.`, `${path}.id`);
  return id;
}

/** Named children (subnets, rules, IP configurations): each `{name, properties}`, names unique. */
export function namedChildren(v: unknown, path: string, kind: string): { name: string; properties: Json }[] {
  const seen = new Set<string>();
  return arrayAt(v, path).map((entry, i) => {
    const child = objectAt(entry, `${path}[${i}]`);
    const name = stringAt(child.name, `${path}[${i}].name`);
    if (!name) throw networkErrors.invalidRequest(`'${path}[${i}].name' is required.`, `${path}[${i}].name`);
    checkName(name);
    if (seen.has(name.toLowerCase())) throw networkErrors.duplicateChild(kind, name);
    seen.add(name.toLowerCase());
    return { name, properties: objectAt(child.properties, `${path}[${i}].properties`) };
  });
}

// ---- virtual networks -----------------------------------------------------------------------------

/** A prefix the caller wrote, read strictly: CIDR, and the network address of its length. */
export function readPrefix(text: unknown, owner: string): Prefix {
  const parsed = typeof text === 'string' ? parsePrefix(text) : undefined;
  if (!parsed) throw networkErrors.badPrefix(text, owner);
  if (!parsed.aligned) throw networkErrors.unalignedPrefix(String(text), formatPrefix(parsed.prefix), owner);
  return parsed.prefix;
}

export interface SubnetSpec {
  name: string;
  addressPrefix: string;
  prefix: Prefix;
  networkSecurityGroup?: string;
}

/** The address space and subnets of a virtual network: prefixes valid, spaces apart, subnets inside and apart. */
export function readVirtualNetwork(vnetId: string, vnetName: string, properties: Json) {
  const space = objectAt(properties.addressSpace, 'properties.addressSpace');
  const spaceTexts = arrayAt(space.addressPrefixes, 'properties.addressSpace.addressPrefixes');
  if (spaceTexts.length === 0)
    throw networkErrors.invalidRequest(
      'The virtual network needs at least one address prefix in properties.addressSpace.addressPrefixes.',
      'properties.addressSpace.addressPrefixes',
    );
  const spaces = spaceTexts.map((p) => ({ text: String(p), prefix: readPrefix(p, vnetId) }));
  for (let i = 0; i < spaces.length; i++)
    for (let j = i + 1; j < spaces.length; j++)
      if (overlapsPrefix(spaces[i].prefix, spaces[j].prefix))
        throw networkErrors.addressSpacesOverlap(vnetName, spaces[i].text, spaces[j].text);
  const subnets: SubnetSpec[] = namedChildren(properties.subnets, 'properties.subnets', 'subnets').map((s, i) => {
    const text = s.properties.addressPrefix;
    const prefix = readPrefix(text, `${vnetId}/subnets/${s.name}`);
    if (!spaces.some((sp) => withinPrefix(prefix, sp.prefix))) throw networkErrors.subnetOutsideVnet(s.name, vnetName);
    const nsg = referenceAt(
      s.properties.networkSecurityGroup,
      `properties.subnets[${i}].properties.networkSecurityGroup`,
    );
    return { name: s.name, addressPrefix: String(text), prefix, ...(nsg ? { networkSecurityGroup: nsg } : {}) };
  });
  for (let i = 0; i < subnets.length; i++)
    for (let j = 0; j < i; j++)
      if (overlapsPrefix(subnets[i].prefix, subnets[j].prefix))
        throw networkErrors.subnetsOverlap(subnets[i].name, vnetName);
  const dhcp = objectAt(properties.dhcpOptions, 'properties.dhcpOptions');
  const dnsServers = arrayAt(dhcp.dnsServers, 'properties.dhcpOptions.dnsServers').map((d, i) =>
    stringAt(d, `properties.dhcpOptions.dnsServers[${i}]`),
  );
  return { addressPrefixes: spaces.map((s) => s.text), subnets, dnsServers };
}

// ---- security rules -------------------------------------------------------------------------------

const PROTOCOLS = ['Tcp', 'Udp', 'Icmp', 'Esp', 'Ah', '*'];

export interface SecurityRuleSpec {
  name: string;
  properties: Json;
}

const pick = (value: unknown, allowed: string[]) =>
  typeof value === 'string' ? allowed.find((a) => a.toLowerCase() === value.toLowerCase()) : undefined;

/** A security rule's properties as the provider keeps them: protocol, access, direction, priority checked. */
export function readSecurityRule(nsgId: string, name: string, p: Json): Json {
  const ruleId = `${nsgId}/securityRules/${name}`;
  const protocol = pick(p.protocol, PROTOCOLS);
  if (!protocol) throw networkErrors.ruleParameter(ruleId, 'protocol', p.protocol);
  const access = pick(p.access, ['Allow', 'Deny']);
  if (!access) throw networkErrors.ruleParameter(ruleId, 'access', p.access);
  const direction = pick(p.direction, ['Inbound', 'Outbound']);
  if (!direction) throw networkErrors.ruleParameter(ruleId, 'direction', p.direction);
  if (typeof p.priority !== 'number' || !Number.isInteger(p.priority) || p.priority < 100 || p.priority > 4096)
    throw networkErrors.ruleInvalidPriority(name, p.priority);
  const out: Json = { protocol, access, direction, priority: p.priority };
  const description = stringAt(p.description, 'description');
  if (description !== undefined) out.description = description.slice(0, 140);
  for (const [single, plural] of [
    ['sourcePortRange', 'sourcePortRanges'],
    ['destinationPortRange', 'destinationPortRanges'],
    ['sourceAddressPrefix', 'sourceAddressPrefixes'],
    ['destinationAddressPrefix', 'destinationAddressPrefixes'],
  ] as const) {
    const one = stringAt(p[single], single);
    const many = arrayAt(p[plural], plural).map((x, i) => stringAt(x, `${plural}[${i}]`) ?? '');
    if (one === undefined && many.length === 0) throw networkErrors.ruleParameter(ruleId, single, null);
    if (one !== undefined) out[single] = one;
    if (many.length > 0) out[plural] = many;
  }
  return out;
}

/** The rules of a security group: each valid, no two with the same priority and direction. */
export function readSecurityRules(nsgId: string, rules: unknown): SecurityRuleSpec[] {
  const read = namedChildren(rules, 'properties.securityRules', 'security rules').map((r) => ({
    name: r.name,
    properties: readSecurityRule(nsgId, r.name, r.properties),
  }));
  for (let i = 0; i < read.length; i++)
    for (let j = 0; j < i; j++)
      if (
        read[i].properties.priority === read[j].properties.priority &&
        read[i].properties.direction === read[j].properties.direction
      )
        throw networkErrors.ruleConflict(read[i].name, read[j].name);
  return read;
}

/** The rules every security group has, below the caller's (Azure's defaults). */
export const DEFAULT_SECURITY_RULES: SecurityRuleSpec[] = [
  [
    'AllowVnetInBound',
    'Allow inbound traffic from all VMs in VNET',
    'Allow',
    'Inbound',
    65000,
    'VirtualNetwork',
    'VirtualNetwork',
  ],
  [
    'AllowAzureLoadBalancerInBound',
    'Allow inbound traffic from azure load balancer',
    'Allow',
    'Inbound',
    65001,
    'AzureLoadBalancer',
    '*',
  ],
  ['DenyAllInBound', 'Deny all inbound traffic', 'Deny', 'Inbound', 65500, '*', '*'],
  [
    'AllowVnetOutBound',
    'Allow outbound traffic from all VMs to all VMs in VNET',
    'Allow',
    'Outbound',
    65000,
    'VirtualNetwork',
    'VirtualNetwork',
  ],
  [
    'AllowInternetOutBound',
    'Allow outbound traffic from all VMs to Internet',
    'Allow',
    'Outbound',
    65001,
    '*',
    'Internet',
  ],
  ['DenyAllOutBound', 'Deny all outbound traffic', 'Deny', 'Outbound', 65500, '*', '*'],
].map(([name, description, access, direction, priority, source, destination]) => ({
  name: name as string,
  properties: {
    description,
    protocol: '*',
    sourcePortRange: '*',
    destinationPortRange: '*',
    sourceAddressPrefix: source,
    destinationAddressPrefix: destination,
    access,
    priority,
    direction,
  },
}));
