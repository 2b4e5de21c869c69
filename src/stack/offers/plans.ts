import { requireResourceGroup } from '../../arm/service.ts';
import { armErrors } from '../../core/errors.ts';
import { namedRowIdentity } from '../../arm/service.ts';
import type { Cursor } from '../../core/paging.ts';
import type { Principal } from '../../core/principal.ts';
import { retryOnceOnUniqueViolation } from '../../db/database.ts';
import { readCatalogItem, requireProviderScope, type CatalogRef, type OffersContext } from './context.ts';
import { catalogText, offersErrors, parseQuotaId, planResourceId, type CatalogTextInput } from './rules.ts';
import { offersStore } from './store.ts';
import type { PlansTable } from './tables.ts';

// Plans: sets of quotas, which offers are made of.

export interface PlanInput extends CatalogTextInput {
  quotaIds?: string[];
  skuIds?: string[];
}

const planScope = (r: CatalogRef) => planResourceId(r.subscriptionId, r.resourceGroup, r.name);

/** A stored plan's id, as offers name it. */
export const planIdOf = (p: PlansTable) => planResourceId(p.subscription_id, p.resource_group, p.name);

// A PUT that two callers send at once: the loser of the race to create runs again as the update.
export const putPlan = (...args: Parameters<typeof putPlanOnce>) =>
  retryOnceOnUniqueViolation(() => putPlanOnce(...args));

async function putPlanOnce(ctx: OffersContext, principal: Principal, ref: CatalogRef, input: PlanInput) {
  const sub = await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    'Microsoft.Subscriptions.Admin/plans/write',
    planScope(ref),
  );
  // Plans and offers are kept in a resource group of the provider subscription.
  await requireResourceGroup(ctx.arm, sub.subscription_id, ref.resourceGroup);
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

export const getPlan = (ctx: OffersContext, principal: Principal, ref: CatalogRef): Promise<PlansTable> =>
  readCatalogItem(
    ctx,
    principal,
    ref,
    { action: 'Microsoft.Subscriptions.Admin/plans/read', scope: planScope(ref) },
    offersStore.getPlan,
    (name) => armErrors.namedResourceNotFound('plan', name),
  );

export async function listPlans(
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
    'Microsoft.Subscriptions.Admin/plans/read',
    `/subscriptions/${subscriptionId}`,
  );
  return offersStore.listPlans(ctx.db, sub.subscription_id, resourceGroup, cursor);
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
  if ((await offersStore.offersUsingPlan(ctx.db, planIdOf(row))).length > 0) throw offersErrors.planInUse(row.name);
  await offersStore.deletePlan(ctx.db, row.id);
  return true;
}
