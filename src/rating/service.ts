import type { SystemRights } from '../arm/service.ts';
import type { Clock } from '../core/clock.ts';
import { armErrors } from '../core/errors.ts';
import type { Principal } from '../core/principal.ts';
import { parseEffectiveDate, parseTiers, requireMeterId } from './rules.ts';
import { pricingStore, type PricingDb } from './store.ts';

// Use cases of price sheets, in both roles: the hub's list prices and a stack's chargeback sheet
// are set by the same rule, each by who holds the role's rights at `/`.

export interface PriceInput {
  effectiveFrom: unknown;
  tiers: { fromQuantity?: unknown; unitPrice: unknown }[];
}

/** Replaces a meter's tiers on a sheet from a day on (today or later), for a caller the role's rights allow. */
export async function setPrice(
  ctx: { db: PricingDb; clock: Clock; rights: SystemRights },
  caller: Principal,
  sheet: string,
  meterIdText: string,
  body: PriceInput,
) {
  await ctx.rights.require(caller, 'Stackledger.Billing/priceSheets/write');
  if (!(await pricingStore.sheet(ctx.db, sheet)))
    throw armErrors.resourceNotFound('Stackledger.Billing/priceSheets', sheet);
  const meterId = requireMeterId(meterIdText);
  const effectiveFrom = parseEffectiveDate(body.effectiveFrom, ctx.clock.now());
  const tiers = parseTiers(body.tiers);
  await pricingStore.setPrice(ctx.db, {
    sheet,
    meterId,
    effectiveFrom,
    tiers,
    by: caller.objectId,
    at: ctx.clock.now(),
  });
  return { meterId, effectiveFrom, tiers };
}
