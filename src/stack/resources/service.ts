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
import type { SubscriptionsTable } from '../../arm/tables.ts';
import type { ResourceLister } from '../../arm/providers.ts';
import { parseResourceId, resourceTypeOf } from '../../core/arm-id.ts';
import { newGuid } from '../../core/ids.ts';
import type { Principal } from '../../core/principal.ts';
import type { Cursor } from '../../core/paging.ts';
import type { Sealer } from '../../core/sealed.ts';
import { recordRemoval, recordStateChange } from '../metering/service.ts';
import type { OffersContext } from '../offers/context.ts';
import { limitsOf } from '../offers/offers.ts';
import type { ResourceBody, ResourceType, WriteScope } from './resource-type.ts';
import { locationOf, resourceErrors } from './rules.ts';
import { resourcesStore, type ResourcesDb } from './store.ts';
import type { ResourcesTable } from './tables.ts';
import { genericResourceView } from './views.ts';

// The lifecycle every tenant resource type shares: create or update, read, list, delete, change
// (a power action, a capacity report), and the resources of a group or subscription that goes or
// changes state. Each change tells metering, in its own transaction, what the resource meters
// from then on.

export interface ResourcesContext {
  arm: ArmContext;
  db: ResourcesDb;
  offers: OffersContext;
  /** What another domain says about a resource's links (the network: a VM's NICs, a public IP's users). */
  links?: ResourceLinks;
  /** Seals the secrets a resource hands out again (a storage account's keys). */
  sealer: Sealer;
}

/** Another domain's say in writes and deletes, in their transaction (wired by the stack). */
export interface ResourceLinks {
  /** Checks and records what the row refers to; answers the properties to keep. */
  beforeWrite(db: ResourcesDb, row: ResourcesTable): Promise<Record<string, unknown>>;
  /** Refuses while another resource uses the row (unless its group goes too); lets go of what it used. */
  beforeDelete(db: ResourcesDb, row: ResourcesTable, withGroup: boolean): Promise<void>;
}

export interface ResourceRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export const scopeOf = (t: ResourceType, r: ResourceRef) =>
  `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/${t.type}/${r.name}`;

/** Tells metering what the resource meters from `at` on (its subscription's state decides the rest). */
function meteringChanged(
  db: ResourcesDb,
  t: ResourceType,
  row: ResourcesTable,
  sub: SubscriptionsTable,
  at: Date,
  reason: string,
) {
  return recordStateChange(db, {
    resourceId: row.id,
    subscriptionId: sub.subscription_id,
    subscriptionState: sub.state,
    rates: t.meterState(row),
    at,
    reason,
  });
}

/** Tells metering the resource meters nothing from `at` on: it is gone. */
const meteringEnded = (db: ResourcesDb, row: ResourcesTable, at: Date, reason: string) =>
  recordRemoval(db, { resourceId: row.id, subscriptionId: row.subscription_id, at, reason });

/**
 * What the subscription's other live resources count toward its quotas: its counters (maintained
 * with every write, read under the subscription's lock) less what `existing` counted.
 */
async function othersUsage(db: ResourcesDb, t: ResourceType, subscriptionId: string, existing?: ResourcesTable) {
  const usage = await resourcesStore.quotaUsage(db, subscriptionId);
  if (existing)
    for (const [counter, n] of Object.entries(t.quotaUsage(existing))) usage[counter] = (usage[counter] ?? 0) - n;
  return usage;
}

export async function putResource(
  ctx: ResourcesContext,
  t: ResourceType,
  principal: Principal,
  ref: ResourceRef,
  body: ResourceBody,
) {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, `${t.type}/write`, scopeOf(t, ref));
  requireWritable(sub);
  await requireResourceGroup(ctx.arm, sub.subscription_id, ref.resourceGroup);
  const location = locationOf(body?.location, ctx.arm.locations());
  const limits = await limitsOf(ctx.offers, sub);
  if (!limits.has(t.quotaProvider.toLowerCase())) throw resourceErrors.notRegistered(t.namespace);
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    // Quota checks hold under concurrent writes: one write per subscription at a time.
    await armStore.lockSubscription(db, sub.subscription_id);
    const { resource, created } = await writeResource(ctx, db, sub, limits, t, ref, { ...body, location }, now);
    const operationId = await recordOperation(ctx, db, sub.subscription_id, resource.id, location, `${t.type}/write`);
    return { resource, created, operationId };
  });
}

type Limits = Map<string, Record<string, number>>;

