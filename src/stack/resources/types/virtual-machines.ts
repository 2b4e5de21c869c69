import { authorize, inTransaction, requireSubscription } from '../../../arm/service.ts';
import { armStore } from '../../../arm/store.ts';
import { parseResourceId, resourceTypeOf } from '../../../core/arm-id.ts';
import { armError, armErrors } from '../../../core/errors.ts';
import { newGuid } from '../../../core/ids.ts';
import type { Principal } from '../../../core/principal.ts';
import { holdClosingLock, recordLateStateChange } from '../../metering/service.ts';
import type { MeterRates } from '../../metering/rules.ts';
import { findSize, METERS, resolveImage, type VmSize } from '../catalog.ts';
import { acceptOsProfile, type OsProfileRequest } from '../os-profile.ts';
import type { ResourceType } from '../resource-type.ts';
import { resourceErrors } from '../rules.ts';
import { changeResource, type ResourceRef, type ResourcesContext } from '../service.ts';
import { resourcesStore } from '../store.ts';
import type { ResourcesTable } from '../tables.ts';
import { releaseVmDisks, settleVmDisks } from './vm-disks.ts';
import { type PowerState, vmProperties } from './vm-properties.ts';

// Virtual machines (Microsoft.Compute): sizes and platform images of catalog.ts; power states
// running, stopped, deallocated; the power actions; the fabric's late reports of a power state;
// their managed disks (vm-disks.ts).

export type { PowerState } from './vm-properties.ts';

/** A VM meters while allocated (running or stopped); only deallocation stops it. */
export function vmRates(size: VmSize, osType: 'Windows' | 'Linux', power: PowerState): MeterRates {
  if (power === 'deallocated') return {};
  const rates: MeterRates = { [METERS.baseVmSizeHours.id]: size.numberOfCores, [METERS.vmSizeHours.id]: 1 };
  if (osType === 'Windows') rates[METERS.windowsVmSizeHours.id] = size.numberOfCores;
  return rates;
}

/** A PUT's properties as a client sends them: JSON, so any part may be missing or of another type. */
interface VmRequest {
  hardwareProfile?: { vmSize?: unknown };
  storageProfile?: {
    imageReference?: { publisher?: string; offer?: string; sku?: string; version?: string };
    osDisk?: { osType?: unknown; name?: unknown };
    dataDisks?: unknown;
  };
  osProfile?: OsProfileRequest;
  networkProfile?: unknown;
}

const allocatedCores = (rows: Pick<ResourcesTable, 'properties'>[]) =>
  rows
    .map((r) => vmProperties(r.properties))
    .filter((vm) => vm.powerState !== 'deallocated')
    .reduce((n, vm) => n + (findSize(vm.vmSize)?.numberOfCores ?? 0), 0);

export const virtualMachines: ResourceType = {
  type: 'Microsoft.Compute/virtualMachines',
  namespace: 'Microsoft.Compute',
  quotaProvider: 'Microsoft.Compute.Admin',
  apiVersions: ['2017-03-30', '2017-12-01', '2018-04-01', '2018-06-01', '2020-06-01'],
  async accept(body, existing) {
    const p = (body?.properties ?? {}) as VmRequest;
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
      const had = vmProperties(existing.properties).imageReference;
      if (
        given &&
        (['publisher', 'offer', 'sku'] as const).some(
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
    const { publisher, offer, sku, version: wanted } = ref as Record<string, unknown>;
    if (![publisher, offer, sku, wanted].every((v) => v === undefined || typeof v === 'string'))
      throw armErrors.invalidRequestContent(
        "The request content was invalid: 'properties.storageProfile.imageReference' takes strings.",
        'properties.storageProfile.imageReference',
      );
    const { image, version } = resolveImage(ref);
    const osType = p.storageProfile?.osDisk?.osType ?? image.osType;
    if (osType !== image.osType)
      throw resourceErrors.invalidParameter(
        `The OS type '${osType}' does not match the image, which is ${image.osType}.`,
        'properties.storageProfile.osDisk.osType',
      );
    // Credentials checked, the password never kept; SSH public keys kept (os-profile.ts).
    const osProfile = acceptOsProfile(p.osProfile, image.osType);
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
        osProfile,
        ...(p.networkProfile ? { networkProfile: p.networkProfile } : {}),
        powerState: 'running',
        provisioningState: 'Succeeded',
      },
      sku: null,
      kind: null,
    };
  },
  meterState(r) {
    const vm = vmProperties(r.properties);
    const size = findSize(vm.vmSize);
    if (!size) throw new Error(`virtual machine of unknown size ${vm.vmSize}`);
    return vmRates(size, vm.osType, vm.powerState);
  },
  quotaUsage: (r) => ({ virtualMachines: 1, cores: allocatedCores([r]) }),
  checkQuota(limits, others, next, existing) {
    const count = others.virtualMachines ?? 0;
    if (!existing && limits.virtualMachineCount !== undefined && count + 1 > limits.virtualMachineCount) {
      throw resourceErrors.quotaExceeded('VirtualMachines', limits.virtualMachineCount, count, 1);
    }
    const cores = allocatedCores([next]);
    const inUse = others.cores ?? 0;
    if (
      limits.coresLimit !== undefined &&
      inUse + cores > limits.coresLimit &&
      cores > (existing ? allocatedCores([existing]) : 0)
    ) {
      throw resourceErrors.quotaExceeded('Core', limits.coresLimit, inUse, cores);
    }
  },
  settle: settleVmDisks,
  release: releaseVmDisks,
  view(r) {
    // The power state is the instance view's, not the model's.
    const { powerState: _p, ...properties } = r.properties;
    return { properties };
  },
};

