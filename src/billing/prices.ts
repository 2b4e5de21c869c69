import { Decimal } from 'decimal.js';
import { armError } from '../core/errors.ts';
import { isGuid } from '../core/ids.ts';
import type { Cursor } from '../core/paging.ts';
import type { Principal } from '../core/principal.ts';
import { partnerStore } from '../partner/store.ts';
import { parseDecimal, parseEffectiveDate, requireMeterId } from '../rating/rules.ts';
import { setPrice, type PriceInput } from '../rating/service.ts';
import { pricingStore } from '../rating/store.ts';
import { PROVIDER, requireCallerPartner, type BillingContext } from './context.ts';
import type { Seller } from './tables.ts';

// Prices and overrides as billing's API sets and reads them: the list price sheet, and sellers'
// markups, discounts and fixed prices.

export async function setListPrice(
  ctx: BillingContext,
  caller: Principal,
  sheet: string,
  meterIdText: string,
  body: PriceInput,
) {
  return setPrice({ db: ctx.db, clock: ctx.clock, rights: ctx.system }, caller, sheet, meterIdText, body);
}

/** Price sheets are read by who sets them (system administrators) and by the partners buying under them. */
export async function mayReadPriceSheets(ctx: BillingContext, caller: Principal): Promise<void> {
  if (await ctx.system.may(caller, 'Stackledger.Billing/priceSheets/read')) return;
  await requireCallerPartner(ctx, caller);
}

/**
 * Overrides: a seller's own (the provider's for system administrators, a partner's for the
 * partner); and, with `level=provider`, a partner reads the provider's overrides that price its
 * own purchases (for every partner, or for it). A page (OVERRIDE_ORDER).
 */
export async function readableOverrides(
  ctx: BillingContext,
  caller: Principal,
  level: 'provider' | 'partner',
  cursor: Cursor,
) {
  if (level === 'provider' && (await ctx.system.may(caller, 'Stackledger.Billing/priceOverrides/read')))
    return pricingStore.overrides(ctx.db, cursor, PROVIDER);
  const partner = await requireCallerPartner(ctx, caller);
  return level === 'provider'
    ? pricingStore.overrides(ctx.db, cursor, PROVIDER, partner.tenant_id)
    : pricingStore.overrides(ctx.db, cursor, partner.tenant_id);
}

export interface OverrideInput {
  level?: 'provider' | 'partner';
  customerId?: string;
  offerId?: string;
  meterId?: string;
  kind: string;
  value: unknown;
  effectiveFrom: unknown;
  reason: string;
}

export async function addOverride(ctx: BillingContext, caller: Principal, input: OverrideInput) {
  let seller: Seller;
  if (input.level === 'provider') {
    await ctx.system.require(caller, 'Stackledger.Billing/priceOverrides/write');
    seller = PROVIDER;
  } else {
    seller = (await requireCallerPartner(ctx, caller)).tenant_id;
    if (
      input.customerId &&
      !(isGuid(input.customerId) && (await partnerStore.getCustomer(ctx.db, seller, input.customerId.toLowerCase())))
    ) {
      throw armError(
        'CustomerNotFound',
        `The customer '${input.customerId}' is not one of this partner's customers.`,
        'customerId',
      );
    }
  }
  if (input.level === 'provider' && input.customerId && !isGuid(input.customerId))
    throw armError('InvalidCustomerId', `'${input.customerId}' is not a GUID.`, 'customerId');
  if (!['markup', 'discount', 'fixed'].includes(input.kind))
    throw armError('InvalidOverrideKind', `kind '${input.kind}' must be markup, discount or fixed.`, 'kind');
  const value = parseDecimal(input.value, 'value');
  if (input.kind === 'discount' && new Decimal(value).gt(100))
    throw armError('InvalidPrice', 'A discount is at most 100 percent.', 'value');
  const meterId = input.meterId ? requireMeterId(input.meterId) : null;
  const effectiveFrom = parseEffectiveDate(input.effectiveFrom, ctx.clock.now());
  // What is stored and answered alike (the customer id is stored lower-cased, answered as given).
  const override = {
    offerId: input.offerId ?? null,
    meterId,
    kind: input.kind,
    value,
    effectiveFrom,
    reason: input.reason,
  };
  const id = await pricingStore.addOverride(ctx.db, {
    seller,
    customerId: input.customerId?.toLowerCase() ?? null,
    ...override,
    by: caller.objectId,
    at: ctx.clock.now(),
  });
  return { id, seller, customerId: input.customerId ?? null, ...override };
}
