import { armErrors, armError } from '../../core/errors.ts';
import type { Cursor } from '../../core/paging.ts';
import type { Principal } from '../../core/principal.ts';
import { retryOnceOnUniqueViolation } from '../../db/database.ts';
import { requireProviderScope, type OffersContext } from './context.ts';
import { quotaKind, quotaProperties, quotaResourceId } from './rules.ts';
import { offersStore } from './store.ts';
import type { QuotasTable } from './tables.ts';

// Quotas of the compute, storage and network providers, per location, kept by the operator.

export interface QuotaRef {
  subscriptionId: string;
  provider: string;
  location: string;
  name: string;
}

const quotaScope = (r: QuotaRef) => quotaResourceId(r.subscriptionId, r.provider, r.location, r.name);

/** A right on one quota, held on the default provider subscription. */
const requireQuotaRight = (
  ctx: OffersContext,
  principal: Principal,
  ref: QuotaRef,
  verb: 'read' | 'write' | 'delete',
) =>
  requireProviderScope(ctx, principal, ref.subscriptionId, `${ref.provider}/locations/quotas/${verb}`, quotaScope(ref));

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

// A PUT that two callers send at once: the loser of the race to create runs again as the update.
export const putQuota = (...args: Parameters<typeof putQuotaOnce>) =>
  retryOnceOnUniqueViolation(() => putQuotaOnce(...args));

async function putQuotaOnce(
  ctx: OffersContext,
  principal: Principal,
  ref: QuotaRef,
  given: Record<string, unknown> | undefined,
) {
  const sub = await requireQuotaRight(ctx, principal, ref, 'write');
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
  await requireQuotaRight(ctx, principal, ref, 'read');
  const row = await offersStore.getQuota(ctx.db, ref.provider, ref.location, ref.name);
  if (!row) throw armErrors.namedResourceNotFound('quota', ref.name);
  return row;
}

export async function listQuotas(
  ctx: OffersContext,
  principal: Principal,
  ref: Omit<QuotaRef, 'name'>,
  cursor: Cursor,
) {
  await requireProviderScope(
    ctx,
    principal,
    ref.subscriptionId,
    `${ref.provider}/locations/quotas/read`,
    `/subscriptions/${ref.subscriptionId}`,
  );
  return offersStore.listQuotas(ctx.db, ref.provider, ref.location, cursor);
}

export async function deleteQuota(ctx: OffersContext, principal: Principal, ref: QuotaRef): Promise<boolean> {
  await requireQuotaRight(ctx, principal, ref, 'delete');
  return offersStore.deleteQuota(ctx.db, ref.provider, ref.location, ref.name);
}
