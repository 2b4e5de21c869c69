import { randomBytes } from 'node:crypto';
import { authorize, requireSubscription } from '../../../arm/service.ts';
import { ROOT_SCOPE } from '../../../core/arm-id.ts';
import { ArmError, armError } from '../../../core/errors.ts';
import type { Principal } from '../../../core/principal.ts';
import type { Sealer } from '../../../core/sealed.ts';
import type { MeterRates } from '../../metering/rules.ts';
import { METERS } from '../catalog.ts';
import type { ResourceType } from '../resource-type.ts';
import { resourceErrors } from '../rules.ts';
import { changeResource, scopeOf, type ResourceRef, type ResourcesContext } from '../service.ts';
import { optionalObject, optionalString, storedNumber, storedObject, storedString } from '../stored.ts';
import { resourcesStore } from '../store.ts';
import type { ResourcesTable, StoredProperties } from '../tables.ts';

// Storage accounts (Microsoft.Storage), as the Storage RP answers: a create or update is done
// when answered (200), a delete too (200, or 204 when there was none). Their used capacity,
// reported by the deployment's storage service (the operator's side, never the tenant), is what
// they meter. Their two access keys are secrets handed out again (`listKeys`): kept sealed.

export interface StorageUsage {
  blobGb: number;
  tableGb: number;
  queueGb: number;
}

export function storageRates(u: StorageUsage): MeterRates {
  const rates: MeterRates = {};
  if (u.blobGb > 0) rates[METERS.blockBlobCapacity.id] = u.blobGb;
  if (u.tableGb > 0) rates[METERS.tableCapacity.id] = u.tableGb;
  if (u.queueGb > 0) rates[METERS.queueCapacity.id] = u.queueGb;
  return rates;
}

const SKUS: readonly unknown[] = ['Standard_LRS', 'Premium_LRS'];
const KINDS: readonly unknown[] = ['Storage', 'StorageV2', 'BlobStorage'];

const KEY_NAMES = ['key1', 'key2'] as const;
type KeyName = (typeof KEY_NAMES)[number];

/** What an account's stored properties say that its rules read: its usage and its sealed keys. */
interface StorageAccountProperties {
  usage: StorageUsage;
  /** None on an account from before keys. */
  keys: Partial<Record<KeyName, string>> | undefined;
}

function storageAccountProperties(p: StoredProperties): StorageAccountProperties {
  const usage = storedObject(p.usage, 'usage');
  const keys = optionalObject(p.keys, 'keys');
  return {
    usage: {
      blobGb: storedNumber(usage.blobGb, 'usage.blobGb'),
      tableGb: storedNumber(usage.tableGb, 'usage.tableGb'),
      queueGb: storedNumber(usage.queueGb, 'usage.queueGb'),
    },
    keys: keys && {
      key1: optionalString(keys.key1, 'keys.key1'),
      key2: optionalString(keys.key2, 'keys.key2'),
    },
  };
}

const usedGb = (r: Pick<ResourcesTable, 'properties'>): number => {
  const { usage } = storageAccountProperties(r.properties);
  return usage.blobGb + usage.tableGb + usage.queueGb;
};

/** A key is bound to its account and name: a sealed key copied elsewhere does not open. */
const keyPurpose = (accountId: string, keyName: KeyName) => `storage account key ${accountId.toLowerCase()} ${keyName}`;
/** A new access key, sealed: 64 random bytes in base64, as the Storage RP's. */
const newKey = (sealer: Sealer, accountId: string, keyName: KeyName) =>
  sealer.seal(randomBytes(64).toString('base64'), keyPurpose(accountId, keyName));

