import {
  authorize,
  inTransaction,
  namedRowIdentity,
  requireSubscription,
  requireWritable,
  type ArmContext,
} from '../../arm/service.ts';
import { armStore } from '../../arm/store.ts';
import type { SubscriptionsTable } from '../../arm/tables.ts';
import { ArmError, armErrors } from '../../core/errors.ts';
import { newGuid } from '../../core/ids.ts';
import { parseResourceId, resourceTypeOf, ROOT_SCOPE } from '../../core/arm-id.ts';
import { HOUR_MS, startOfHour } from '../../core/clock.ts';
import type { Principal } from '../../core/principal.ts';
import type { OffersContext } from '../offers/context.ts';
import { limitsOf } from '../offers/offers.ts';
import { findSize, resolveImage } from './catalog.ts';
import { publicIpRates, storageRates, vmRates, type MeterRates, type PowerState } from './metering.ts';
import { resourcesStore, type ResourcesDb } from './store.ts';
import type { ResourcesTable } from './tables.ts';
import { genericResourceView } from './views.ts';
import type { ResourceLister } from '../../arm/providers.ts';

// Tenant resources: virtual machines, storage accounts, public IP addresses. Every change that
// alters what a resource meters writes a new metering interval at the (simulated) time it happens.

export interface ResourcesContext {
  arm: ArmContext;
  db: ResourcesDb;
  offers: OffersContext;
}

export const resourceErrors = {
  quotaExceeded: (what: string, limit: number, current: number, requested: number) =>
    new ArmError(
      409,
      'OperationNotAllowed',
      `Operation results in exceeding quota limits of ${what}. Maximum allowed: ${limit}, Current in use: ${current}, Additional requested: ${requested}.`,
    ),
  notRegistered: (namespace: string) =>
    new ArmError(
      409,
      'MissingSubscriptionRegistration',
      `The subscription is not registered to use namespace '${namespace}': its offer includes no quota for this service.`,
    ),
  invalidLocation: (location: string, allowed: string) =>
    new ArmError(
      400,
      'LocationNotAvailableForResourceType',
      `The provided location '${location}' is not available for this resource type. List of available regions for the resource type is '${allowed}'.`,
      'location',
    ),
  propertyChange: (property: string) =>
    new ArmError(409, 'PropertyChangeNotAllowed', `Changing property '${property}' is not allowed.`, property),
  invalidParameter: (message: string, target: string) => new ArmError(400, 'InvalidParameter', message, target),
  storageNameTaken: (name: string) =>
    new ArmError(409, 'StorageAccountAlreadyTaken', `The storage account named ${name} is already taken.`, 'name'),
  storageNameInvalid: (name: string) =>
    new ArmError(
      400,
      'AccountNameInvalid',
      `${name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.`,
      'name',
    ),
  notFound: (type: string, name: string, group: string) => armErrors.resourceNotFound(type, name, group),
};

export interface ResourceRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export interface ResourceType {
  type: string;
  namespace: string;
  quotaProvider: string;
  /** The stored properties, sku and kind of a new or changed resource, from its request body. */
  accept(
    body: any,
    existing: ResourcesTable | undefined,
    ctx: ResourcesContext,
  ): Promise<{ properties: Record<string, any>; sku: Record<string, any> | null; kind: string | null }>;
  /** What it meters in a state. */
  rates(r: Pick<ResourcesTable, 'properties' | 'sku' | 'kind'>): MeterRates;
  /** Name rules of the type, beyond ARM's (a storage account's name is unique on the deployment). */
  validateName?(name: string, db: ResourcesDb, existing: ResourcesTable | undefined): Promise<void>;
  /** Quota checks before a new or changed resource is written. */
  checkQuota(
    limits: Record<string, number>,
    live: ResourcesTable[],
    next: Pick<ResourcesTable, 'properties'>,
    existing: ResourcesTable | undefined,
  ): void;
}

const scopeOf = (t: ResourceType, r: ResourceRef) =>
  `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/${t.type}/${r.name}`;

/** What a resource meters given its subscription: a subscription that is not enabled stops metering. */
export function effectiveRates(
  t: ResourceType,
  r: Pick<ResourcesTable, 'properties' | 'sku' | 'kind'>,
  sub: SubscriptionsTable,
): MeterRates {
  return sub.state === 'Enabled' ? t.rates(r) : {};
}

