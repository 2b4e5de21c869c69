import type { ResourceLister } from '../../arm/providers.ts';
import {
  type ArmContext,
  authorize,
  authorizeListing,
  inTransaction,
  namedRowIdentity,
  requireResourceGroup,
  requireSubscription,
  requireWritable,
} from '../../arm/service.ts';
import { armStore } from '../../arm/store.ts';
import type { TablesOf } from '../../db/database.ts';
import { armErrors } from '../../core/errors.ts';
import { newGuid } from '../../core/ids.ts';
import type { Principal } from '../../core/principal.ts';
import type { OffersContext } from '../offers/context.ts';
import { limitsOf } from '../offers/offers.ts';
import { locationOf, resourceErrors } from '../resources/rules.ts';
import { recordOperation, type ResourcesContext } from '../resources/service.ts';
import type { ResourcesDb } from '../resources/store.ts';
import { checkName, NETWORK, objectAt, type Json } from './rules.ts';
import { CHILD_ORDER, networkStore, type NetworkDb } from './store.ts';
import type { NetworkReferencesTable, NetworkResourcesTable } from './tables.ts';
import { genericNetworkView } from './views.ts';
import { ANY_TYPE_ORDER, NAMED_ROW_ORDER } from '../../db/named-rows.ts';
import { overListed, type Cursor } from '../../core/paging.ts';

// The Network provider's use cases, the same for every type: PUT (create 201, update 200), GET,
// lists, DELETE, and the children kept inline in their parent (subnets, security rules, IP
// configurations), which are written by rewriting the parent. Each type's rules are in its module.

export interface NetworkContext {
  arm: ArmContext;
  db: NetworkDb;
  offers: OffersContext;
  /** Public IP addresses are the resources domain's (metered); operations are recorded there too. */
  resources: ResourcesContext;
}

/** What a type's write or release sees: the transaction and the row. */
export interface Scope {
  ctx: NetworkContext;
  db: NetworkDb;
  row: NetworkResourcesTable;
}

export interface NetworkType {
  type: string;
  /** The quota's limit (Microsoft.Network.Admin) and the name its error gives. */
  quota: { limit: string; name: string };
  /** The children kept inline, with their own routes. */
  children: string;
  /** Checks a PUT's properties and records what they refer to; answers the properties to keep. */
  write(scope: Scope, properties: Json, existing: NetworkResourcesTable | undefined): Promise<Json>;
  /** Refuses a delete while something uses the resource (not when its group goes too); lets go of what it refers to. */
  release(scope: Scope, withGroup: boolean): Promise<void>;
  /** The wire shape, given what refers to the resource. */
  view(row: NetworkResourcesTable, referencedBy: NetworkReferencesTable[]): Json;
}

export interface NetworkRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

const scopeOf = (t: NetworkType, r: NetworkRef, child?: string) =>
  `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/${t.type}/${r.name}${child === undefined ? '' : `/${t.children}/${child}`}`;

/** The transaction as the resources domain's store types it (one database, the type alone changing). */
export const asResourcesDb = (db: NetworkDb): ResourcesDb => db.withTables<TablesOf<ResourcesDb>>();

/** Each resource with what refers to it, in one query. */
export async function views(db: NetworkDb, t: NetworkType, rows: NetworkResourcesTable[]): Promise<Json[]> {
  const refs = await networkStore.referencesTo(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) =>
    t.view(
      r,
      refs.filter((x) => x.target_id === r.id),
    ),
  );
}

async function write(
  ctx: NetworkContext,
  t: NetworkType,
  principal: Principal,
  ref: NetworkRef,
  action: { name: string; scope: string },
  body: (existing: NetworkResourcesTable | undefined) => { location: unknown; tags?: unknown; properties: Json },
) {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, action.name, action.scope);
  requireWritable(sub);
  await requireResourceGroup(ctx.arm, sub.subscription_id, ref.resourceGroup);
  checkName(ref.name);
  const limits = (await limitsOf(ctx.offers, sub)).get('microsoft.network.admin');
  if (!limits) throw resourceErrors.notRegistered(NETWORK);
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    // One write per subscription at a time: quotas, and what refers to what, hold.
    await armStore.lockSubscription(db, sub.subscription_id);
    const existing = await networkStore.get(db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
    const given = body(existing);
    const location = locationOf(given.location, ctx.resources.arm.locations());
    if (existing && existing.location !== location) throw resourceErrors.propertyChange('location');
    const limit = limits[t.quota.limit];
    if (!existing && limit !== undefined) {
      const live = await networkStore.countLive(db, sub.subscription_id, t.type);
      if (live + 1 > limit) throw resourceErrors.quotaExceeded(t.quota.name, limit, live, 1);
    }
    const row: NetworkResourcesTable = {
      ...namedRowIdentity(existing, sub.subscription_id, ref),
      type: t.type,
      type_key: t.type.toLowerCase(),
      location,
      tags: (given.tags as Record<string, string> | undefined) ?? existing?.tags ?? {},
      properties: { resourceGuid: existing?.properties.resourceGuid ?? newGuid() },
      etag: newGuid(),
      created_at: existing?.created_at ?? now,
      updated_at: now,
      deleted_at: null,
    };
    row.properties = {
      ...(await t.write({ ctx, db, row }, given.properties, existing)),
      resourceGuid: row.properties.resourceGuid,
    };
    if (existing) await networkStore.update(db, row);
    else await networkStore.insert(db, row);
    const operationId = await recordOperation(
      ctx.resources,
      asResourcesDb(db),
      sub.subscription_id,
      row.id,
      location,
      `${t.type}/write`,
    );
    const [view] = await views(db, t, [row]);
    return { row, view, created: !existing, operationId };
  });
}

