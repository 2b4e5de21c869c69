import {
  authorize,
  createSubscription,
  inTransaction,
  namedRowIdentity,
  requireSubscription,
  type ArmContext,
} from '../../arm/service.ts';
import { armStore } from '../../arm/store.ts';
import { OWNER } from '../../arm/roles.ts';
import type { SubscriptionsTable } from '../../arm/tables.ts';
import { scopeKey } from '../../core/arm-id.ts';
import { armError, armErrors } from '../../core/errors.ts';
import { isGuid, newGuid } from '../../core/ids.ts';
import { noteRightsChecked, type Principal } from '../../core/principal.ts';
import {
  offerNameOf,
  offersErrors,
  parsePlanId,
  parseQuotaId,
  QUOTA_KINDS,
  quotaProperties,
  tenantOfferId,
  type QuotaKind,
} from './rules.ts';
import { offersStore, type OffersDb } from './store.ts';
import type { OffersTable, PlansTable, QuotasTable } from './tables.ts';
import { retryOnceOnUniqueViolation } from '../../db/database.ts';

// The operator's catalogue (quotas, plans, offers) and the subscriptions tenants take from it.

// A PUT that two callers send at once: the loser of the race to create runs again as the update.
export const putQuota = (...args: Parameters<typeof putQuotaOnce>) =>
  retryOnceOnUniqueViolation(() => putQuotaOnce(...args));
export const putPlan = (...args: Parameters<typeof putPlanOnce>) =>
  retryOnceOnUniqueViolation(() => putPlanOnce(...args));
export const putOffer = (...args: Parameters<typeof putOfferOnce>) =>
  retryOnceOnUniqueViolation(() => putOfferOnce(...args));
export const takeOffer = (...args: Parameters<typeof takeOfferOnce>) =>
  retryOnceOnUniqueViolation(() => takeOfferOnce(...args));
export const putAdminSubscription = (...args: Parameters<typeof putAdminSubscriptionOnce>) =>
  retryOnceOnUniqueViolation(() => putAdminSubscriptionOnce(...args));

export interface OffersContext {
  arm: ArmContext;
  db: OffersDb;
  providerSubscriptionId: () => string | undefined;
  /** Finds a user's object id in its directory (the owner the operator names), through the hub. */
  findUser(tenantId: string, userPrincipalName: string): Promise<string | undefined>;
  /** A subscription was suspended, re-enabled or deleted: its resources meter accordingly. */
  onSubscriptionStateChanged?(subscriptionId: string): Promise<void>;
}

export function quotaKind(provider: string): QuotaKind {
  const kind = QUOTA_KINDS.find((k) => k.provider.toLowerCase() === provider.toLowerCase());
  if (!kind) throw new Error(`no quota kind ${provider}`);
  return kind;
}

/** Catalogue resources live in the default provider subscription, for its Owners and Contributors. */
export async function requireProviderScope(
  ctx: OffersContext,
  principal: Principal,
  subscriptionId: string,
  action: string,
  scope: string,
) {
  const sub = await requireSubscription(ctx.arm, subscriptionId);
  await authorize(ctx.arm, principal, action, scope);
  if (sub.subscription_id !== ctx.providerSubscriptionId()) {
    throw armError(
      'NotDefaultProviderSubscription',
      `This resource type lives in the default provider subscription '${ctx.providerSubscriptionId()}'.`,
    );
  }
  return sub;
}

// ---- quotas ------------------------------------------------------------------------------------

export interface QuotaRef {
  subscriptionId: string;
  provider: string;
  location: string;
  name: string;
}

const quotaScope = (r: QuotaRef) =>
  `/subscriptions/${r.subscriptionId}/providers/${r.provider}/locations/${r.location}/quotas/${r.name}`;

function requireLocation(ctx: OffersContext, location: string): string {
  const known = ctx.arm.locations().find((l) => l.toLowerCase() === location.toLowerCase());
  if (!known)
    throw armError(
      'LocationNotAvailable',
      `The location '${location}' is not one of this deployment's: '${ctx.arm.locations().join(', ')}'.`,
      'location',
    );
  return known;
}

