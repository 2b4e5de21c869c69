import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { DEPLOYMENT_REPORT, USAGE_EVENTS_WRITE, USAGE_CORRECTIONS_WRITE } from '../arm/roles.ts';
import {
  authorizeData,
  holdsDataActionAnywhere,
  inTransaction,
  requireSubscription,
  requireSubscriptionRight,
  rightsAt,
  type ArmContext,
  type RightsAt,
} from '../arm/service.ts';
import type { SubscriptionsTable } from '../arm/tables.ts';
import { ROOT_SCOPE } from '../core/arm-id.ts';
import { parseInstant, startOfHour } from '../core/clock.ts';
import { armError, armErrors } from '../core/errors.ts';
import { isGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { inOrder } from '../core/together.ts';
import { notificationStore } from '../notifications/store.ts';
import { registrationStore } from '../registration/store.ts';
import type { RegistrationTables } from '../registration/tables.ts';
import { checkReconciliationRange } from '../core/usage-summary.ts';
import { archivedRecords, archiveStore } from './archive-store.ts';
import { refuseArchivedUsage } from './archive.ts';
import { eventKey, usageStore, type DeploymentConflict, type IncomingRecord } from './store.ts';
import type { UsageTables } from './tables.ts';

// Usage on the hub: batches from deployments, stored once and attributed in the same statement;
// the ledger invariant; the usage of a customer or registration subscription.

export interface UsageContext {
  arm: ArmContext;
  db: Kysely<UsageTables & RegistrationTables & { subscriptions: SubscriptionsTable }>;
  /** Where billing's oldest open period starts (undefined while nobody is billed). */
  oldestOpenPeriodStart(): Promise<Date | undefined>;
  /** For the archive's COPY. */
  pool: pg.Pool;
  /** Where archives of usage months are written (undefined: none is). */
  archiveDir?: string;
  /** Records a usage page without details reads at most (`USAGE_PAGE_RECORDS`). */
  pageRecords: number;
}

/** What the hub's ingestion refuses (events and deployments' reports); the usage API's own are core's `usageErrors`. */
export const ingestionErrors = {
  correctionWithoutReason: (where: string) =>
    armError(
      'CorrectionReasonRequired',
      `Event ${where}: a negative quantity is a correction and needs data.reason.`,
      `${where}.data.reason`,
    ),
  eventInFuture: (where: string, time: Date, now: Date) =>
    armError(
      'EventTimeInFuture',
      `Event ${where}: its time ${time.toISOString()} is more than 5 minutes after the current time ${now.toISOString()}.`,
      `${where}.time`,
    ),
  eventBeforeOpenPeriod: (where: string, time: Date, openFrom: Date) =>
    armError(
      'EventTimeInClosedPeriod',
      `Event ${where}: its time ${time.toISOString()} is before the oldest open billing period, which starts at ${openFrom.toISOString()}.`,
      `${where}.time`,
    ),
  registrationGone: (cloudId: string) =>
    armError(
      'RegistrationNotFound',
      `No registration of the deployment '${cloudId}' exists (it was never made, or it was deleted); its usage is not accepted.`,
    ),
  badHour: (index: number, hour: string) =>
    armErrors.invalidRequestContent(
      `Record records[${index}] has the hour '${hour.slice(0, 64)}', which is not an ISO 8601 instant.`,
      `records[${index}].hour`,
    ),
  notTheDeployment: (cloudId: string) =>
    armError('AuthorizationFailed', `Only the deployment registered as '${cloudId}' may report its usage.`),
  /** Records of months already archived: each named, so that the deployment sets them aside. */
  archived: (indexes: number[], until: Date) => {
    const detail = (i: number) => ({
      code: 'UsageArchived',
      target: `records[${i}]`,
      message: `Record records[${i}] is of an hour before ${until.toISOString()}, whose months are billed and archived: it is not accepted.`,
    });
    return armError('UsageArchived', detail(indexes[0]).message, detail(indexes[0]).target, indexes.map(detail));
  },
  conflict: (conflicts: DeploymentConflict[]) => {
    const detail = (c: DeploymentConflict) => ({
      code: 'UsageRecordConflict',
      target: `records[${c.index}]`,
      message:
        `Record records[${c.index}] (resource '${c.resourceId}', meter ${c.meterId}, hour ${c.hour.toISOString()}, revision ${c.revision}) ` +
        `says ${c.offered}, but that key was already received with ${c.stored} (or comes earlier in this batch with it). A record's key holds one quantity: a change is a new revision.`,
    });
    const first = detail(conflicts[0]);
    const more = conflicts.length > 1 ? ` (${conflicts.length} records conflict; each is named in details)` : '';
    return armError('UsageRecordConflict', `${first.message}${more}`, first.target, conflicts.map(detail));
  },
};

export interface DeploymentBatch {
  cloudId: string;
  batchId: string;
  records: IncomingRecord[];
}

declare const reporting: unique symbol;
/** A caller found to be a deployment at all (the Azure Stack Deployment role at '/'): only `reporterOf` makes one. */
export type Reporter = Principal & { readonly [reporting]: true };

/** `rights`: the caller's at '/'. */
const reporterIn = (caller: Principal, rights: RightsAt): Reporter => {
  rights.requireData(DEPLOYMENT_REPORT);
  return caller as Reporter;
};

/** 403 unless the caller is a deployment at all: checked before the body is read. */
export async function reporterOf(ctx: UsageContext, caller: Principal): Promise<Reporter> {
  return reporterIn(caller, await rightsAt(ctx.arm, caller, ROOT_SCOPE));
}

/**
 * The live registration of `cloudId` that names the caller (of legacy duplicates, the one naming
 * it): only that deployment reports its usage and reads what the hub received from it.
 */
async function requireDeployment(ctx: UsageContext, caller: Reporter, cloudIdText: string) {
  if (!isGuid(cloudIdText))
    throw armErrors.invalidRequestContent(`The cloudId '${cloudIdText}' is not a GUID.`, 'cloudId');
  const cloudId = cloudIdText.toLowerCase();
  const registration = await registrationStore.liveByCloudIdAndObjectId(ctx.db, cloudId, caller.objectId);
  if (registration) return registration;
  if (await registrationStore.liveByCloudId(ctx.db, cloudId)) throw ingestionErrors.notTheDeployment(cloudIdText);
  throw ingestionErrors.registrationGone(cloudIdText);
}

/** Rolls back a batch's transaction when some of its records conflict. */
class RefusedBatch extends Error {
  constructor(readonly conflicts: DeploymentConflict[]) {
    super('the batch has conflicting records');
  }
}

/** At most this many conflicting records are named in one refusal (the deployment sends the rest again). */
const CONFLICTS_NAMED = 1000;

/**
 * A batch of closed usage records from a deployment: accepted only from the principal that the
 * live registration of its cloud id names, and only for that cloud id. A record whose key was
 * already received is a duplicate (nothing to do) when its quantity is the same, and a conflict
 * otherwise: the batch is refused (409, naming each), and the conflict counted. Nothing of a
 * refused batch is stored.
 */
export async function receiveBatch(ctx: UsageContext, caller: Reporter, batch: DeploymentBatch) {
  const registration = await requireDeployment(ctx, caller, batch.cloudId);
  const foreign = batch.records.findIndex(
    (r) => r.cloudId !== undefined && r.cloudId.toLowerCase() !== registration.cloud_id,
  );
  if (foreign >= 0) throw ingestionErrors.notTheDeployment(batch.records[foreign].cloudId!);
  // A batch's records share a few hours: each text is parsed once (the parsed hours are only read).
  const parsed = new Map<string, Date | undefined>();
  const hours = batch.records.map((r) => {
    if (!parsed.has(r.hour)) parsed.set(r.hour, parseInstant(r.hour));
    return parsed.get(r.hour);
  });
  const badHour = hours.indexOf(undefined);
  if (badHour >= 0) throw ingestionErrors.badHour(badHour, batch.records[badHour].hour);
  const recordHours = hours as Date[];
  // An archived month takes nothing more: its invoices and archive are final. Each way in holds
  // the batch's months and reads where archived usage ends in its transaction (`holdMonthsSql`).
  const archivedRefusal = (archivedUntil: Date | undefined) => {
    const late = archivedRecords(recordHours, archivedUntil);
    return late.length > 0 ? ingestionErrors.archived(late.slice(0, CONFLICTS_NAMED), archivedUntil!) : undefined;
  };
  const now = ctx.arm.clock.now();
  const toStore = {
    cloudId: registration.cloud_id,
    registrationId: registration.id,
    registrationSubscriptionId: registration.subscription_id,
    batchId: batch.batchId,
    receivedAt: now,
    records: batch.records,
  };
  // A batch of new records only (nearly all) is copied in whole. Otherwise one statement sorts
  // duplicates from conflicts; a batch with conflicts stores nothing: its transaction is rolled
  // back, then they are counted. No lock: batches of one deployment may run side by side (a
  // retry beside its first try, say); the unique index makes a batch that shares keys with
  // another wait for it, then see its rows (the COPY fails on them and the statement runs).
  const fresh = await usageStore.copyIfAllNew(ctx.pool, { ...toStore, hours: recordHours });
  if (fresh && 'archivedUntil' in fresh) throw archivedRefusal(fresh.archivedUntil)!;
  const outcome = fresh
    ? { stored: fresh, conflicts: undefined }
    : await inTransaction(ctx.db, async (db) => {
        const refusal = archivedRefusal(await archiveStore.holdMonths(db, recordHours));
        if (refusal) throw refusal;
        const stored = await usageStore.receiveFromDeployment(db, toStore);
        if (stored.conflicts.length > 0) throw new RefusedBatch(stored.conflicts);
        return { stored, conflicts: undefined };
      }).catch((e: unknown) => {
        if (e instanceof RefusedBatch) return { stored: undefined, conflicts: e.conflicts };
        throw e;
      });
  if (outcome.conflicts) {
    const conflicts = outcome.conflicts;
    await inTransaction(ctx.db, async (db) => {
      const first = await usageStore.countConflicts(db, registration.cloud_id, conflicts, now);
      // The deployment will quarantine what the hub refused: the system administrators hear of it once.
      await notificationStore.record(
        db,
        first.map((c) => ({
          key: `usage.quarantined:${registration.cloud_id}:${c.resourceId}:${c.meterId}:${new Date(c.hour).toISOString()}:${c.revision}:${c.offered}`,
          type: 'usage.quarantined',
          occurredAt: now,
          data: {
            cloudId: registration.cloud_id,
            ...c,
            hour: new Date(c.hour).toISOString(),
            reason: 'UsageRecordConflict',
          },
          partnerId: null,
          customerId: null,
        })),
      );
    });
    throw ingestionErrors.conflict(outcome.conflicts.slice(0, CONFLICTS_NAMED));
  }
  const { received, new: added } = outcome.stored!;
  return { batchId: batch.batchId, received, new: added, duplicates: received - added };
}

/**
 * What the hub received from one deployment, per usage hour and meter, and the conflicts it
 * refused: for the deployment itself (to compare with its outbox) and for system administrators.
 */
export async function deploymentSummary(
  ctx: UsageContext,
  caller: Principal,
  q: { cloudId: string; from?: string; to?: string },
) {
  let cloudId: string;
  const rights = await rightsAt(ctx.arm, caller, ROOT_SCOPE);
  if (rights.allows('Microsoft.AzureStack/usageReports/read')) {
    if (!isGuid(q.cloudId)) throw armError('InvalidCloudId', `'${q.cloudId}' is not a GUID.`, 'cloudId');
    cloudId = q.cloudId.toLowerCase();
  } else {
    cloudId = (await requireDeployment(ctx, reporterIn(caller, rights), q.cloudId)).cloud_id;
  }
  const time = (name: 'from' | 'to') => {
    const t = q[name] === undefined ? undefined : parseInstant(q[name]);
    if (!t) throw armError('InvalidTime', `'${name}' must be an ISO 8601 time.`, name);
    return t;
  };
  const range = { from: time('from'), to: time('to') };
  checkReconciliationRange(range.from, range.to);
  // An archived month's hours are no longer here: an empty summary would read as lost usage (the
  // reads run beside the archive's look-up, which still refuses first).
  const [, conflicts, value] = await inOrder(
    refuseArchivedUsage(ctx, caller, { ...range, by: 'hour' }),
    usageStore.conflictCounts(ctx.db, range.from, range.to, cloudId),
    usageStore.deploymentSummary(ctx.db, cloudId, range.from, range.to),
  );
  return { cloudId, from: range.from.toISOString(), to: range.to.toISOString(), conflicts, value };
}

/** Readers of a subscription's usage: its Owners and Readers, and the partner that sold it. */
export async function readableUsageSubscription(ctx: UsageContext, caller: Principal, subscriptionId: string) {
  return requireSubscriptionRight(ctx.arm, caller, 'Microsoft.Commerce/UsageAggregates/read', subscriptionId);
}

/**
 * An operator's explicit re-attribution of a range of usage hours, after links changed: the links
 * in force at `asOf` (default now) decide; what changes is written as reversing and new entries.
 */
export async function reattribute(ctx: UsageContext, input: { from: Date; to: Date; cloudId?: string; asOf?: Date }) {
  if (input.to.getTime() <= input.from.getTime())
    throw armError('InvalidTimeRange', "'to' must be later than 'from'.", 'to');
  if (input.cloudId !== undefined && !isGuid(input.cloudId))
    throw armError('InvalidCloudId', `'${input.cloudId}' is not a GUID.`, 'cloudId');
  const now = ctx.arm.clock.now();
  const reattributionId = randomUUID();
  // One at a time: two concurrent runs over the same range would both reverse what they read.
  const written = await inTransaction(ctx.db, async (db) => {
    await usageStore.lockReattribution(db);
    await archiveStore.holdMonthsBetween(db, input.from, input.to);
    return usageStore.reattribute(db, {
      ...input,
      cloudId: input.cloudId?.toLowerCase(),
      asOf: input.asOf ?? now,
      at: now,
      reattributionId,
    });
  });
  return {
    reattributionId,
    from: input.from.toISOString(),
    to: input.to.toISOString(),
    asOf: (input.asOf ?? now).toISOString(),
    ...written,
  };
}

export interface CloudEvent {
  specversion: string;
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  data?: { meterId?: string; quantity?: number | string; resourceUri?: string; location?: string; reason?: string };
}

type PreparedEvent = Parameters<typeof usageStore.receiveEvents>[1]['events'][number] & { reason?: string };

/** How far ahead of the clock an event's time may be (meters' clocks drift a little). */
const EVENT_CLOCK_SKEW_MS = 5 * 60_000;

/** Whether the caller may post usage events at all: checked before the body is even read. */
export async function mayPostEvents(ctx: UsageContext, caller: Principal): Promise<void> {
  if (!(await holdsDataActionAnywhere(ctx.arm, caller, USAGE_EVENTS_WRITE)))
    throw armErrors.authorizationFailed(caller.objectId, USAGE_EVENTS_WRITE, '/');
}

/**
 * Usage from any external meter, as CloudEvents (batch JSON): `subject` names the subscription to
 * bill, `data` the meter and quantity, `time` the usage time. Each event is stored once (id and
 * source). The caller must hold the Usage Reporter role (or be a system administrator) on every
 * subscription it names: being the billed subscription's Owner grants nothing, since the billed
 * party never writes its own usage. A negative quantity is a correction: system administrators
 * only, with a reason, written to the activity log.
 */
export async function receiveEvents(ctx: UsageContext, caller: Principal, events: CloudEvent[]) {
  const now = ctx.arm.clock.now();
  const openFrom = await ctx.oldestOpenPeriodStart();
  const prepared: PreparedEvent[] = [];
  const subscriptions = new Map<string, SubscriptionsTable>();
  for (const [i, e] of events.entries()) {
    const where = `[${i}]`;
    if (!e.subject || !isGuid(e.subject))
      throw armErrors.invalidRequestContent(
        `Event ${where}: subject must name the subscription to bill (a GUID).`,
        `${where}.subject`,
      );
    const subscriptionId = e.subject.toLowerCase();
    if (!subscriptions.has(subscriptionId)) {
      const sub = await requireSubscription(ctx.arm, subscriptionId);
      await authorizeData(ctx.arm, caller, USAGE_EVENTS_WRITE, `/subscriptions/${sub.subscription_id}`);
      subscriptions.set(subscriptionId, sub);
    }
    if (e.specversion !== '1.0')
      throw armErrors.invalidRequestContent(`Event ${where}: specversion must be '1.0'.`, `${where}.specversion`);
    const meterId = e.data?.meterId;
    if (!meterId || !isGuid(meterId))
      throw armErrors.invalidRequestContent(`Event ${where}: data.meterId must be a GUID.`, `${where}.data.meterId`);
    const quantity = String(e.data?.quantity ?? '');
    if (!/^-?\d+(\.\d{1,9})?$/.test(quantity))
      throw armErrors.invalidRequestContent(
        `Event ${where}: data.quantity must be a decimal with at most 9 places.`,
        `${where}.data.quantity`,
      );
    const correction = quantity.startsWith('-') && !/^-0+(\.0+)?$/.test(quantity);
    if (correction) {
      await authorizeData(ctx.arm, caller, USAGE_CORRECTIONS_WRITE, ROOT_SCOPE);
      if (!e.data?.reason?.trim()) throw ingestionErrors.correctionWithoutReason(where);
    }
    const time = e.time === undefined ? now : parseInstant(e.time);
    if (!time) throw armErrors.invalidRequestContent(`Event ${where}: time is not an RFC 3339 time.`, `${where}.time`);
    if (time.getTime() > now.getTime() + EVENT_CLOCK_SKEW_MS) throw ingestionErrors.eventInFuture(where, time, now);
    if (openFrom && time.getTime() < openFrom.getTime())
      throw ingestionErrors.eventBeforeOpenPeriod(where, time, openFrom);
    prepared.push({
      source: e.source,
      id: e.id,
      subscriptionId,
      meterId: meterId.toLowerCase(),
      hour: startOfHour(time).toISOString(),
      quantity,
      resourceUri: e.data?.resourceUri ?? `${e.source}/${e.type}`,
      location: e.data?.location ?? 'global',
      reason: correction ? e.data!.reason!.trim() : undefined,
    });
  }
  const result = await inTransaction(ctx.db, async (db) => {
    // The open period checked above may have closed since, and its months been archived.
    const hours = prepared.map((p) => new Date(p.hour));
    const [late] = archivedRecords(hours, await archiveStore.holdMonths(db, hours));
    if (late !== undefined)
      throw ingestionErrors.eventBeforeOpenPeriod(`[${late}]`, hours[late], (await ctx.oldestOpenPeriodStart()) ?? now);
    const stored = await usageStore.receiveEvents(db, { batchId: randomUUID(), receivedAt: now, events: prepared });
    const isNew = new Set(stored.newKeys);
    for (const c of prepared.filter((p) => p.reason !== undefined && isNew.has(eventKey(p.source, p.id)))) {
      await ctx.arm.recordChange?.(db, caller, subscriptions.get(c.subscriptionId)!, {
        operation: 'Correct usage',
        resourceType: 'Stackledger.Usage/events',
        resourceId: `/subscriptions/${c.subscriptionId}/providers/Stackledger.Usage/events/${encodeURIComponent(c.id)}`,
        newValue: {
          source: c.source,
          id: c.id,
          meterId: c.meterId,
          hour: c.hour,
          quantity: c.quantity,
          reason: c.reason,
        },
      });
    }
    return stored;
  });
  return { received: result.received, new: result.new, duplicates: result.received - result.new };
}
