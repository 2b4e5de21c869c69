import type pg from 'pg';
import type { SystemRights } from '../arm/service.ts';
import type { ArmDb } from '../arm/store.ts';
import type { Clock } from '../core/clock.ts';
import { armError } from '../core/errors.ts';
import type { Principal } from '../core/principal.ts';
import type { IdentityDb } from '../identity/store.ts';
import { actingPartner } from '../partner/context.ts';
import type { PartnerDb } from '../partner/store.ts';
import type { BillingDb } from './store.ts';
import type { Seller, Stream } from './tables.ts';

// What billing's use cases (the billing run, invoices, prices, profiles, adjustments) share: the
// context the hub hands them, billing's vendor errors, and the caller as a seller.

export interface BillingContext {
  /** Billing's own tables, and those of the domains whose published queries it reads. */
  db: BillingDb & ArmDb & IdentityDb & PartnerDb;
  /** The same database's pool, for what Kysely cannot do: the exports' COPY. */
  pool: pg.Pool;
  clock: Clock;
  /** The provider's rights (prices, overrides, profiles, billing runs): roles at the root scope. */
  system: SystemRights;
}

export const PROVIDER: Seller = 'provider';
export const STREAMS: Stream[] = ['partner', 'customer'];

export const billingErrors = {
  periodNotEnded: (period: string, end: Date) =>
    armError(
      'BillingPeriodNotEnded',
      `The billing period '${period}' ends at ${end.toISOString()}; it cannot be closed before then.`,
    ),
  invoiceNotFound: (id: string) => armError('InvoiceNotFound', `The invoice '${id}' could not be found.`),
  notAPartner: (tenantId: string) =>
    armError(
      'AuthorizationFailed',
      `The directory '${tenantId}' is not a partner of this cloud; only partners sell and bill.`,
    ),
};

/** The caller as a seller: a partner bills its customers; the provider (system administrators) bills partners. */
export async function callerPartner(ctx: BillingContext, caller: Principal) {
  return actingPartner(ctx.db, caller);
}

export async function requireCallerPartner(ctx: BillingContext, caller: Principal) {
  const dir = await callerPartner(ctx, caller);
  if (!dir) throw billingErrors.notAPartner(caller.tenantId);
  return dir;
}