async function putQuotaOnce(
  ctx: OffersContext,
  principal: Principal,
  ref: QuotaRef,
  given: Record<string, unknown> | undefined,
) {
  const sub = await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    `${ref.provider}/locations/quotas/write`,
    quotaScope(ref),
  );
  const location = requireLocation(ctx, ref.location);
  const existing = await offersStore.getQuota(ctx.db, ref.provider, location, ref.name);
  const row: QuotasTable = {
    provider: quotaKind(ref.provider).provider,
    location,
    name: existing?.name ?? ref.name,
    name_key: ref.name.toLowerCase(),
    subscription_id: sub.subscription_id,
    properties: quotaProperties(quotaKind(ref.provider), { ...(existing?.properties ?? {}), ...(given ?? {}) }),
    created_at: existing?.created_at ?? ctx.arm.clock.now(),
  };
  const created = await offersStore.putQuota(ctx.db, row);
  return { quota: row, created };
}

export async function getQuota(ctx: OffersContext, principal: Principal, ref: QuotaRef): Promise<QuotasTable> {
  await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    `${ref.provider}/locations/quotas/read`,
    quotaScope(ref),
  );
  const row = await offersStore.getQuota(ctx.db, ref.provider, ref.location, ref.name);
  if (!row) throw armErrors.namedResourceNotFound('quota', ref.name);
  return row;
}

export async function listQuotas(ctx: OffersContext, principal: Principal, ref: Omit<QuotaRef, 'name'>) {
  await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    `${ref.provider}/locations/quotas/read`,
    `/subscriptions/${ref.subscriptionId}`,
  );
  return offersStore.listQuotas(ctx.db, ref.provider, ref.location);
}

export async function deleteQuota(ctx: OffersContext, principal: Principal, ref: QuotaRef): Promise<boolean> {
  await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    `${ref.provider}/locations/quotas/delete`,
    quotaScope(ref),
  );
  return offersStore.deleteQuota(ctx.db, ref.provider, ref.location, ref.name);
}

// ---- plans -------------------------------------------------------------------------------------

export interface CatalogRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

const planScope = (r: CatalogRef) =>
  `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.Subscriptions.Admin/plans/${r.name}`;
const offerScope = (r: CatalogRef) =>
  `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.Subscriptions.Admin/offers/${r.name}`;

/** What plans and offers both carry to describe themselves. */
interface CatalogTextInput {
  displayName?: string;
  description?: string;
  externalReferenceId?: string;
}

/** A plan's or offer's texts: given ones replace, missing ones keep what was there. */
function catalogText(
  input: CatalogTextInput,
  existing: Pick<PlansTable, 'display_name' | 'description' | 'external_reference_id'> | undefined,
  name: string,
) {
  return {
    display_name: input.displayName ?? existing?.display_name ?? name,
    description: input.description ?? existing?.description ?? null,
    external_reference_id: input.externalReferenceId ?? existing?.external_reference_id ?? null,
  };
}

export interface PlanInput extends CatalogTextInput {
  quotaIds?: string[];
  skuIds?: string[];
}

async function requireGroup(ctx: OffersContext, subscriptionId: string, resourceGroup: string): Promise<void> {
  if (!(await armStore.getResourceGroup(ctx.arm.db, subscriptionId, resourceGroup)))
    throw armErrors.resourceGroupNotFound(resourceGroup);
}

async function putPlanOnce(ctx: OffersContext, principal: Principal, ref: CatalogRef, input: PlanInput) {
  const sub = await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    'Microsoft.Subscriptions.Admin/plans/write',
    planScope(ref),
  );
  await requireGroup(ctx, sub.subscription_id, ref.resourceGroup);
  const quotaIds = input.quotaIds ?? [];
  for (const id of quotaIds) {
    const q = parseQuotaId(id);
    if (!q || !(await offersStore.getQuota(ctx.db, q.provider, q.location, q.name)))
      throw offersErrors.quotaNotFound(id);
  }
  const existing = await offersStore.getPlan(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  const row: PlansTable = {
    ...namedRowIdentity(existing, sub.subscription_id, ref),
    ...catalogText(input, existing, ref.name),
    quota_ids: quotaIds,
    sku_ids: input.skuIds ?? existing?.sku_ids ?? [],
    created_at: existing?.created_at ?? ctx.arm.clock.now(),
  };
  await offersStore.putPlan(ctx.db, row, existing !== undefined);
  return { plan: row, created: !existing };
}

export async function getPlan(ctx: OffersContext, principal: Principal, ref: CatalogRef): Promise<PlansTable> {
  const sub = await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    'Microsoft.Subscriptions.Admin/plans/read',
    planScope(ref),
  );
  const row = await offersStore.getPlan(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  if (!row) throw armErrors.namedResourceNotFound('plan', ref.name);
  return row;
}