export const storageAccounts: ResourceType = {
  type: 'Microsoft.Storage/storageAccounts',
  namespace: 'Microsoft.Storage',
  quotaProvider: 'Microsoft.Storage.Admin',
  apiVersions: ['2016-01-01', '2017-10-01', '2018-02-01', '2019-06-01'],
  answers: { created: 200, deleted: 200 },
  async accept(body, existing) {
    const sku = (body?.sku as { name?: unknown } | undefined)?.name ?? existing?.sku?.name;
    if (!SKUS.includes(sku))
      throw resourceErrors.invalidParameter(
        `The sku '${sku}' is not supported; use Standard_LRS or Premium_LRS.`,
        'sku.name',
      );
    const kind = body?.kind ?? existing?.kind ?? 'Storage';
    if (!KINDS.includes(kind)) throw resourceErrors.invalidParameter(`The kind '${kind}' is not supported.`, 'kind');
    return {
      properties: existing?.properties ?? {
        provisioningState: 'Succeeded',
        usage: { blobGb: 0, tableGb: 0, queueGb: 0 },
      },
      sku: { name: sku, tier: String(sku).startsWith('Premium') ? 'Premium' : 'Standard' },
      kind: String(kind),
    };
  },
  async validateName(name, db, existing) {
    if (!/^[a-z0-9]{3,24}$/.test(name)) throw resourceErrors.storageNameInvalid(name);
    if (!existing && (await resourcesStore.nameTaken(db, storageAccounts.type, name)))
      throw resourceErrors.storageNameTaken(name);
  },
  async settle(accepted, existing, _body, scope) {
    if (existing?.properties.keys) return accepted;
    const keys = Object.fromEntries(KEY_NAMES.map((k) => [k, newKey(scope.sealer, scope.selfId, k)]));
    return { ...accepted, properties: { ...accepted.properties, keys } };
  },
  meterState: (r) => storageRates(storageAccountProperties(r.properties).usage),
  quotaUsage: (r) => ({ storageAccounts: 1, storageGb: usedGb(r) }),
  checkQuota(limits, counted, next, existing) {
    const count = counted.storageAccounts ?? 0;
    if (!existing && limits.numberOfStorageAccounts !== undefined && count + 1 > limits.numberOfStorageAccounts) {
      throw resourceErrors.quotaExceeded('StorageAccounts', limits.numberOfStorageAccounts, count, 1);
    }
    const others = counted.storageGb ?? 0;
    if (
      limits.capacityInGb !== undefined &&
      others + usedGb(next) > limits.capacityInGb &&
      usedGb(next) > (existing ? usedGb(existing) : 0)
    ) {
      throw resourceErrors.quotaExceeded('StorageCapacityInGb', limits.capacityInGb, others, usedGb(next));
    }
  },
  view(r) {
    // The used capacity is the storage service's, not the account's model; the keys are listKeys'.
    const { usage: _u, keys: _k, ...properties } = r.properties;
    const host = (service: string) => `https://${r.name}.${service}.${r.location}.stackledger.local/`;
    return {
      sku: r.sku,
      kind: r.kind,
      properties: {
        ...properties,
        creationTime: r.created_at.toISOString(),
        primaryLocation: r.location,
        statusOfPrimary: 'available',
        primaryEndpoints: { blob: host('blob'), queue: host('queue'), table: host('table') },
      },
    };
  },
};

/**
 * Data written to (or removed from) a storage account, as the deployment's storage service
 * reports it: its used capacity, in GB per service, from now on.
 */
export async function setStorageUsage(
  ctx: ResourcesContext,
  principal: Principal,
  ref: ResourceRef,
  usage: Partial<StorageUsage>,
): Promise<ResourcesTable> {
  const { resource } = await changeResource(ctx, storageAccounts, principal, ref, {
    action: `${storageAccounts.type}/write`,
    reason: 'capacity changed',
    properties: (row) => ({
      ...row.properties,
      usage: { ...storageAccountProperties(row.properties).usage, ...usage },
    }),
    quotaApplies: () => true,
    // The storage service (the operator's side) reports what is stored: never the billed tenant.
    right: { action: 'Microsoft.Storage.Admin/storageAccounts/usedCapacity/action', scope: ROOT_SCOPE },
  });
  return resource;
}

