import { API_VERSIONS } from '../../../core/api-versions.ts';
import { newGuid } from '../../../core/ids.ts';
import type { MeterRates } from '../../metering/rules.ts';
import { METERS } from '../catalog.ts';
import type { ResourceType } from '../resource-type.ts';
import { resourceErrors } from '../rules.ts';
import { optionalObject, storedOneOf } from '../stored.ts';
import type { ResourcesTable, StoredProperties } from '../tables.ts';

// Public IP addresses (Microsoft.Network): static or dynamic, each metered by the hour.

export function publicIpRates(allocation: 'Static' | 'Dynamic'): MeterRates {
  return { [allocation === 'Static' ? METERS.staticIp.id : METERS.dynamicIp.id]: 1 };
}

/** A PUT's properties as a client sends them: JSON, so any part may be missing or of another type. */
interface PublicIpRequest {
  publicIPAllocationMethod?: unknown;
  publicIPAddressVersion?: unknown;
  idleTimeoutInMinutes?: unknown;
  dnsSettings?: { domainNameLabel?: unknown };
}

// The Network RP's rule for a DNS label, and the zone a deployment's public names live in (the
// development kit's external domain; a label is unique per location there).
const DOMAIN_NAME_LABEL = /^[a-z][a-z0-9-]{1,61}[a-z0-9]$/;
const CLOUDAPP_ZONE = 'cloudapp.azurestack.external';

/** `dnsSettings` as the Network RP answers it: the label and the name it gives (`{label}.{location}.{zone}`). */
function dnsSettingsOf(
  requested: PublicIpRequest['dnsSettings'],
  location: string,
): Record<string, string> | undefined {
  const label = requested?.domainNameLabel;
  if (label === undefined || label === null) return undefined;
  if (typeof label !== 'string' || !DOMAIN_NAME_LABEL.test(label))
    throw resourceErrors.invalidDomainNameLabel(String(label), DOMAIN_NAME_LABEL);
  return { domainNameLabel: label, fqdn: `${label}.${location}.${CLOUDAPP_ZONE}` };
}

const ALLOCATIONS = ['Static', 'Dynamic'] as const;
const METHODS: readonly unknown[] = ALLOCATIONS;

/** What a public IP's stored properties say that its rules read. */
const publicIpProperties = (p: StoredProperties) => ({
  allocation: storedOneOf(p.publicIPAllocationMethod, ALLOCATIONS, 'publicIPAllocationMethod'),
  dnsSettings: optionalObject(p.dnsSettings, 'dnsSettings'),
});

export const publicIpAddresses: ResourceType = {
  type: 'Microsoft.Network/publicIPAddresses',
  namespace: 'Microsoft.Network',
  quotaProvider: 'Microsoft.Network.Admin',
  apiVersions: [...API_VERSIONS.network],
  async accept(body, existing) {
    const p = (body?.properties ?? {}) as PublicIpRequest;
    const method = p.publicIPAllocationMethod ?? existing?.properties.publicIPAllocationMethod ?? 'Dynamic';
    if (!METHODS.includes(method))
      throw resourceErrors.invalidParameter(
        `'${method}' is not an allocation method; use Static or Dynamic.`,
        'properties.publicIPAllocationMethod',
      );
    return {
      properties: {
        resourceGuid: existing?.properties.resourceGuid ?? newGuid(),
        provisioningState: 'Succeeded',
        publicIPAddressVersion: p.publicIPAddressVersion ?? 'IPv4',
        publicIPAllocationMethod: method,
        idleTimeoutInMinutes: p.idleTimeoutInMinutes ?? 4,
        dnsSettings: dnsSettingsOf(
          p.dnsSettings ?? (existing && publicIpProperties(existing.properties).dnsSettings),
          // The lifecycle hands `accept` the location it resolved (an update keeps the resource's).
          String(body.location),
        ),
        // The address and the IP configuration using it: the network's links (beforeWrite).
        ipAddress: existing?.properties.ipAddress,
        ipConfiguration: existing?.properties.ipConfiguration,
      },
      sku: (body?.sku as ResourcesTable['sku'] | undefined) ?? existing?.sku ?? { name: 'Basic' },
      kind: null,
    };
  },
  meterState: (r) => publicIpRates(publicIpProperties(r.properties).allocation),
  quotaUsage: () => ({ publicIpAddresses: 1 }),
  checkQuota(limits, others, _next, existing) {
    const count = others.publicIpAddresses ?? 0;
    if (
      !existing &&
      limits.maxPublicIpsPerSubscription !== undefined &&
      count + 1 > limits.maxPublicIpsPerSubscription
    ) {
      throw resourceErrors.quotaExceeded('PublicIPAddresses', limits.maxPublicIpsPerSubscription, count, 1);
    }
  },
};
