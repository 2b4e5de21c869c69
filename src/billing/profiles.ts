import { Decimal } from 'decimal.js';
import { armErrors, armError } from '../core/errors.ts';
import { isGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { identityStore } from '../identity/store.ts';
import { partnerStore } from '../partner/store.ts';
import { parseDecimal } from '../rating/rules.ts';
import { PROVIDER, requireCallerPartner, type BillingContext } from './context.ts';
import { billingStore } from './store.ts';
import type { Seller } from './tables.ts';

// Billing profiles: a seller's billing day, tax rate and grace period, its default or for one buyer.

export async function setProfile(
  ctx: BillingContext,
  caller: Principal,
  target: string,
  body: { billingDay?: number; taxRate?: unknown; gracePeriodDays?: number; level?: 'provider' | 'partner' },
) {
  let seller: Seller;
  let customerId: string | null = null;
  if (body.level === 'provider') {
    await ctx.system.require(caller, 'Stackledger.Billing/billingProfiles/write');
    seller = PROVIDER;
    if (target !== 'default') {
      const dir = isGuid(target) ? await identityStore.getDirectory(ctx.db, target.toLowerCase()) : undefined;
      if (dir?.kind !== 'partner') throw armErrors.resourceNotFound('Stackledger.Billing/billingProfiles', target);
      customerId = dir.tenant_id;
    }
  } else {
    seller = (await requireCallerPartner(ctx, caller)).tenant_id;
    if (target !== 'default') {
      const c = isGuid(target) ? await partnerStore.getCustomer(ctx.db, seller, target.toLowerCase()) : undefined;
      if (!c) throw armErrors.resourceNotFound('Stackledger.Billing/billingProfiles', target);
      customerId = c.id;
    }
  }
  const day = body.billingDay ?? 1;
  if (!Number.isInteger(day) || day < 1 || day > 28)
    throw armError('InvalidBillingDay', `The billing day '${day}' must be an integer from 1 to 28.`, 'billingDay');
  const taxRate = parseDecimal(body.taxRate ?? '0', 'taxRate');
  if (new Decimal(taxRate).gte(100))
    throw armError('InvalidTaxRate', 'A tax rate is a percentage below 100.', 'taxRate');
  const graceDays = body.gracePeriodDays ?? 0;
  // Shorter than any period (28 days at least), so a draft is finalized before the next period ends.
  if (!Number.isInteger(graceDays) || graceDays < 0 || graceDays > 27)
    throw armError(
      'InvalidGracePeriod',
      `The grace period '${graceDays}' must be a whole number of days from 0 to 27.`,
      'gracePeriodDays',
    );
  await billingStore.upsertProfile(ctx.db, {
    seller,
    customerId,
    billingDay: day,
    taxRate,
    graceDays,
    by: caller.objectId,
    at: ctx.clock.now(),
  });
  return { seller, customerId, billingDay: day, taxRate, gracePeriodDays: graceDays };
}
