import type { GenericResource } from '../../arm/providers.ts';
import type { NetworkReferencesTable, NetworkResourcesTable } from './tables.ts';

// The Network provider's wire shapes: what every resource has (id, name, type, location, tags,
// etag, provisioningState, resourceGuid); each type adds its properties (its module's `view`).

export function networkResourceId(
  r: Pick<NetworkResourcesTable, 'subscription_id' | 'resource_group' | 'type' | 'name'>,
) {
  return `/subscriptions/${r.subscription_id}/resourceGroups/${r.resource_group}/providers/${r.type}/${r.name}`;
}

/** The Network provider's weak etags; children carry their parent's. */
export const etagOf = (r: Pick<NetworkResourcesTable, 'etag'>) => `W/"${r.etag}"`;

export const subResource = (id: string) => ({ id });

/** A child (subnet, security rule, IP configuration) as the provider shows it. */
export function childView(parent: NetworkResourcesTable, collection: string, name: string, properties: object) {
  return {
    name,
    id: `${networkResourceId(parent)}/${collection}/${name}`,
    etag: etagOf(parent),
    type: `${parent.type}/${collection}`,
    properties: { provisioningState: 'Succeeded', ...properties },
  };
}

export function baseView(r: NetworkResourcesTable, properties: object) {
  return {
    name: r.name,
    id: networkResourceId(r),
    etag: etagOf(r),
    type: r.type,
    location: r.location,
    ...(Object.keys(r.tags).length > 0 ? { tags: r.tags } : {}),
    properties: {
      provisioningState: 'Succeeded',
      resourceGuid: r.properties.resourceGuid,
      ...properties,
    },
  };
}

/** The holders of references of one kind, as `[{id}]`, or nothing when there are none. */
export function backReferences(refs: NetworkReferencesTable[], keep: (r: NetworkReferencesTable) => boolean) {
  const ids = refs.filter(keep).map((r) => subResource(r.holder));
  return ids.length > 0 ? ids : undefined;
}

export function genericNetworkView(r: NetworkResourcesTable): GenericResource {
  return {
    id: networkResourceId(r),
    name: r.name,
    type: r.type,
    location: r.location,
    ...(Object.keys(r.tags).length > 0 ? { tags: r.tags } : {}),
  };
}