async function requireGroupOf(ctx: ResourcesContext, sub: SubscriptionsTable, ref: ResourceRef) {
  if (!(await armStore.getResourceGroup(ctx.arm.db, sub.subscription_id, ref.resourceGroup)))
    throw armErrors.resourceGroupNotFound(ref.resourceGroup);
}

function requireLocation(ctx: ResourcesContext, location: unknown): string {
  const allowed = ctx.arm.locations();
  const found =
    typeof location === 'string'
      ? allowed.find((l) => l.toLowerCase() === location.toLowerCase().replaceAll(' ', ''))
      : undefined;
  if (!found) throw resourceErrors.invalidLocation(String(location), allowed.join(','));
  return found;
}

export async function putResource(
  ctx: ResourcesContext,
  t: ResourceType,
  principal: Principal,
  ref: ResourceRef,
  body: any,
) {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, `${t.type}/write`, scopeOf(t, ref));
  requireWritable(sub);
  await requireGroupOf(ctx, sub, ref);
  const location = requireLocation(ctx, body?.location);
  const limits = (await limitsOf(ctx.offers, sub)).get(t.quotaProvider.toLowerCase());
  if (!limits) throw resourceErrors.notRegistered(t.namespace);
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    // Quota checks hold under concurrent writes: one write per subscription at a time.
    await armStore.lockSubscription(db, sub.subscription_id);
    const existing = await resourcesStore.get(db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
    if (existing && existing.location !== location) throw resourceErrors.propertyChange('location');
    await t.validateName?.(ref.name, db, existing);
    const accepted = await t.accept(body, existing, { ...ctx, db });
    const live = (await resourcesStore.liveInSubscription(db, sub.subscription_id)).filter(
      (r) => r.type_key === t.type.toLowerCase(),
    );
    t.checkQuota(limits, live, accepted, existing);
    const row: ResourcesTable = {
      ...namedRowIdentity(existing, sub.subscription_id, ref),
      type: t.type,
      type_key: t.type.toLowerCase(),
      location,
      tags: body?.tags ?? existing?.tags ?? {},
      properties: accepted.properties,
      sku: accepted.sku,
      kind: accepted.kind,
      created_at: existing?.created_at ?? now,
      updated_at: now,
      deleted_at: null,
    };
    if (existing) await resourcesStore.update(db, row);
    else await resourcesStore.insert(db, row);
    await resourcesStore.changeRates(
      db,
      row.id,
      sub.subscription_id,
      now,
      effectiveRates(t, row, sub),
      existing ? 'updated' : 'created',
      now,
    );
    const operationId = await recordOperation(ctx, db, sub.subscription_id, row.id, location, `${t.type}/write`);
    return { resource: row, created: !existing, operationId };
  });
}

