import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { authorize, requireSubscription, type ArmContext } from '../arm/service.ts';
import { parseInstant } from '../core/clock.ts';
import { ArmError, armErrors } from '../core/errors.ts';
import { isGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { registrationStore } from '../registration/store.ts';
import { usageStore, type IncomingRecord, type UsageDb } from './store.ts';

// Usage on the hub: batches from deployments, stored once and attributed in the same statement;
// the ledger invariant; the usage of a customer or registration subscription.

export interface UsageContext {
  arm: ArmContext;
  db: UsageDb & Kysely<any>;
}

export const usageErrors = {
  registrationGone: (cloudId: string) =>
    new ArmError(404, 'RegistrationNotFound', `No registration of the deployment '${cloudId}' exists (it was never made, or it was deleted); its usage is not accepted.`),
  notTheDeployment: (cloudId: string) =>
    new ArmError(403, 'AuthorizationFailed', `Only the deployment registered as '${cloudId}' may report its usage.`),
};

export interface DeploymentBatch {
  cloudId: string;
  batchId: string;
  records: IncomingRecord[];
}

/** A batch of closed usage records from a deployment, authenticated as that deployment's registration. */
export async function receiveBatch(ctx: UsageContext, caller: Principal, batch: DeploymentBatch) {
  if (!isGuid(batch.cloudId)) throw armErrors.invalidRequestContent(`The cloudId '${batch.cloudId}' is not a GUID.`, 'cloudId');
  const registration = await registrationStore.liveByCloudId(ctx.db, batch.cloudId.toLowerCase());
  if (!registration) throw usageErrors.registrationGone(batch.cloudId);
  if (registration.object_id !== caller.objectId) throw usageErrors.notTheDeployment(batch.cloudId);
  const result = await usageStore.receiveFromDeployment(ctx.db, {
    cloudId: registration.cloud_id,
    registrationId: registration.id,
    registrationSubscriptionId: registration.subscription_id,
    batchId: batch.batchId,
    receivedAt: ctx.arm.clock.now(),
    records: batch.records,
  });
  return { batchId: batch.batchId, received: result.received, new: result.new, duplicates: result.received - result.new };
}

export async function verifyLedger(ctx: UsageContext, from: Date, to: Date) {
  const differences = await usageStore.ledgerDifferences(ctx.db, from, to);
  const totals = await usageStore.ledgerTotals(ctx.db, from, to);
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    records: Number(totals.records),
    received: totals.received,
    attributed: totals.attributed,
    balanced: differences.length === 0,
    differences: differences.map((d) => ({ source: d.source, meterId: d.meter_id, hour: d.hour.toISOString(), received: d.received, attributed: d.attributed })),
  };
}

/** Readers of a subscription's usage: its Owners and Readers, and the partner that sold it. */
export async function readableUsageSubscription(ctx: UsageContext, caller: Principal, subscriptionId: string) {
  const sub = await requireSubscription(ctx.arm, subscriptionId);
  await authorize(ctx.arm, caller, 'Microsoft.Commerce/UsageAggregates/read', `/subscriptions/${sub.subscription_id}`);
  return sub;
}

/**
 * An operator's explicit re-attribution of a range of usage hours, after links changed: the links
 * in force at `asOf` (default now) decide; what changes is written as reversing and new entries.
 */
export async function reattribute(ctx: UsageContext, input: { from: Date; to: Date; cloudId?: string; asOf?: Date }) {
  if (input.to.getTime() <= input.from.getTime()) throw armErrors.badRequest('InvalidTimeRange', "'to' must be later than 'from'.", 'to');
  if (input.cloudId !== undefined && !isGuid(input.cloudId)) throw armErrors.badRequest('InvalidCloudId', `'${input.cloudId}' is not a GUID.`, 'cloudId');
  const now = ctx.arm.clock.now();
  const reattributionId = randomUUID();
  const written = await usageStore.reattribute(ctx.db, { ...input, cloudId: input.cloudId?.toLowerCase(), asOf: input.asOf ?? now, at: now, reattributionId });
  return { reattributionId, from: input.from.toISOString(), to: input.to.toISOString(), asOf: (input.asOf ?? now).toISOString(), ...written };
}

export interface CloudEvent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  data?: { meterId?: string; quantity?: number | string; resourceUri?: string; location?: string };
}

/**
 * Usage from any external meter, as CloudEvents (batch JSON): `subject` names the subscription to
 * bill, `data` the meter and quantity, `time` the usage time. Each event is stored once (id and
 * source); the caller must be allowed to write usage to each subscription it names.
 */
export async function receiveEvents(ctx: UsageContext, caller: Principal, events: CloudEvent[]) {
  const prepared = [];
  const checked = new Set<string>();
  for (const [i, e] of events.entries()) {
    const where = `[${i}]`;
    if (e.specversion !== '1.0') throw armErrors.invalidRequestContent(`Event ${where}: specversion must be '1.0'.`, `${where}.specversion`);
    if (!e.subject || !isGuid(e.subject)) throw armErrors.invalidRequestContent(`Event ${where}: subject must name the subscription to bill (a GUID).`, `${where}.subject`);
    const meterId = e.data?.meterId;
    if (!meterId || !isGuid(meterId)) throw armErrors.invalidRequestContent(`Event ${where}: data.meterId must be a GUID.`, `${where}.data.meterId`);
    const quantity = String(e.data?.quantity ?? '');
    if (!/^-?\d+(\.\d{1,9})?$/.test(quantity)) throw armErrors.invalidRequestContent(`Event ${where}: data.quantity must be a decimal with at most 9 places.`, `${where}.data.quantity`);
    const time = e.time ? parseInstant(e.time) : ctx.arm.clock.now();
    if (time === undefined) throw armErrors.invalidRequestContent(`Event ${where}: time is not an RFC 3339 time.`, `${where}.time`);
    const subscriptionId = e.subject.toLowerCase();
    if (!checked.has(subscriptionId)) {
      const sub = await requireSubscription(ctx.arm, subscriptionId);
      await authorize(ctx.arm, caller, 'Microsoft.Commerce/usageEvents/write', `/subscriptions/${sub.subscription_id}`);
      checked.add(subscriptionId);
    }
    prepared.push({
      source: e.source,
      id: e.id,
      subscriptionId,
      meterId: meterId.toLowerCase(),
      hour: new Date(Math.floor(time.getTime() / 3_600_000) * 3_600_000).toISOString(),
      quantity,
      resourceUri: e.data?.resourceUri ?? `${e.source}/${e.type}`,
      location: e.data?.location ?? 'global',
    });
  }
  const result = await usageStore.receiveEvents(ctx.db, { batchId: randomUUID(), receivedAt: ctx.arm.clock.now(), events: prepared });
  return { received: result.received, new: result.new, duplicates: result.received - result.new };
}
