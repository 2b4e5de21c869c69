import { type ArmError, armError, armErrors } from '../core/errors.ts';
import type { Cursor } from '../core/paging.ts';
import type { RouteEntry } from '../http/server.ts';

// Resource Manager's generic view of an endpoint: its resource providers, their resource types,
// api-versions and locations, worked out from the endpoint's own routes (so that the list never
// drifts from what is served), ARM's answers for a type or namespace it does not serve, and the
// `$filter` of the generic resource list. Pure functions.

export interface ProviderResourceType {
  resourceType: string;
  locations: string[];
  apiVersions: string[];
}

export interface Provider {
  namespace: string;
  resourceTypes: ProviderResourceType[];
}

/** The resource types of the ARM base that name no provider in their path (subscriptions, groups, tenants). */
const RESOURCES_NAMESPACE = 'Microsoft.Resources';

/**
 * The provider namespace and resource type a route serves: the last `/providers/{Namespace}` of its
 * path, then the type's names (every other segment: `locations/:location/vmSizes` is `locations/vmSizes`).
 * A path without a provider is its route's resource type: `Namespace/type` where it names one
 * (the tenant's `/offers` is `Microsoft.Subscriptions/offers`), else Microsoft.Resources'.
 */
export function providerTypeOf(
  route: Pick<RouteEntry, 'url' | 'resourceType'>,
): { namespace: string; resourceType: string } | undefined {
  const segments = route.url.split('/').filter(Boolean);
  let at = -1;
  for (let i = 0; i + 1 < segments.length; i++) {
    if (segments[i].toLowerCase() === 'providers' && segments[i + 1].includes('.') && !segments[i + 1].startsWith(':'))
      at = i;
  }
  if (at < 0) {
    if (!route.resourceType) return undefined;
    const named = /^([^/]+\.[^/]+)\/(.+)$/.exec(route.resourceType);
    return named
      ? { namespace: named[1], resourceType: named[2] }
      : { namespace: RESOURCES_NAMESPACE, resourceType: route.resourceType };
  }
  const names = segments.slice(at + 2).filter((_, i) => i % 2 === 0);
  if (names.length === 0 || names.some((n) => n.startsWith(':') || n.includes('$'))) return undefined;
  return { namespace: segments[at + 1], resourceType: names.join('/') };
}

const newestFirst = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0);

/**
 * The providers of an endpoint from its route table: every ARM route (one that takes an
 * api-version) but actions (POST), grouped by namespace and type, with the union of their api-versions.
 */
export function providerCatalog(routes: RouteEntry[], locations: string[]): Provider[] {
  const byNamespace = new Map<
    string,
    { namespace: string; types: Map<string, { resourceType: string; versions: Set<string> }> }
  >();
  for (const route of routes) {
    if (route.anonymous || !route.apiVersions?.length || route.method === 'POST' || route.method === 'HEAD') continue;
    const found = providerTypeOf(route);
    if (!found) continue;
    const ns = byNamespace.get(found.namespace.toLowerCase()) ?? { namespace: found.namespace, types: new Map() };
    byNamespace.set(found.namespace.toLowerCase(), ns);
    const type = ns.types.get(found.resourceType.toLowerCase()) ?? {
      resourceType: found.resourceType,
      versions: new Set<string>(),
    };
    ns.types.set(found.resourceType.toLowerCase(), type);
    for (const v of route.apiVersions) type.versions.add(v);
  }
  return [...byNamespace.values()]
    .sort((a, b) => a.namespace.localeCompare(b.namespace))
    .map((ns) => ({
      namespace: ns.namespace,
      resourceTypes: [...ns.types.values()]
        .sort((a, b) => a.resourceType.localeCompare(b.resourceType))
        .map((t) => ({
          resourceType: t.resourceType,
          locations: locations,
          apiVersions: [...t.versions].sort(newestFirst),
        })),
    }));
}

export const findProvider = (catalog: Provider[], namespace: string): Provider | undefined =>
  catalog.find((p) => p.namespace.toLowerCase() === namespace.toLowerCase());