const storageErrors = {
  keyName: () =>
    armError(
      'InvalidValuesForRequestParameters',
      'Values for request parameters are invalid: keyName. Use key1 or key2.',
      'keyName',
    ),
  type: (type: unknown) =>
    armError(
      'InvalidValuesForRequestParameters',
      `Values for request parameters are invalid: type. '${String(type).slice(0, 100)}' is not Microsoft.Storage/storageAccounts.`,
      'type',
    ),
};

/** The account's keys as listKeys answers them: the secret text, opened. */
function keysView(sealer: Sealer, ref: ResourceRef, row: ResourcesTable) {
  const id = scopeOf(storageAccounts, ref);
  return {
    keys: KEY_NAMES.map((keyName) => ({
      keyName,
      value: sealer.open(
        storedString(storageAccountProperties(row.properties).keys?.[keyName], `keys.${keyName}`),
        keyPurpose(id, keyName),
      ),
      permissions: 'FULL',
    })),
  };
}

/** Replaces one key (or, for an account from before keys, makes both): a write, with its own right. */
async function rekey(ctx: ResourcesContext, principal: Principal, ref: ResourceRef, action: string, only?: KeyName) {
  const id = scopeOf(storageAccounts, ref);
  const { resource } = await changeResource(ctx, storageAccounts, principal, ref, {
    action,
    reason: only ? `${only} regenerated` : 'keys made',
    properties: (row) => {
      const had = storageAccountProperties(row.properties).keys;
      return {
        ...row.properties,
        keys: Object.fromEntries(KEY_NAMES.map((k) => [k, (only !== k && had?.[k]) || newKey(ctx.sealer, id, k)])),
      };
    },
    quotaApplies: () => false,
  });
  return keysView(ctx.sealer, ref, resource);
}

/** `POST …/listKeys`: the account's two keys, for whoever may list them (a write right, as in Azure: not Reader). */
export async function listKeys(ctx: ResourcesContext, principal: Principal, ref: ResourceRef) {
  const action = 'Microsoft.Storage/storageAccounts/listkeys/action';
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, action, scopeOf(storageAccounts, ref));
  const row = await resourcesStore.get(ctx.db, sub.subscription_id, ref.resourceGroup, storageAccounts.type, ref.name);
  if (!row) throw resourceErrors.notFound(storageAccounts.type, ref.name, ref.resourceGroup);
  return row.properties.keys ? keysView(ctx.sealer, ref, row) : rekey(ctx, principal, ref, action);
}

/** `POST …/regenerateKey {keyName}`: a new key1 or key2; the other stays. */
export async function regenerateKey(
  ctx: ResourcesContext,
  principal: Principal,
  ref: ResourceRef,
  keyName: () => string,
) {
  const action = 'Microsoft.Storage/storageAccounts/regeneratekey/action';
  // The right first: an outsider learns nothing from the body's errors.
  await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, action, scopeOf(storageAccounts, ref));
  const name = keyName();
  const key = KEY_NAMES.find((k) => k === name.toLowerCase());
  if (!key) throw storageErrors.keyName();
  return rekey(ctx, principal, ref, action, key);
}

/** `POST /subscriptions/{s}/providers/Microsoft.Storage/checkNameAvailability`: as the Storage RP words it. */
export async function checkNameAvailability(
  ctx: ResourcesContext,
  principal: Principal,
  subscriptionId: string,
  request: () => { name: string; type?: unknown },
) {
  const sub = await requireSubscription(ctx.arm, subscriptionId);
  await authorize(
    ctx.arm,
    principal,
    'Microsoft.Storage/checknameavailability/read',
    `/subscriptions/${sub.subscription_id}`,
  );
  const body = request();
  if (body.type !== undefined && String(body.type).toLowerCase() !== storageAccounts.type.toLowerCase())
    throw storageErrors.type(body.type);
  try {
    await storageAccounts.validateName?.(body.name, ctx.db, undefined);
    return { nameAvailable: true };
  } catch (e) {
    if (!(e instanceof ArmError)) throw e;
    return {
      nameAvailable: false,
      reason: e.code === 'AccountNameInvalid' ? 'AccountNameInvalid' : 'AlreadyExists',
      message: e.message,
    };
  }
}