export async function listPlans(
  ctx: OffersContext,
  principal: Principal,
  subscriptionId: string,
  resourceGroup?: string,
) {
  const sub = await requireProviderScope(
    ctx,
    principal,
    subscriptionId,
    'Microsoft.Subscriptions.Admin/plans/read',
    `/subscriptions/${subscriptionId}`,
  );
  return offersStore.listPlans(ctx.db, sub.subscription_id, resourceGroup);
}

export async function deletePlan(ctx: OffersContext, principal: Principal, ref: CatalogRef): Promise<boolean> {
  const sub = await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    'Microsoft.Subscriptions.Admin/plans/delete',
    planScope(ref),
  );
  const row = await offersStore.getPlan(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  if (!row) return false;
  if ((await offersStore.offersUsingPlan(ctx.db, planResourceId(row))).length > 0)
    throw offersErrors.planInUse(row.name);
  await offersStore.deletePlan(ctx.db, row.id);
  return true;
}

export const planResourceId = (p: PlansTable) =>
  `/subscriptions/${p.subscription_id}/resourceGroups/${p.resource_group}/providers/Microsoft.Subscriptions.Admin/plans/${p.name}`;

// ---- offers ------------------------------------------------------------------------------------

export interface OfferInput extends CatalogTextInput {
  state?: OffersTable['state'];
  maxSubscriptionsPerAccount?: number;
  basePlanIds?: string[];
  addonPlans?: { planId: string; maxAcquisitionCount?: number }[];
}

async function requirePlans(ctx: OffersContext, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids) {
    const p = parsePlanId(id);
    const plan = p && (await offersStore.getPlan(ctx.db, p.subscriptionId.toLowerCase(), p.resourceGroup, p.name));
    if (!plan) throw offersErrors.planNotFound(id);
    out.push(planResourceId(plan));
  }
  return out;
}