export function putResource(
  ctx: NetworkContext,
  t: NetworkType,
  principal: Principal,
  ref: NetworkRef,
  body: { location: unknown; tags?: unknown; properties?: unknown },
) {
  return write(ctx, t, principal, ref, { name: `${t.type}/write`, scope: scopeOf(t, ref) }, () => ({
    location: body.location,
    tags: body.tags,
    properties: objectAt(body.properties, 'properties'),
  }));
}

/** The live resource, for a reader of it (`child`: of its children, or of the one named). */
async function readable(
  ctx: NetworkContext,
  t: NetworkType,
  principal: Principal,
  ref: NetworkRef,
  child?: { name?: string },
) {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(
    ctx.arm,
    principal,
    child === undefined ? `${t.type}/read` : `${t.type}/${t.children}/read`,
    scopeOf(t, ref, child?.name),
  );
  const row = await networkStore.get(ctx.db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
  if (!row) throw armErrors.resourceNotFound(t.type, ref.name, ref.resourceGroup);
  return row;
}

export async function getResource(ctx: NetworkContext, t: NetworkType, principal: Principal, ref: NetworkRef) {
  const [view] = await views(ctx.db, t, [await readable(ctx, t, principal, ref)]);
  return view;
}

/** A type's list's order, over what `listResources` answers: each row with its view. */
export const LISTED_ORDER = overListed(NAMED_ROW_ORDER);

export async function listResources(
  ctx: NetworkContext,
  t: NetworkType,
  principal: Principal,
  subscriptionId: string,
  resourceGroup: string | undefined,
  cursor: Cursor,
) {
  const sub = await authorizeListing(ctx.arm, principal, `${t.type}/read`, subscriptionId, resourceGroup);
  const rows = await networkStore.list(ctx.db, sub.subscription_id, t.type, resourceGroup, cursor);
  const shown = await views(ctx.db, t, rows);
  return rows.map((row, i) => ({ row, view: shown[i] }));
}

/** Deletes a resource; answers the operation id, or undefined when there was none. */
export async function deleteResource(
  ctx: NetworkContext,
  t: NetworkType,
  principal: Principal,
  ref: NetworkRef,
): Promise<string | undefined> {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, `${t.type}/delete`, scopeOf(t, ref));
  requireWritable(sub);
  return inTransaction(ctx.db, async (db) => {
    await armStore.lockSubscription(db, sub.subscription_id);
    const row = await networkStore.get(db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
    if (!row) return undefined;
    await t.release({ ctx, db, row }, false);
    await networkStore.markDeleted(db, row.id, ctx.arm.clock.now());
    return recordOperation(
      ctx.resources,
      asResourcesDb(db),
      sub.subscription_id,
      row.id,
      row.location,
      `${t.type}/delete`,
    );
  });
}

// ---- children kept inline ------------------------------------------------------------------------

type Child = { name: string; properties: Json };

const childrenOf = (row: NetworkResourcesTable | undefined, collection: string): Child[] =>
  ((row?.properties[collection] as Child[] | undefined) ?? []).map((c) => ({ name: c.name, properties: c.properties }));

const childView = (view: Json, collection: string, name: string) =>
  ((objectAt(view.properties, 'properties')[collection] as Json[] | undefined) ?? []).find(
    (c) => String(c.name).toLowerCase() === name.toLowerCase(),
  );

function childNotFound(t: NetworkType, ref: NetworkRef, name: string) {
  return armErrors.resourceNotFound(`${t.type}/${t.children}`, `${ref.name}/${name}`, ref.resourceGroup);
}

/** Creates or replaces one child by rewriting its parent (which must exist). */
export async function putChild(
  ctx: NetworkContext,
  t: NetworkType,
  principal: Principal,
  ref: NetworkRef,
  name: string,
  properties: unknown,
) {
  checkName(name);
  let created = false;
  const result = await write(
    ctx,
    t,
    principal,
    ref,
    { name: `${t.type}/${t.children}/write`, scope: scopeOf(t, ref, name) },
    (parent) => {
      if (!parent) throw armErrors.resourceNotFound(t.type, ref.name, ref.resourceGroup);
      const children = childrenOf(parent, t.children);
      const at = children.findIndex((c) => c.name.toLowerCase() === name.toLowerCase());
      created = at < 0;
      const next = { name: at < 0 ? name : children[at].name, properties: objectAt(properties, 'properties') };
      if (at < 0) children.push(next);
      else children[at] = next;
      return { location: parent.location, properties: { ...parent.properties, [t.children]: children } };
    },
  );
  return { ...result, created, view: childView(result.view, t.children, name) ?? {} };
}

export async function getChild(
  ctx: NetworkContext,
  t: NetworkType,
  principal: Principal,
  ref: NetworkRef,
  name: string,
) {
  const [view] = await views(ctx.db, t, [await readable(ctx, t, principal, ref, { name })]);
  const child = childView(view, t.children, name);
  if (!child) throw childNotFound(t, ref, name);
  return child;
}

/** A children list's order, over what `listChildren` answers: each child's key with its view. */
export const LISTED_CHILD_ORDER = overListed(CHILD_ORDER);

export async function listChildren(
  ctx: NetworkContext,
  t: NetworkType,
  principal: Principal,
  ref: NetworkRef,
  cursor: Cursor,
) {
  const row = await readable(ctx, t, principal, ref, {});
  const keys = await networkStore.childPage(ctx.db, childrenOf(row, t.children), cursor);
  const [view] = await views(ctx.db, t, [row]);
  // Both from the one row read: every key's child is in its view.
  return keys.map((key) => ({ row: key, view: childView(view, t.children, key.name_key)! }));
}

/** Deletes one child by rewriting its parent; answers the operation id, or undefined when there was none. */
export async function deleteChild(
  ctx: NetworkContext,
  t: NetworkType,
  principal: Principal,
  ref: NetworkRef,
  name: string,
): Promise<string | undefined> {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, `${t.type}/${t.children}/delete`, scopeOf(t, ref, name));
  const parent = await networkStore.get(ctx.db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
  if (!childrenOf(parent, t.children).some((c) => c.name.toLowerCase() === name.toLowerCase())) return undefined;
  let gone = false;
  const { operationId } = await write(
    ctx,
    t,
    principal,
    ref,
    { name: `${t.type}/${t.children}/delete`, scope: scopeOf(t, ref, name) },
    (current) => {
      if (!current) throw armErrors.resourceNotFound(t.type, ref.name, ref.resourceGroup);
      const children = childrenOf(current, t.children);
      const kept = children.filter((c) => c.name.toLowerCase() !== name.toLowerCase());
      gone = kept.length < children.length;
      return { location: current.location, properties: { ...current.properties, [t.children]: kept } };
    },
  );
  return gone ? operationId : undefined;
}

// ---- the resource group, the generic list --------------------------------------------------------

/** Deletes every network resource of a resource group (when the group goes), in its transaction. */
export async function deleteNetworkOfGroup(
  ctx: NetworkContext,
  types: readonly NetworkType[],
  db: NetworkDb,
  subscriptionId: string,
  resourceGroup: string,
): Promise<void> {
  await armStore.lockSubscription(db, subscriptionId);
  const now = ctx.arm.clock.now();
  for (const row of await networkStore.liveInGroup(db, subscriptionId, resourceGroup)) {
    const t = types.find((x) => x.type.toLowerCase() === row.type_key);
    await t?.release({ ctx, db, row }, true);
    await networkStore.deleteReferencesTo(db, row.id);
    await networkStore.markDeleted(db, row.id, now);
  }
}

/** ARM's generic list over the resources domain's and this one's, in one order (group, type, name). */
export function combinedLister(ctx: NetworkContext, resources: ResourceLister): ResourceLister {
  // Each side's page after the same key, merged: the first limit + 1 of both are the page's.
  const key = (r: { id: string; type: string; name: string }) => ANY_TYPE_ORDER.keyOf(r).join('\u0000');
  return async (subscriptionId, resourceGroup, filter, cursor) => {
    const [theirs, ours] = await Promise.all([
      resources(subscriptionId, resourceGroup, filter, cursor),
      networkStore.listAnyType(
        ctx.db,
        { subscriptionId, resourceGroup, type: filter.resourceType, name: filter.name, location: filter.location },
        cursor,
      ),
    ]);
    return [...theirs, ...ours.map(genericNetworkView)]
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
      .slice(0, cursor.limit + 1);
  };
}
