import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { armStore } from '../arm/store.ts';
import { armError } from '../core/errors.ts';
import { isGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { notificationStore } from '../notifications/store.ts';
import { identityStore } from '../identity/store.ts';
import { partnerStore } from '../partner/store.ts';
import { billingErrors, PROVIDER, requireCallerPartner, type BillingContext } from './context.ts';
import { parseMoney } from './rules.ts';
import { takeNumber } from './invoice-writes.ts';
import { billingStore } from './store.ts';
import { transaction } from '../db/transactions.ts';

// Credits, adjustments and credit notes from a partner to its customers; and the provider's
// credits and adjustments to a partner (`level: 'provider'`, system administrators), which go on
// the partner's next invoice from the provider.

export interface AdjustmentInput {
  /** 'provider': the provider grants it to the partner `partnerId`; otherwise the calling partner to `customerId`. */
  level?: 'provider' | 'partner';
  partnerId?: string;
  customerId?: string;
  subscriptionId?: string;
  kind: 'credit' | 'adjustment';
  amount: unknown;
  description: string;
  reason: string;
  creditNoteFor?: string;
}

/** Who grants it to whom: a partner to one of its customers, or the provider to a partner. */
async function sellerAndBuyer(ctx: BillingContext, caller: Principal, input: AdjustmentInput) {
  if (input.level === 'provider') {
    await ctx.system.require(caller, 'Stackledger.Billing/adjustments/write');
    const partnerId = input.partnerId ?? '';
    const dir = isGuid(partnerId) ? await identityStore.getDirectory(ctx.db, partnerId.toLowerCase()) : undefined;
    if (dir?.kind !== 'partner')
      throw armError('PartnerNotFound', `The partner '${partnerId}' does not exist.`, 'partnerId');
    if (input.creditNoteFor)
      throw armError(
        'InvalidCreditNote',
        "The provider's credits go on the partner's next invoice; creditNoteFor is for a partner's invoices to its customers.",
        'creditNoteFor',
      );
    return { seller: PROVIDER, buyerId: dir.tenant_id, buyerName: 'partner' };
  }
  const partner = await requireCallerPartner(ctx, caller);
  const customerId = input.customerId ?? '';
  const customer = isGuid(customerId)
    ? await partnerStore.getCustomer(ctx.db, partner.tenant_id, customerId.toLowerCase())
    : undefined;
  if (!customer)
    throw armError(
      'CustomerNotFound',
      `The customer '${customerId}' is not one of this partner's customers.`,
      'customerId',
    );
  return { seller: partner.tenant_id, buyerId: customer.id, buyerName: 'customer' };
}

/**
 * A credit or adjustment from a partner to one of its customers, or from the provider to a
 * partner. It goes on the buyer's next invoice as its own line, naming who and why; with `creditNoteFor` it corrects a closed invoice
 * at once as a credit note, a document of its own (the closed invoice never changes).
 */
export async function addAdjustment(ctx: BillingContext, caller: Principal, input: AdjustmentInput) {
  const { seller, buyerId, buyerName } = await sellerAndBuyer(ctx, caller, input);
  if (!['credit', 'adjustment'].includes(input.kind))
    throw armError('InvalidAdjustmentKind', `kind '${input.kind}' must be credit or adjustment.`, 'kind');
  const amount = parseMoney(input.amount, 'amount');
  if (input.kind === 'credit' && new Decimal(amount).gt(0))
    throw armError('InvalidAmount', 'A credit is a negative amount.', 'amount');
  if (!input.reason?.trim())
    throw armError('ReasonRequired', 'Say why: a credit or adjustment needs a reason.', 'reason');
  const subscriptionId = input.subscriptionId?.toLowerCase() ?? null;
  if (subscriptionId) {
    const sub = isGuid(subscriptionId) ? await armStore.getSubscription(ctx.db, subscriptionId) : undefined;
    // A customer's own subscription; for a partner, one it sold or its own.
    const buyers = seller === PROVIDER ? [sub?.sold_by ?? sub?.tenant_id] : [sub?.tenant_id];
    if (!sub || !buyers.includes(buyerId))
      throw armError(
        'InvalidResourceReference',
        `The subscription '${input.subscriptionId}' is not the ${buyerName}'s.`,
        'subscriptionId',
      );
  }
  const at = ctx.clock.now();
  // The adjustment as stored, whether or not a credit note goes with it.
  const adjustment = {
    seller,
    customerId: buyerId,
    subscriptionId,
    kind: input.kind,
    amount,
    description: input.description,
    reason: input.reason,
    by: caller.objectId,
    at,
  };
  if (input.creditNoteFor) {
    const of = await billingStore.findInvoice(ctx.db, input.creditNoteFor, { sellers: [seller] });
    // Only a finalized invoice is corrected by a credit note: a draft takes credits as lines.
    if (
      of?.stream !== 'customer' ||
      of.kind !== 'invoice' ||
      of.status !== 'finalized' ||
      of.seller !== seller ||
      of.buyer_id !== buyerId
    ) {
      throw billingErrors.invoiceNotFound(input.creditNoteFor);
    }
    const id = randomUUID();
    return transaction(ctx.db, async (tx) => {
      await billingStore.insertAdjustment(tx, { ...adjustment, creditNoteFor: of.id });
      await billingStore.insertCreditNote(tx, {
        id,
        number: await takeNumber(tx, seller, 'CN'),
        of,
        amount,
        description: input.description,
        reason: input.reason,
        by: caller.objectId,
        at,
        subscriptionId,
      });
      const note = await tx.selectFrom('invoices').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      await notificationStore.record(tx, [
        {
          key: `creditnote.created:${id}`,
          type: 'creditnote.created',
          occurredAt: at,
          data: { creditNote: note.number, for: of.number, amount, currency: note.currency, customerId: buyerId },
          partnerId: seller,
          customerId: buyerId,
        },
      ]);
      return { creditNote: note.number, for: of.number, amount };
    });
  }
  const id = await billingStore.insertAdjustment(ctx.db, { ...adjustment, creditNoteFor: null });
  return {
    id,
    ...(seller === PROVIDER ? { level: 'provider', partnerId: buyerId } : { customerId: buyerId }),
    kind: input.kind,
    amount,
    description: input.description,
    reason: input.reason,
    createdBy: caller.objectId,
    createdAt: at.toISOString(),
  };
}