export type VmAction = 'start' | 'powerOff' | 'deallocate' | 'restart';

const POWER_AFTER: Record<VmAction, PowerState> = {
  start: 'running',
  powerOff: 'stopped',
  deallocate: 'deallocated',
  restart: 'running',
};

export async function vmAction(
  ctx: ResourcesContext,
  principal: Principal,
  ref: ResourceRef,
  action: VmAction,
): Promise<string> {
  const { operationId } = await changeResource(ctx, virtualMachines, principal, ref, {
    action: `${virtualMachines.type}/${action}/action`,
    reason: action,
    properties: (row) => ({ ...row.properties, powerState: POWER_AFTER[action] }),
    // Starting a deallocated VM takes cores again.
    quotaApplies: (row, next) =>
      row.properties.powerState === 'deallocated' && next.properties.powerState !== 'deallocated',
  });
  return operationId;
}

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
    throw armError(
      'NotDefaultProviderSubscription',
      `Late state reports go to the default provider subscription '${ctx.offers.providerSubscriptionId()}'.`,
    );
  }
  const now = ctx.arm.clock.now();
  if (input.at.getTime() > now.getTime())
    throw armError('InvalidReportTime', `The report time ${input.at.toISOString()} is in the future.`, 'at');
  const t = virtualMachines;
  const id = parseResourceId(input.resourceId);
  if (!id || id.resourceGroup === undefined || resourceTypeOf(id).toLowerCase() !== t.type.toLowerCase()) {
    throw armError('InvalidResourceId', `'${input.resourceId}' is not the id of a virtual machine.`, 'resourceId');
  }
  const group = id.resourceGroup;
  const name = id.resources[0].name;
  return inTransaction(ctx.db, async (db) => {
    // Not while an hour closes: the history and the hours it reopens are seen together.
    await holdClosingLock(db);
    const row = await resourcesStore.getIncludingDeleted(db, id.subscriptionId.toLowerCase(), group, t.type, name);
    if (!row) throw resourceErrors.notFound(t.type, name, group);
    const owner = await armStore.getSubscription(ctx.arm.db, row.subscription_id);
    if (!owner) throw armErrors.subscriptionNotFound(row.subscription_id);
    const changed = { ...row, properties: { ...row.properties, powerState: input.powerState } };
    const late = await recordLateStateChange(
      db,
      {
        resourceId: row.id,
        subscriptionId: row.subscription_id,
        subscriptionState: owner.state,
        rates: t.meterState(changed),
        at: input.at,
        reason: `late report: ${input.powerState}`,
      },
      now,
    );
    if (!late)
      throw armError('NoStateAtTime', `The virtual machine had no metered state at ${input.at.toISOString()}.`);
    if (late.current && !row.deleted_at)
      await resourcesStore.update(db, { ...changed, updated_at: now }, t.quotaUsage(changed));
    return { resource: row, reopenedHours: late.reopenedHours };
  });
}