async function recordOperation(
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
  offset: number,
  limit: number,
) {
  const sub = await requireSubscription(ctx.arm, subscriptionId);
  const scope =
    resourceGroup === undefined
      ? `/subscriptions/${subscriptionId}`
      : `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
  await authorize(ctx.arm, principal, `${t.type}/read`, scope);
  if (resourceGroup !== undefined) await requireGroupOf(ctx, sub, { subscriptionId, resourceGroup, name: '' });
  return resourcesStore.list(ctx.db, sub.subscription_id, t.type, resourceGroup, offset, limit);
}

/** What the resources domain publishes for ARM's generic resource list (the caller's rights are checked by the route). */
export function resourceLister(ctx: ResourcesContext): ResourceLister {
  return async (subscriptionId, resourceGroup, filter, offset, limit) =>
    (await resourcesStore.listAnyType(ctx.db, subscriptionId, resourceGroup, filter, offset, limit)).map(
      genericResourceView,
    );
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
    const row = await resourcesStore.get(db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
    if (!row) return undefined;
    await resourcesStore.changeRates(db, row.id, sub.subscription_id, now, {}, 'deleted', now);
    await resourcesStore.markDeleted(db, row.id, now);
    return recordOperation(ctx, db, sub.subscription_id, row.id, row.location, `${t.type}/delete`);
  });
}

/** Deletes every resource of a resource group (when the group goes). */
export async function deleteResourcesOfGroup(
  ctx: ResourcesContext,
  db: ResourcesDb,
  subscriptionId: string,
  resourceGroup: string,
): Promise<void> {
  const now = ctx.arm.clock.now();
  for (const row of await resourcesStore.liveInGroup(db, subscriptionId, resourceGroup)) {
    await resourcesStore.changeRates(db, row.id, subscriptionId, now, {}, 'deleted with its resource group', now);
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
      if (!t) continue;
      await resourcesStore.changeRates(
        db,
        row.id,
        subscriptionId,
        now,
        effectiveRates(t, row, sub),
        `subscription ${sub.state}`,
        now,
      );
    }
  });
}

// ---- virtual machines ----------------------------------------------------------------------------

export type VmAction = 'start' | 'powerOff' | 'deallocate' | 'restart';

const POWER_AFTER: Record<VmAction, PowerState> = {
  start: 'running',
  powerOff: 'stopped',
  deallocate: 'deallocated',
  restart: 'running',
};

/**
 * Changes a live resource's properties (a power action, a capacity report): what it meters follows
 * from now on. The quota is checked when `quotaApplies` says the change can use more.
 */
async function changeResource(
  ctx: ResourcesContext,
  t: ResourceType,
  principal: Principal,
  ref: ResourceRef,
  action: string,
  reason: string,
  change: (row: ResourcesTable) => Record<string, any>,
  quotaApplies: (row: ResourcesTable, next: ResourcesTable) => boolean,
  /** The right the change needs, when it is not `action` on the resource itself. */
  right: { action: string; scope: string } = { action, scope: scopeOf(t, ref) },
): Promise<{ resource: ResourcesTable; operationId: string }> {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, right.action, right.scope);
  requireWritable(sub);
  const limits = (await limitsOf(ctx.offers, sub)).get(t.quotaProvider.toLowerCase()) ?? {};
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    await armStore.lockSubscription(db, sub.subscription_id);
    const row = await resourcesStore.get(db, sub.subscription_id, ref.resourceGroup, t.type, ref.name);
    if (!row) throw resourceErrors.notFound(t.type, ref.name, ref.resourceGroup);
    const next: ResourcesTable = { ...row, properties: change(row), updated_at: now };
    if (quotaApplies(row, next)) {
      const live = (await resourcesStore.liveInSubscription(db, sub.subscription_id)).filter(
        (r) => r.type_key === t.type.toLowerCase(),
      );
      t.checkQuota(limits, live, next, row);
    }
    await resourcesStore.update(db, next);
    await resourcesStore.changeRates(db, row.id, sub.subscription_id, now, effectiveRates(t, next, sub), reason, now);
    return {
      resource: next,
      operationId: await recordOperation(ctx, db, sub.subscription_id, row.id, row.location, action),
    };
  });
}

export async function vmAction(
  ctx: ResourcesContext,
  t: ResourceType,
  principal: Principal,
  ref: ResourceRef,
  action: VmAction,
): Promise<string> {
  const { operationId } = await changeResource(
    ctx,
    t,
    principal,
    ref,
    `${t.type}/${action}/action`,
    action,
    (row) => ({ ...row.properties, powerState: POWER_AFTER[action] }),
    // Starting a deallocated VM takes cores again.
    (row, next) => row.properties.powerState === 'deallocated' && next.properties.powerState !== 'deallocated',
  );
  return operationId;
}

export function vmType(): ResourceType {
  const allocatedCores = (rows: Pick<ResourcesTable, 'properties'>[]) =>
    rows
      .filter((r) => r.properties.powerState !== 'deallocated')
      .reduce((n, r) => n + (findSize(r.properties.hardwareProfile.vmSize)?.numberOfCores ?? 0), 0);
  return {
    type: 'Microsoft.Compute/virtualMachines',
    namespace: 'Microsoft.Compute',
    quotaProvider: 'Microsoft.Compute.Admin',
    async accept(body, existing) {
      const p = body?.properties ?? {};
      const sizeName = p.hardwareProfile?.vmSize;
      if (typeof sizeName !== 'string')
        throw armErrors.invalidRequestContent(
          "The request content was invalid: 'properties.hardwareProfile.vmSize' is required.",
          'properties.hardwareProfile.vmSize',
        );
      const size = findSize(sizeName);
      if (!size)
        throw resourceErrors.invalidParameter(
          `The requested VM size ${sizeName} is not available in this location.`,
          'properties.hardwareProfile.vmSize',
        );
      if (existing) {
        const given = p.storageProfile?.imageReference;
        const had = existing.properties.storageProfile.imageReference;
        if (
          given &&
          ['publisher', 'offer', 'sku'].some(
            (k) => given[k] !== undefined && String(given[k]).toLowerCase() !== String(had[k]).toLowerCase(),
          )
        ) {
          throw resourceErrors.propertyChange('properties.storageProfile.imageReference');
        }
        return {
          properties: { ...existing.properties, hardwareProfile: { vmSize: size.name } },
          sku: null,
          kind: null,
        };
      }
      const ref = p.storageProfile?.imageReference;
      if (!ref)
        throw armErrors.invalidRequestContent(
          "The request content was invalid: 'properties.storageProfile.imageReference' is required.",
          'properties.storageProfile.imageReference',
        );
      const { image, version } = resolveImage(ref);
      const osType = p.storageProfile?.osDisk?.osType ?? image.osType;
      if (osType !== image.osType)
        throw resourceErrors.invalidParameter(
          `The OS type '${osType}' does not match the image, which is ${image.osType}.`,
          'properties.storageProfile.osDisk.osType',
        );
      const os = p.osProfile ?? {};
      if (os.adminPassword !== undefined && (typeof os.adminPassword !== 'string' || os.adminPassword.length < 8)) {
        throw resourceErrors.invalidParameter(
          'The supplied password must be between 8-123 characters long and must satisfy at least 3 of password complexity requirements.',
          'properties.osProfile.adminPassword',
        );
      }
      return {
        properties: {
          vmId: newGuid(),
          hardwareProfile: { vmSize: size.name },
          storageProfile: {
            imageReference: {
              publisher: image.publisher,
              offer: image.offer,
              sku: image.sku,
              version: ref.version ?? 'latest',
              exactVersion: version,
            },
            osDisk: {
              osType,
              name: p.storageProfile?.osDisk?.name ?? `${body?.name ?? 'vm'}_OsDisk`,
              createOption: 'FromImage',
              caching: 'ReadWrite',
              diskSizeGB: 127,
            },
            dataDisks: p.storageProfile?.dataDisks ?? [],
          },
          // The password is never kept.
          osProfile:
            os.computerName || os.adminUsername
              ? {
                  computerName: os.computerName,
                  adminUsername: os.adminUsername,
                  ...(osType === 'Windows'
                    ? {
                        windowsConfiguration: os.windowsConfiguration ?? {
                          provisionVMAgent: true,
                          enableAutomaticUpdates: true,
                        },
                      }
                    : { linuxConfiguration: os.linuxConfiguration ?? { disablePasswordAuthentication: false } }),
                }
              : undefined,
          ...(p.networkProfile ? { networkProfile: p.networkProfile } : {}),
          powerState: 'running',
          provisioningState: 'Succeeded',
        },
        sku: null,
        kind: null,
      };
    },
    rates(r) {
      const size = findSize(r.properties.hardwareProfile.vmSize)!;
      return vmRates(size, r.properties.storageProfile.osDisk.osType, r.properties.powerState);
    },
    checkQuota(limits, live, next, existing) {
      const others = live.filter((r) => r.id !== existing?.id);
      if (!existing && limits.virtualMachineCount !== undefined && others.length + 1 > limits.virtualMachineCount) {
        throw resourceErrors.quotaExceeded('VirtualMachines', limits.virtualMachineCount, others.length, 1);
      }
      const cores = allocatedCores([next]);
      const inUse = allocatedCores(others);
      if (
        limits.coresLimit !== undefined &&
        inUse + cores > limits.coresLimit &&
        cores > (existing ? allocatedCores([existing]) : 0)
      ) {
        throw resourceErrors.quotaExceeded('Core', limits.coresLimit, inUse, cores);
      }
    },
  };
}

// ---- storage accounts ----------------------------------------------------------------------------

export function storageAccountType(): ResourceType {
  return {
    type: 'Microsoft.Storage/storageAccounts',
    namespace: 'Microsoft.Storage',
    quotaProvider: 'Microsoft.Storage.Admin',
    async accept(body, existing) {
      const sku = body?.sku?.name ?? existing?.sku?.name;
      if (!['Standard_LRS', 'Premium_LRS'].includes(sku))
        throw resourceErrors.invalidParameter(
          `The sku '${sku}' is not supported; use Standard_LRS or Premium_LRS.`,
          'sku.name',
        );
      const kind = body?.kind ?? existing?.kind ?? 'Storage';
      if (!['Storage', 'StorageV2', 'BlobStorage'].includes(kind))
        throw resourceErrors.invalidParameter(`The kind '${kind}' is not supported.`, 'kind');
      return {
        properties: existing?.properties ?? {
          provisioningState: 'Succeeded',
          usage: { blobGb: 0, tableGb: 0, queueGb: 0 },
        },
        sku: { name: sku, tier: sku.startsWith('Premium') ? 'Premium' : 'Standard' },
        kind,
      };
    },
    async validateName(name, db, existing) {
      if (!/^[a-z0-9]{3,24}$/.test(name)) throw resourceErrors.storageNameInvalid(name);
      if (!existing && (await resourcesStore.nameTaken(db, this.type, name)))
        throw resourceErrors.storageNameTaken(name);
    },
    rates: (r) => storageRates(r.properties.usage),
    checkQuota(limits, live, next, existing) {
      if (
        !existing &&
        limits.numberOfStorageAccounts !== undefined &&
        live.length + 1 > limits.numberOfStorageAccounts
      ) {
        throw resourceErrors.quotaExceeded('StorageAccounts', limits.numberOfStorageAccounts, live.length, 1);
      }
      const gb = (r: Pick<ResourcesTable, 'properties'>) =>
        r.properties.usage.blobGb + r.properties.usage.tableGb + r.properties.usage.queueGb;
      const others = live.filter((r) => r.id !== existing?.id).reduce((n, r) => n + gb(r), 0);
      if (
        limits.capacityInGb !== undefined &&
        others + gb(next) > limits.capacityInGb &&
        gb(next) > (existing ? gb(existing) : 0)
      ) {
        throw resourceErrors.quotaExceeded('StorageCapacityInGb', limits.capacityInGb, others, gb(next));
      }
    },
  };
}

/**
 * Data written to (or removed from) a storage account, as the deployment's storage service
 * reports it: its used capacity, in GB per service, from now on.
 */
export async function setStorageUsage(
  ctx: ResourcesContext,
  t: ResourceType,
  principal: Principal,
  ref: ResourceRef,
  usage: { blobGb?: number; tableGb?: number; queueGb?: number },
) {
  const { resource } = await changeResource(
    ctx,
    t,
    principal,
    ref,
    `${t.type}/write`,
    'capacity changed',
    (row) => ({ ...row.properties, usage: { ...row.properties.usage, ...usage } }),
    () => true,
    // The storage service (the operator's side) reports what is stored: never the billed tenant.
    { action: 'Microsoft.Storage.Admin/storageAccounts/usedCapacity/action', scope: ROOT_SCOPE },
  );
  return resource;
}

// ---- public IP addresses -------------------------------------------------------------------------

export function publicIpType(): ResourceType {
  return {
    type: 'Microsoft.Network/publicIPAddresses',
    namespace: 'Microsoft.Network',
    quotaProvider: 'Microsoft.Network.Admin',
    async accept(body, existing) {
      const p = body?.properties ?? {};
      const method = p.publicIPAllocationMethod ?? existing?.properties.publicIPAllocationMethod ?? 'Dynamic';
      if (!['Static', 'Dynamic'].includes(method))
        throw resourceErrors.invalidParameter(
          `'${method}' is not an allocation method; use Static or Dynamic.`,
          'properties.publicIPAllocationMethod',
        );
      const octets = existing?.properties.ipAddress ?? `192.0.2.${Math.floor(Math.random() * 250) + 2}`;
      return {
        properties: {
          resourceGuid: existing?.properties.resourceGuid ?? newGuid(),
          provisioningState: 'Succeeded',
          publicIPAddressVersion: p.publicIPAddressVersion ?? 'IPv4',
          publicIPAllocationMethod: method,
          idleTimeoutInMinutes: p.idleTimeoutInMinutes ?? 4,
          ipAddress: octets,
        },
        sku: body?.sku ?? existing?.sku ?? { name: 'Basic' },
        kind: null,
      };
    },
    rates: (r) => publicIpRates(r.properties.publicIPAllocationMethod),
    checkQuota(limits, live, _next, existing) {
      if (
        !existing &&
        limits.maxPublicIpsPerSubscription !== undefined &&
        live.length + 1 > limits.maxPublicIpsPerSubscription
      ) {
        throw resourceErrors.quotaExceeded('PublicIPAddresses', limits.maxPublicIpsPerSubscription, live.length, 1);
      }
    },
  };
}

export const RESOURCE_TYPES: readonly ResourceType[] = [vmType(), storageAccountType(), publicIpType()];

/**
 * The deployment's fabric reports late that a VM changed power state at `at` (for example, a host
 * that reports a stop after the hour closed). The VM's history changes from `at` until its next
 * recorded change; the hours already closed are closed again, which writes correcting records.
 */
export async function reportLatePowerState(
  ctx: ResourcesContext,
  principal: Principal,
  providerSubscriptionId: string,
  input: { resourceId: string; at: Date; powerState: PowerState },
) {
  const sub = await requireSubscription(ctx.arm, providerSubscriptionId);
  await authorize(
    ctx.arm,
    principal,
    'Stackledger.System/lateStateReports/action',
    `/subscriptions/${sub.subscription_id}`,
  );
  if (sub.subscription_id !== ctx.offers.providerSubscriptionId()) {
    throw armErrors.badRequest(
      'NotDefaultProviderSubscription',
      `Late state reports go to the default provider subscription '${ctx.offers.providerSubscriptionId()}'.`,
    );
  }
  const now = ctx.arm.clock.now();
  if (input.at.getTime() > now.getTime())
    throw armErrors.badRequest(
      'InvalidReportTime',
      `The report time ${input.at.toISOString()} is in the future.`,
      'at',
    );
  const id = parseResourceId(input.resourceId);
  const t = RESOURCE_TYPES[0];
  if (!id || id.resourceGroup === undefined || resourceTypeOf(id).toLowerCase() !== t.type.toLowerCase()) {
    throw armErrors.badRequest(
      'InvalidResourceId',
      `'${input.resourceId}' is not the id of a virtual machine.`,
      'resourceId',
    );
  }
  return inTransaction(ctx.db, async (db) => {
    // Not while an hour closes: the history and the hours it reopens are seen together.
    await resourcesStore.lockClosing(db);
    const row = await resourcesStore.getIncludingDeleted(
      db,
      id.subscriptionId.toLowerCase(),
      id.resourceGroup!,
      t.type,
      id.resources[0].name,
    );
    if (!row) throw resourceErrors.notFound(t.type, id.resources[0].name, id.resourceGroup!);
    const owner = (await armStore.getSubscription(ctx.arm.db, row.subscription_id))!;
    const changed = { ...row, properties: { ...row.properties, powerState: input.powerState } };
    const wasOpen = await resourcesStore.splitAt(
      db,
      row.id,
      row.subscription_id,
      input.at,
      effectiveRates(t, changed, owner),
      `late report: ${input.powerState}`,
      now,
    );
    if (wasOpen === undefined)
      throw armErrors.conflict(
        'NoStateAtTime',
        `The virtual machine had no metered state at ${input.at.toISOString()}.`,
      );
    if (wasOpen && !row.deleted_at) await resourcesStore.update(db, { ...changed, updated_at: now });
    const closedUntil = (await resourcesStore.closedUntil(db)) ?? now;
    const hours: Date[] = [];
    for (let h = startOfHour(input.at).getTime(); h < closedUntil.getTime(); h += HOUR_MS) hours.push(new Date(h));
    await resourcesStore.markDirty(db, hours);
    return { resource: row, reopenedHours: hours.length };
  });
}
