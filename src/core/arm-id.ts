import { ownText } from './kept.ts';

// The grammar of ARM resource ids:
//   /subscriptions/{id}[/resourceGroups/{rg}][/providers/{namespace}/{type}/{name}[/{type}/{name}]...]
// Segment names and values compare case-insensitively; the case a caller gave is kept for display.

export interface ResourceTypeSegment {
  type: string;
  name: string;
}

export interface ResourceId {
  subscriptionId: string;
  resourceGroup?: string;
  namespace?: string;
  /** Nested types below the provider namespace, outermost first. */
  resources: ResourceTypeSegment[];
}

/** A path's segments, the empty ones (of doubled or trailing slashes) left out. */
export function splitSegments(id: string): string[] {
  return id.split('/').filter((s) => s.length > 0);
}

export function parseResourceId(id: string): ResourceId | undefined {
  const seg = splitSegments(id);
  if (seg.length < 2 || seg[0].toLowerCase() !== 'subscriptions') return undefined;
  const result: ResourceId = { subscriptionId: seg[1], resources: [] };
  let i = 2;
  if (seg[i]?.toLowerCase() === 'resourcegroups') {
    if (seg[i + 1] === undefined) return undefined;
    result.resourceGroup = seg[i + 1];
    i += 2;
  }
  if (i === seg.length) return result;
  if (seg[i].toLowerCase() !== 'providers' || seg[i + 1] === undefined) return undefined;
  result.namespace = seg[i + 1];
  i += 2;
  const rest = seg.slice(i);
  if (rest.length === 0 || rest.length % 2 !== 0) return undefined;
  for (let j = 0; j < rest.length; j += 2) result.resources.push({ type: rest[j], name: rest[j + 1] });
  return result;
}

export function formatResourceId(id: ResourceId): string {
  let out = `/subscriptions/${id.subscriptionId}`;
  if (id.resourceGroup !== undefined) out += `/resourceGroups/${id.resourceGroup}`;
  if (id.namespace !== undefined) {
    out += `/providers/${id.namespace}`;
    for (const r of id.resources) out += `/${r.type}/${r.name}`;
  }
  return out;
}

/** The full resource type, such as `Microsoft.AzureStack/registrations/customerSubscriptions`. */
export function resourceTypeOf(id: ResourceId): string {
  if (id.namespace === undefined)
    return id.resourceGroup !== undefined ? 'Microsoft.Resources/resourceGroups' : 'Microsoft.Resources/subscriptions';
  return [id.namespace, ...id.resources.map((r) => r.type)].join('/');
}

/** Canonical comparison key of a scope: single slashes, no trailing slash, lower case. */
export function scopeKey(scope: string): string {
  return '/' + splitSegments(scope).join('/').toLowerCase();
}

export const ROOT_SCOPE = '/';

/** The keys of a scope and of every scope above it, from the root scope `/` down. */
export function ancestorScopeKeys(scope: string): string[] {
  const id = parseResourceId(scope);
  const own = scopeKey(scope);
  if (id === undefined) return own === ROOT_SCOPE ? [ROOT_SCOPE] : [ROOT_SCOPE, own];
  const keys = [ROOT_SCOPE, scopeKey(formatResourceId({ subscriptionId: id.subscriptionId, resources: [] }))];
  if (id.resourceGroup !== undefined) {
    keys.push(
      scopeKey(formatResourceId({ subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup, resources: [] })),
    );
  }
  for (let depth = 1; depth <= id.resources.length; depth++) {
    keys.push(scopeKey(formatResourceId({ ...id, resources: id.resources.slice(0, depth) })));
  }
  return keys;
}

export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * `of(id)`, kept by the id's parent (all but its last segment) once the parent has six segments
 * or more: then the last segment is a resource's name, or one too many, and its value changes
 * nothing of what a parse gives of the rest (its type, group, namespace). An export's lines name a
 * few parents a million times.
 */
export function keptByParent<T>(of: (id: string) => T): (id: string) => T {
  const byParent = new Map<string, T>();
  // The parent asked last, and its value: the next line's id is most often another child of it,
  // which comparing the two finds without hashing the parent (String.startsWith measured slower).
  let lastParent: string | undefined;
  let lastValue: T | undefined;
  return (id) => {
    const cut = id.lastIndexOf('/');
    const parent = cut > 0 && cut < id.length - 1 ? id.slice(0, cut) : undefined;
    if (parent !== undefined && parent === lastParent) return lastValue as T;
    if (parent !== undefined && byParent.has(parent)) {
      lastParent = parent;
      lastValue = byParent.get(parent) as T;
      return lastValue;
    }
    const value = of(id);
    if (parent !== undefined && splitSegments(parent).length >= 6) {
      if (byParent.size > 10_000) byParent.clear();
      // kept as a string of its own: the id is most often cut from a far longer text
      lastParent = ownText(parent);
      byParent.set(lastParent, value);
      lastValue = value;
    }
    return value;
  };
}
