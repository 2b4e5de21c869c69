import { requireResourceGroup } from '../../arm/service.ts';
import { armErrors } from '../../core/errors.ts';
import { armStore } from '../../arm/store.ts';
import { namedRowIdentity } from '../../arm/service.ts';
import type { SubscriptionsTable } from '../../arm/tables.ts';
import type { Cursor } from '../../core/paging.ts';
import type { Principal } from '../../core/principal.ts';
import { retryOnceOnUniqueViolation } from '../../db/database.ts';
import { readCatalogItem, requireProviderScope, type CatalogRef, type OffersContext } from './context.ts';
import { planIdOf } from './plans.ts';
import {
  catalogText,
  offerNameOf,
  offerResourceId,
  offersErrors,
  parsePlanId,
  parseQuotaId,
  tenantOfferId,
  type CatalogTextInput,
} from './rules.ts';
import { offersStore } from './store.ts';
import type { OffersTable } from './tables.ts';

// Offers: plans put up for tenants to take (Private, Public, Decommissioned), and the limits an
// offer grants a subscription.

export interface OfferInput extends CatalogTextInput {
  state?: OffersTable['state'];
  maxSubscriptionsPerAccount?: number;
  basePlanIds?: string[];
  addonPlans?: { planId: string; maxAcquisitionCount?: number }[];
}

const offerScope = (r: CatalogRef) => offerResourceId(r.subscriptionId, r.resourceGroup, r.name);

export const offersNotFound = (name: string) => armErrors.namedResourceNotFound('offer', name);

async function requirePlans(ctx: OffersContext, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const id of ids) {
    const p = parsePlanId(id);
    const plan = p && (await offersStore.getPlan(ctx.db, p.subscriptionId.toLowerCase(), p.resourceGroup, p.name));
    if (!plan) throw offersErrors.planNotFound(id);
    out.push(planIdOf(plan));
  }
  return out;
}

// A PUT that two callers send at once: the loser of the race to create runs again as the update.
export const putOffer = (...args: Parameters<typeof putOfferOnce>) =>
  retryOnceOnUniqueViolation(() => putOfferOnce(...args));

async function putOfferOnce(ctx: OffersContext, principal: Principal, ref: CatalogRef, input: OfferInput) {
  const sub = await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    'Microsoft.Subscriptions.Admin/offers/write',
    offerScope(ref),
  );
  // Plans and offers are kept in a resource group of the provider subscription.
  await requireResourceGroup(ctx.arm, sub.subscription_id, ref.resourceGroup);
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

export const getOffer = (ctx: OffersContext, principal: Principal, ref: CatalogRef): Promise<OffersTable> =>
  readCatalogItem(
    ctx,
    principal,
    ref,
    { action: 'Microsoft.Subscriptions.Admin/offers/read', scope: offerScope(ref) },
    offersStore.getOffer,
    offersNotFound,
  );

export async function listOffers(
  ctx: OffersContext,
  principal: Principal,
  subscriptionId: string,
  resourceGroup: string | undefined,
  cursor: Cursor,
) {
  const sub = await requireProviderScope(
    ctx,
    principal,
    subscriptionId,
    'Microsoft.Subscriptions.Admin/offers/read',
    `/subscriptions/${subscriptionId}`,
  );
  return offersStore.listOffers(ctx.db, { subscriptionId: sub.subscription_id, resourceGroup }, cursor);
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
  const planId = plan ? planIdOf(plan) : undefined;
  if (!planId) throw offersErrors.planNotFound(planName);
  const others = offer.base_plan_ids.filter((p) => p.toLowerCase() !== planId.toLowerCase());
  return putOffer(ctx, principal, ref, { basePlanIds: link ? [...others, planId] : others });
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