/** Creates or updates one resource in the caller's transaction: its rules, quota, hooks, row and metering. */
async function writeResource(
  ctx: ResourcesContext,
  db: ResourcesDb,
  sub: SubscriptionsTable,
  limits: Limits,
  t: ResourceType,
  ref: ResourceRef,
  body: ResourceBody & { location: string },
  now: Date,
): Promise<{ resource: ResourcesTable; created: boolean }> {
  const typeLimits = limits.get(t.quotaProvider.toLowerCase());
  if (!typeLimits) throw resourceErrors.notRegistered(t.namespace);
  const existing = await resourcesStore.get(db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
  if (existing && existing.location !== body.location) throw resourceErrors.propertyChange('location');
  await t.validateName?.(ref.name, db, existing);
  let accepted = await t.accept(body, existing, db);
  t.checkQuota(typeLimits, await othersUsage(db, t, sub.subscription_id, existing), accepted, existing);
  if (t.settle) {
    const scope = writeScope(ctx, db, sub, limits, t, ref, body.location, now);
    accepted = await t.settle(accepted, existing, body, scope);
  }
  const row: ResourcesTable = {
    ...namedRowIdentity(existing, sub.subscription_id, ref),
    type: t.type,
    type_key: t.type.toLowerCase(),
    location: body.location,
    tags: body?.tags ?? existing?.tags ?? {},
    properties: accepted.properties,
    sku: accepted.sku,
    kind: accepted.kind,
    created_at: existing?.created_at ?? now,
    updated_at: now,
    deleted_at: null,
  };
  if (ctx.links) row.properties = await ctx.links.beforeWrite(db, row);
  if (existing) await resourcesStore.update(db, row, t.quotaUsage(row));
  else await resourcesStore.insert(db, row, t.quotaUsage(row));
  await meteringChanged(db, t, row, sub, now, existing ? 'updated' : 'created');
  return { resource: row, created: !existing };
}

/** What a type's hooks may do to the subscription's resources, in the transaction `db`. */
function writeScope(
  ctx: ResourcesContext,
  db: ResourcesDb,
  sub: SubscriptionsTable,
  limits: Limits | undefined,
  self: ResourceType,
  ref: ResourceRef,
  location: string,
  now: Date,
  groupGoing?: string,
): WriteScope {
  return {
    selfId: scopeOf(self, ref),
    ref,
    location,
    sealer: ctx.sealer,
    groupGoing,
    async find(t, id) {
      const parsed = parseResourceId(id);
      if (
        !parsed ||
        parsed.resourceGroup === undefined ||
        parsed.subscriptionId.toLowerCase() !== sub.subscription_id ||
        resourceTypeOf(parsed).toLowerCase() !== t.type.toLowerCase()
      )
        return undefined;
      return resourcesStore.get(db, sub.subscription_id, parsed.resourceGroup, t.type, parsed.resources[0].name);
    },
    async create(t, name, body) {
      const all = limits ?? (await limitsOf(ctx.offers, sub));
      const target = { subscriptionId: ref.subscriptionId, resourceGroup: ref.resourceGroup, name };
      return (await writeResource(ctx, db, sub, all, t, target, { ...body, location }, now)).resource;
    },
    async change(t, row, properties, reason) {
      const next: ResourcesTable = { ...row, properties, updated_at: now };
      await resourcesStore.update(db, next, t.quotaUsage(next));
      await meteringChanged(db, t, next, sub, now, reason);
      return next;
    },
    async remove(row, reason) {
      await meteringEnded(db, row, now, reason);
      await resourcesStore.markDeleted(db, row.id, now);
    },
  };
}

export async function recordOperation(
  ctx: ResourcesContext,
  db: ResourcesDb,
  subscriptionId: string,
  resourceId: string | null,
  location: string,
  name: string,
): Promise<string> {
  const id = newGuid();
  const now = ctx.arm.clock.now();
  // Operations complete at once, without the clock moving; the status endpoint says so.
  await resourcesStore.insertOperation(db, {
    id,
    subscription_id: subscriptionId,
    resource_id: resourceId,
    location,
    name,
    status: 'Succeeded',
    started_at: now,
    ended_at: now,
    error: null,
  });
  return id;
}

export async function getResource(
  ctx: ResourcesContext,
  t: ResourceType,
  principal: Principal,
  ref: ResourceRef,
): Promise<ResourcesTable> {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, `${t.type}/read`, scopeOf(t, ref));
  const row = await resourcesStore.get(ctx.db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
  if (!row) throw resourceErrors.notFound(t.type, ref.name, ref.resourceGroup);
  return row;
}

export async function listResources(
  ctx: ResourcesContext,
  t: ResourceType,
  principal: Principal,
  subscriptionId: string,
  resourceGroup: string | undefined,
  cursor: Cursor,
) {
  const sub = await authorizeListing(ctx.arm, principal, `${t.type}/read`, subscriptionId, resourceGroup);
  return resourcesStore.list(ctx.db, sub.subscription_id, t.type, resourceGroup, cursor);
}

/** What the resources domain publishes for ARM's generic resource list (the caller's rights are checked by the route). */
export function resourceLister(ctx: ResourcesContext): ResourceLister {
  return async (subscriptionId, resourceGroup, filter, cursor) =>
    (
      await resourcesStore.listAnyType(
        ctx.db,
        { subscriptionId, resourceGroup, type: filter.resourceType, name: filter.name, location: filter.location },
        cursor,
      )
    ).map(genericResourceView);
}

/** Deletes a resource: it stops metering now. Answers the operation id, or undefined when there was none. */
export async function deleteResource(
  ctx: ResourcesContext,
  t: ResourceType,
  principal: Principal,
  ref: ResourceRef,
): Promise<string | undefined> {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, `${t.type}/delete`, scopeOf(t, ref));
  requireWritable(sub);
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    await armStore.lockSubscription(db, sub.subscription_id);
    const row = await resourcesStore.get(db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
    if (!row) return undefined;
    await t.release?.(row, writeScope(ctx, db, sub, undefined, t, ref, row.location, now));
    await ctx.links?.beforeDelete(db, row, false);
    await meteringEnded(db, row, now, 'deleted');
    await resourcesStore.markDeleted(db, row.id, now);
    return recordOperation(ctx, db, sub.subscription_id, row.id, row.location, `${t.type}/delete`);
  });
}