async function putOfferOnce(ctx: OffersContext, principal: Principal, ref: CatalogRef, input: OfferInput) {
  const sub = await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    'Microsoft.Subscriptions.Admin/offers/write',
    offerScope(ref),
  );
  await requireGroup(ctx, sub.subscription_id, ref.resourceGroup);
  let existing = await offersStore.getOffer(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  if (!existing && (await offersStore.offerByName(ctx.db, ref.name))) {
    // The name may be taken by this very offer, made by a concurrent twin since the first look.
    existing = await offersStore.getOffer(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
    if (!existing) throw offersErrors.offerNameTaken(ref.name);
  }
  const row: OffersTable = {
    ...namedRowIdentity(existing, sub.subscription_id, ref),
    ...catalogText(input, existing, ref.name),
    state: input.state ?? existing?.state ?? 'Private',
    max_subscriptions_per_account: input.maxSubscriptionsPerAccount ?? existing?.max_subscriptions_per_account ?? null,
    base_plan_ids: input.basePlanIds ? await requirePlans(ctx, input.basePlanIds) : (existing?.base_plan_ids ?? []),
    addon_plans: input.addonPlans ?? existing?.addon_plans ?? [],
    created_at: existing?.created_at ?? ctx.arm.clock.now(),
  };
  await offersStore.putOffer(ctx.db, row, existing !== undefined);
  return { offer: row, created: !existing };
}

export async function getOffer(ctx: OffersContext, principal: Principal, ref: CatalogRef): Promise<OffersTable> {
  const sub = await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    'Microsoft.Subscriptions.Admin/offers/read',
    offerScope(ref),
  );
  const row = await offersStore.getOffer(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  if (!row) throw armErrors.namedResourceNotFound('offer', ref.name);
  return row;
}

export async function listOffers(
  ctx: OffersContext,
  principal: Principal,
  subscriptionId: string,
  resourceGroup?: string,
) {
  const sub = await requireProviderScope(
    ctx,
    principal,
    subscriptionId,
    'Microsoft.Subscriptions.Admin/offers/read',
    `/subscriptions/${subscriptionId}`,
  );
  return offersStore.listOffers(ctx.db, { subscriptionId: sub.subscription_id, resourceGroup });
}

export async function deleteOffer(ctx: OffersContext, principal: Principal, ref: CatalogRef): Promise<boolean> {
  const sub = await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    'Microsoft.Subscriptions.Admin/offers/delete',
    offerScope(ref),
  );
  const row = await offersStore.getOffer(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  if (!row) return false;
  const count =
    (await armStore.liveSubscriptionCounts(ctx.arm.db, [tenantOfferId(row.name)])).get(tenantOfferId(row.name)) ?? 0;
  if (count > 0) throw offersErrors.offerInUse(row.name, count);
  await offersStore.deleteOffer(ctx.db, row.id);
  return true;
}

export async function linkPlan(
  ctx: OffersContext,
  principal: Principal,
  ref: CatalogRef,
  planName: string,
  link: boolean,
) {
  const offer = await getOffer(ctx, principal, ref);
  const plan = await offersStore.getPlan(ctx.db, offer.subscription_id, ref.resourceGroup, planName);
  const planId = plan ? planResourceId(plan) : undefined;
  if (!planId) throw offersErrors.planNotFound(planName);
  const others = offer.base_plan_ids.filter((p) => p.toLowerCase() !== planId.toLowerCase());
  return putOffer(ctx, principal, ref, { basePlanIds: link ? [...others, planId] : others });
}

// ---- subscriptions -----------------------------------------------------------------------------

/** A tenant takes a public offer: a new subscription in the caller's directory, owned by the caller. */
async function takeOfferOnce(
  ctx: OffersContext,
  principal: Principal,
  subscriptionId: string,
  input: { displayName: string; offerId: string },
) {
  // Self-service: anyone admitted takes a public offer, into a subscription of its own directory.
  noteRightsChecked(principal);
  if (!isGuid(subscriptionId)) throw armErrors.invalidSubscriptionId(subscriptionId);
  const existing = await armStore.getSubscription(ctx.arm.db, subscriptionId.toLowerCase());
  if (existing) {
    if (existing.state === 'Deleted' || existing.tenant_id !== principal.tenantId) {
      throw armError('SubscriptionIdAlreadyExists', `The subscription id '${subscriptionId}' is already in use.`);
    }
    await authorize(
      ctx.arm,
      principal,
      'Microsoft.Resources/subscriptions/write',
      `/subscriptions/${existing.subscription_id}`,
    );
    return { subscription: existing, created: false };
  }
  const name = offerNameOf(input.offerId);
  const offer = name ? await offersStore.offerByName(ctx.db, name) : undefined;
  if (offer?.state !== 'Public') throw offersErrors.offerNotAvailable(input.offerId);
  const offerId = tenantOfferId(offer.name);
  const owner = principal.userPrincipalName ?? principal.objectId;
  if (
    offer.max_subscriptions_per_account !== null &&
    (await armStore.liveSubscriptionsOfOwner(ctx.arm.db, principal.tenantId, owner, offerId)) >=
      offer.max_subscriptions_per_account
  ) {
    throw offersErrors.tooManySubscriptions(offer.name, offer.max_subscriptions_per_account);
  }
  const subscription = await inTransaction(ctx.arm.db, async (db) => {
    const created = await createSubscription(
      ctx.arm,
      {
        subscriptionId,
        tenantId: principal.tenantId,
        displayName: input.displayName,
        owners: [{ principalId: principal.objectId, principalType: principal.kind }],
        createdBy: principal.objectId,
        offerId,
      },
      db,
    );
    await armStore.setSubscriptionOwner(db, created.subscription_id, owner);
    return { ...created, owner };
  });
  return { subscription, created: true };
}

/** The owner of a tenant subscription cancels it. */
export async function cancelSubscription(
  ctx: OffersContext,
  principal: Principal,
  subscriptionId: string,
): Promise<boolean> {
  if (!isGuid(subscriptionId)) throw armErrors.invalidSubscriptionId(subscriptionId);
  const sub = await armStore.getSubscription(ctx.arm.db, subscriptionId.toLowerCase());
  if (!sub || sub.state === 'Deleted') return false;
  await authorize(
    ctx.arm,
    principal,
    'Microsoft.Resources/subscriptions/delete',
    `/subscriptions/${sub.subscription_id}`,
  );
  await armStore.setSubscriptionState(ctx.arm.db, sub.subscription_id, 'Deleted');
  await ctx.onSubscriptionStateChanged?.(sub.subscription_id);
  return true;
}

export interface AdminSubscriptionInput {
  displayName?: string;
  offerId?: string;
  owner?: string;
  state?: string;
  tenantId?: string;
}

const ADMIN_STATES = ['Enabled', 'Disabled', 'Warned', 'PastDue', 'Deleted'];

/** The operator creates or changes a tenant subscription: its owner, its state (suspend = Disabled). */
async function putAdminSubscriptionOnce(
  ctx: OffersContext,
  principal: Principal,
  providerSubscriptionId: string,
  targetId: string,
  input: AdminSubscriptionInput,
) {
  await requireProviderScope(
    ctx,
    principal,
    providerSubscriptionId,
    'Microsoft.Subscriptions.Admin/subscriptions/write',
    `/subscriptions/${providerSubscriptionId}`,
  );
  if (!isGuid(targetId)) throw armErrors.invalidSubscriptionId(targetId);
  if (input.state !== undefined && !ADMIN_STATES.includes(input.state)) {
    throw armError(
      'InvalidSubscriptionState',
      `'${input.state}' is not a subscription state; use one of ${ADMIN_STATES.join(', ')}.`,
      'properties.state',
    );
  }
  let sub: SubscriptionsTable | undefined = await armStore.getSubscription(ctx.arm.db, targetId.toLowerCase());
  let created = false;
  if (!sub) {
    if (!input.offerId || !input.owner)
      throw armError('InvalidRequestContent', "A new subscription needs 'offerId' and 'owner'.", 'properties');
    const offer = await offersStore.offerByName(ctx.db, offerNameOf(input.offerId) ?? '');
    if (!offer) throw offersErrors.offerNotAvailable(input.offerId);
    const tenantId = input.tenantId;
    if (!tenantId || !isGuid(tenantId))
      throw armError(
        'InvalidRequestContent',
        "A new subscription needs the owner's directory as 'tenantId'.",
        'properties.tenantId',
      );
    const ownerId = await ctx.findUser(tenantId, input.owner);
    if (!ownerId)
      throw armError('InvalidOwner', `No user '${input.owner}' in the directory '${tenantId}'.`, 'properties.owner');
    sub = await createSubscription(ctx.arm, {
      subscriptionId: targetId,
      tenantId,
      displayName: input.displayName ?? input.owner,
      owners: [{ principalId: ownerId, principalType: 'User' }],
      createdBy: principal.objectId,
      offerId: tenantOfferId(offer.name),
    });
    await armStore.setSubscriptionOwner(ctx.arm.db, sub.subscription_id, input.owner);
    created = true;
  } else {
    if (input.owner !== undefined && input.owner !== sub.owner) {
      const ownerId = await ctx.findUser(sub.tenant_id, input.owner);
      if (!ownerId)
        throw armError(
          'InvalidOwner',
          `No user '${input.owner}' in the directory '${sub.tenant_id}'.`,
          'properties.owner',
        );
      const scope = `/subscriptions/${sub.subscription_id}`;
      if (!(await armStore.findEquivalentAssignment(ctx.arm.db, scopeKey(scope), OWNER, ownerId))) {
        await armStore.insertRoleAssignment(ctx.arm.db, {
          name: newGuid(),
          scope,
          scope_key: scopeKey(scope),
          subscription_id: sub.subscription_id,
          role_definition_id: OWNER,
          principal_id: ownerId,
          principal_type: 'User',
          created_at: ctx.arm.clock.now(),
          created_by: principal.objectId,
        });
      }
      await armStore.setSubscriptionOwner(ctx.arm.db, sub.subscription_id, input.owner);
    }
    if (input.state !== undefined && input.state !== sub.state) {
      await armStore.setSubscriptionState(ctx.arm.db, sub.subscription_id, input.state);
      await ctx.onSubscriptionStateChanged?.(sub.subscription_id);
    }
  }
  return { subscription: (await armStore.getSubscription(ctx.arm.db, sub.subscription_id))!, created };
}

export async function getAdminSubscription(
  ctx: OffersContext,
  principal: Principal,
  providerSubscriptionId: string,
  targetId: string,
) {
  await requireProviderScope(
    ctx,
    principal,
    providerSubscriptionId,
    'Microsoft.Subscriptions.Admin/subscriptions/read',
    `/subscriptions/${providerSubscriptionId}`,
  );
  const sub = isGuid(targetId) ? await armStore.getSubscription(ctx.arm.db, targetId.toLowerCase()) : undefined;
  if (!sub || sub.state === 'Deleted') throw armErrors.subscriptionNotFound(targetId);
  return sub;
}

export async function listAdminSubscriptions(
  ctx: OffersContext,
  principal: Principal,
  providerSubscriptionId: string,
  offset: number,
  limit: number,
) {
  await requireProviderScope(
    ctx,
    principal,
    providerSubscriptionId,
    'Microsoft.Subscriptions.Admin/subscriptions/read',
    `/subscriptions/${providerSubscriptionId}`,
  );
  return armStore.listSubscriptions(ctx.arm.db, offset, limit);
}

export async function deleteAdminSubscription(
  ctx: OffersContext,
  principal: Principal,
  providerSubscriptionId: string,
  targetId: string,
): Promise<boolean> {
  await requireProviderScope(
    ctx,
    principal,
    providerSubscriptionId,
    'Microsoft.Subscriptions.Admin/subscriptions/delete',
    `/subscriptions/${providerSubscriptionId}`,
  );
  const sub = isGuid(targetId) ? await armStore.getSubscription(ctx.arm.db, targetId.toLowerCase()) : undefined;
  if (!sub || sub.state === 'Deleted') return false;
  if (sub.subscription_id === ctx.providerSubscriptionId())
    throw armError('CannotDeleteProviderSubscription', 'The default provider subscription cannot be deleted.');
  await armStore.setSubscriptionState(ctx.arm.db, sub.subscription_id, 'Deleted');
  await ctx.onSubscriptionStateChanged?.(sub.subscription_id);
  return true;
}

export const offersNotFound = (name: string) => armErrors.namedResourceNotFound('offer', name);

/**
 * A fresh deployment's catalogue, so that a tenant can start at once: default compute, storage and
 * network quotas, a plan with them in the resource group `plans`, and a public offer of that plan.
 */
export async function createDefaultCatalog(ctx: OffersContext, providerSubscriptionId: string): Promise<void> {
  const location = ctx.arm.locations()[0];
  const now = ctx.arm.clock.now();
  const quotaIds: string[] = [];
  for (const kind of QUOTA_KINDS) {
    await offersStore.putQuota(ctx.db, {
      provider: kind.provider,
      location,
      name: 'default',
      name_key: 'default',
      subscription_id: providerSubscriptionId,
      properties: { ...kind.limits },
      created_at: now,
    });
    quotaIds.push(
      `/subscriptions/${providerSubscriptionId}/providers/${kind.provider}/locations/${location}/quotas/default`,
    );
  }
  await armStore.upsertResourceGroup(ctx.arm.db, {
    subscription_id: providerSubscriptionId,
    name_key: 'plans',
    name: 'plans',
    location,
    tags: {},
    managed_by: null,
    created_at: now,
  });
  const plan: PlansTable = {
    id: newGuid(),
    subscription_id: providerSubscriptionId,
    resource_group: 'plans',
    resource_group_key: 'plans',
    name: 'base-plan',
    name_key: 'base-plan',
    display_name: 'Base plan',
    description: 'Compute, storage and network with the default quotas.',
    external_reference_id: null,
    quota_ids: quotaIds,
    sku_ids: [],
    created_at: now,
  };
  await offersStore.putPlan(ctx.db, plan, false);
  await offersStore.putOffer(
    ctx.db,
    {
      id: newGuid(),
      subscription_id: providerSubscriptionId,
      resource_group: 'plans',
      resource_group_key: 'plans',
      name: 'base-offer',
      name_key: 'base-offer',
      display_name: 'Base offer',
      description: 'Virtual machines, storage and public IP addresses on this deployment.',
      external_reference_id: null,
      state: 'Public',
      max_subscriptions_per_account: null,
      base_plan_ids: [planResourceId(plan)],
      addon_plans: [],
      created_at: now,
    },
    false,
  );
}

/**
 * The limits a subscription's offer grants, per provider (its plans' quotas added up). A provider
 * with no quota in the plans is a service the offer does not include.
 */
export async function limitsOf(
  ctx: OffersContext,
  subscription: SubscriptionsTable,
): Promise<Map<string, Record<string, number>>> {
  const limits = new Map<string, Record<string, number>>();
  const offer = subscription.offer_id
    ? await offersStore.offerByName(ctx.db, offerNameOf(subscription.offer_id) ?? '')
    : undefined;
  if (!offer) return limits;
  for (const planId of offer.base_plan_ids) {
    const p = parsePlanId(planId);
    const plan = p && (await offersStore.getPlan(ctx.db, p.subscriptionId.toLowerCase(), p.resourceGroup, p.name));
    for (const quotaId of plan?.quota_ids ?? []) {
      const q = parseQuotaId(quotaId);
      const quota = q && (await offersStore.getQuota(ctx.db, q.provider, q.location, q.name));
      if (!quota) continue;
      const key = quota.provider.toLowerCase();
      const sum = limits.get(key) ?? {};
      for (const [k, v] of Object.entries(quota.properties)) if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + v;
      limits.set(key, sum);
    }
  }
  return limits;
}