/** A provider as `GET /subscriptions/{s}/providers` shows it. Every provider here is built in, so always registered. */
export function providerView(subscriptionId: string | undefined, p: Provider) {
  return {
    id: `${subscriptionId ? `/subscriptions/${subscriptionId}` : ''}/providers/${p.namespace}`,
    namespace: p.namespace,
    registrationState: 'Registered',
    registrationPolicy: 'RegistrationRequired',
    resourceTypes: p.resourceTypes.map((t) => ({
      resourceType: t.resourceType,
      locations: t.locations,
      apiVersions: t.apiVersions,
      capabilities: 'None',
    })),
  };
}

/**
 * ARM's answer for a request no route serves, when its path names a provider: an unknown namespace,
 * an unknown type (listing the supported ones), or a known type at an api-version it does not take
 * (listing those it does). Undefined when the path names no provider: the generic NotFound then.
 */
export function unknownRouteError(
  catalog: Provider[],
  path: string,
  apiVersion: string | undefined,
): ArmError | undefined {
  const found = providerTypeOf({ url: path.replace(/\/+$/, ''), resourceType: undefined });
  if (!found) return undefined;
  const provider = findProvider(catalog, found.namespace);
  if (!provider) return armErrors.invalidResourceNamespace(found.namespace);
  // A type's name, or a name under it (`virtualMachines/vm1/foo` is `virtualMachines/foo`): the longest served prefix.
  const names = found.resourceType.split('/');
  for (let n = names.length; n > 0; n--) {
    const t = provider.resourceTypes.find(
      (x) => x.resourceType.toLowerCase() === names.slice(0, n).join('/').toLowerCase(),
    );
    if (
      t &&
      n === names.length &&
      apiVersion &&
      !t.apiVersions.some((v) => v.toLowerCase() === apiVersion.toLowerCase())
    ) {
      return armErrors.noRegisteredProvider(t.resourceType, apiVersion, t.apiVersions, t.locations);
    }
    if (t && n === names.length) return undefined;
  }
  return armErrors.invalidResourceType(
    provider.namespace,
    found.resourceType,
    apiVersion,
    provider.resourceTypes.map((t) => t.resourceType),
  );
}

/** What the generic resource list filters on: `$filter=resourceType eq '…'` (and name, location, resourceGroup), joined by `and`. */
export interface ResourceFilter {
  resourceType?: string;
  resourceGroup?: string;
  name?: string;
  location?: string;
}

const FILTER_FIELDS: Record<string, keyof ResourceFilter> = {
  resourcetype: 'resourceType',
  resourcegroup: 'resourceGroup',
  name: 'name',
  location: 'location',
};
const FILTER_CLAUSE = /^(resourceType|resourceGroup|name|location)\s+eq\s+'((?:[^']|'')*)'$/i;

export function parseResourceFilter(filter: string | undefined): ResourceFilter {
  if (filter === undefined || filter.trim() === '') return {};
  const result: ResourceFilter = {};
  for (const clause of filter.trim().split(/\s+and\s+/i)) {
    const m = FILTER_CLAUSE.exec(clause.trim());
    if (!m) {
      throw armError(
        'InvalidFilterInQueryString',
        `The filter '${filter.slice(0, 200)}' is not supported: use "resourceType eq '{type}'", "resourceGroup eq '{group}'", "name eq '{name}'" or "location eq '{location}'", joined by 'and'.`,
        '$filter',
      );
    }
    result[FILTER_FIELDS[m[1].toLowerCase()]] = m[2].replaceAll("''", "'");
  }
  return result;
}

/** A resource as the generic list shows it: no properties. */
export interface GenericResource {
  id: string;
  name: string;
  type: string;
  location: string;
  tags?: Record<string, string>;
  sku?: unknown;
  kind?: string;
  /** The resource that holds it (a disk's VM). */
  managedBy?: string;
}

/** What a role publishes of its resources for the generic list (a page of them, filtered; the group is the path's or the filter's). */
export type ResourceLister = (
  subscriptionId: string,
  resourceGroup: string | undefined,
  filter: Omit<ResourceFilter, 'resourceGroup'>,
  cursor: Cursor,
) => Promise<GenericResource[]>;