/** Deletes every resource of a resource group (when the group goes), each type letting go of what it holds first. */
export async function deleteResourcesOfGroup(
  ctx: ResourcesContext,
  db: ResourcesDb,
  subscriptionId: string,
  resourceGroup: string,
  types: readonly ResourceType[],
): Promise<void> {
  const sub = await armStore.getSubscription(ctx.arm.db, subscriptionId);
  if (!sub) return;
  const now = ctx.arm.clock.now();
  for (const listed of await resourcesStore.liveInGroup(db, subscriptionId, resourceGroup)) {
    // One resource's release may have deleted another of the group (a VM's disk that goes with it).
    const row = await resourcesStore.liveById(db, listed.id);
    if (!row) continue;
    const t = types.find((x) => x.type.toLowerCase() === row.type_key);
    const ref = { subscriptionId, resourceGroup: row.resource_group, name: row.name };
    await ctx.links?.beforeDelete(db, row, true);
    if (t) await t.release?.(row, writeScope(ctx, db, sub, undefined, t, ref, row.location, now, resourceGroup));
    await meteringEnded(db, row, now, 'deleted with its resource group');
    await resourcesStore.markDeleted(db, row.id, now);
  }
}

/** After a subscription's state changed (suspended, enabled, deleted): its resources meter, or stop. */
export async function resyncSubscription(
  ctx: ResourcesContext,
  subscriptionId: string,
  types: readonly ResourceType[],
): Promise<void> {
  const sub = await armStore.getSubscription(ctx.arm.db, subscriptionId);
  if (!sub) return;
  const now = ctx.arm.clock.now();
  await inTransaction(ctx.db, async (db) => {
    for (const row of await resourcesStore.liveInSubscription(db, subscriptionId)) {
      const t = types.find((x) => x.type.toLowerCase() === row.type_key);
      if (t) await meteringChanged(db, t, row, sub, now, `subscription ${sub.state}`);
    }
  });
}

/** A change of a live resource's properties (a power action, a capacity report). */
export interface ResourceChange {
  /** The operation's name, and the right it needs on the resource unless `right` says otherwise. */
  action: string;
  /** Why its metering changes. */
  reason: string;
  properties: (row: ResourcesTable) => ResourcesTable['properties'];
  /** Whether the change can use more than before, so that the quota is checked. */
  quotaApplies: (row: ResourcesTable, next: ResourcesTable) => boolean;
  /** The right the change needs, when it is not `action` on the resource itself. */
  right?: { action: string; scope: string };
}

/** Changes a live resource's properties: what it meters follows from now on. */
export async function changeResource(
  ctx: ResourcesContext,
  t: ResourceType,
  principal: Principal,
  ref: ResourceRef,
  change: ResourceChange,
): Promise<{ resource: ResourcesTable; operationId: string }> {
  const right = change.right ?? { action: change.action, scope: scopeOf(t, ref) };
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, right.action, right.scope);
  requireWritable(sub);
  const limits = (await limitsOf(ctx.offers, sub)).get(t.quotaProvider.toLowerCase()) ?? {};
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    await armStore.lockSubscription(db, sub.subscription_id);
    const row = await resourcesStore.get(db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
    if (!row) throw resourceErrors.notFound(t.type, ref.name, ref.resourceGroup);
    const next: ResourcesTable = { ...row, properties: change.properties(row), updated_at: now };
    if (change.quotaApplies(row, next))
      t.checkQuota(limits, await othersUsage(db, t, sub.subscription_id, row), next, row);
    await resourcesStore.update(db, next, t.quotaUsage(next));
    await meteringChanged(db, t, next, sub, now, change.reason);
    return {
      resource: next,
      operationId: await recordOperation(ctx, db, sub.subscription_id, row.id, row.location, change.action),
    };
  });
}

/** Another domain's links kept in a resource's properties (a public IP's address and user): what it meters and counts stays. */
export async function setLinkedProperties(db: ResourcesDb, id: string, linked: Record<string, unknown>): Promise<void> {
  const row = await resourcesStore.byId(db, id);
  if (!row || row.deleted_at) return;
  await resourcesStore.update(db, { ...row, properties: { ...row.properties, ...linked } }, undefined);
}
