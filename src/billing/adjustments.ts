import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { armStore } from '../arm/store.ts';
import { armError } from '../core/errors.ts';
import { isGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { notificationStore } from '../notifications/store.ts';
import { partnerStore } from '../partner/store.ts';
import { billingErrors, requireCallerPartner, type BillingContext } from './context.ts';
import { parseMoney } from './rules.ts';
import { takeNumber } from './invoice-writes.ts';
import { billingStore } from './store.ts';

// Credits, adjustments and credit notes from a partner to its customers.

export interface AdjustmentInput {
  customerId: string;
  subscriptionId?: string;
  kind: 'credit' | 'adjustment';
  amount: unknown;
  description: string;
  reason: string;
  creditNoteFor?: string;
}

/**
 * A credit or adjustment from a partner to one of its customers. It goes on the customer's next
 * invoice as its own line, naming who and why; with `creditNoteFor` it corrects a closed invoice
 * at once as a credit note, a document of its own (the closed invoice never changes).
 */
export async function addAdjustment(ctx: BillingContext, caller: Principal, input: AdjustmentInput) {
  const partner = await requireCallerPartner(ctx, caller);
  const customer = isGuid(input.customerId)
    ? await partnerStore.getCustomer(ctx.db, partner.tenant_id, input.customerId.toLowerCase())
    : undefined;
  if (!customer)
    throw armError(
      'CustomerNotFound',
      `The customer '${input.customerId}' is not one of this partner's customers.`,
      'customerId',
    );
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
    if (sub?.tenant_id !== customer.id)
      throw armError(
        'InvalidResourceReference',
        `The subscription '${input.subscriptionId}' is not the customer's.`,
        'subscriptionId',
      );
  }
  const at = ctx.clock.now();
  // The adjustment as stored, whether or not a credit note goes with it.
  const adjustment = {
    seller: partner.tenant_id,
    customerId: customer.id,
    subscriptionId,
    kind: input.kind,
    amount,
    description: input.description,
    reason: input.reason,
    by: caller.objectId,
    at,
  };
  if (input.creditNoteFor) {
    const of = await billingStore.findInvoice(ctx.db, input.creditNoteFor, { sellers: [partner.tenant_id] });
    // Only a finalized invoice is corrected by a credit note: a draft takes credits as lines.
    if (
      of?.stream !== 'customer' ||
      of.kind !== 'invoice' ||
      of.status !== 'finalized' ||
      of.buyer_id !== customer.id
    ) {
      throw billingErrors.invoiceNotFound(input.creditNoteFor);
    }
    const id = randomUUID();
    return ctx.db.transaction().execute(async (tx) => {
      await billingStore.insertAdjustment(tx, { ...adjustment, creditNoteFor: of.id });
      await billingStore.insertCreditNote(tx, {
        id,
        number: await takeNumber(tx, partner.tenant_id, 'CN'),
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
          data: { creditNote: note.number, for: of.number, amount, currency: note.currency, customerId: customer.id },
          partnerId: partner.tenant_id,
          customerId: customer.id,
        },
      ]);
      return { creditNote: note.number, for: of.number, amount };
    });
  }
  const id = await billingStore.insertAdjustment(ctx.db, { ...adjustment, creditNoteFor: null });
  return {
    id,
    customerId: customer.id,
    kind: input.kind,
    amount,
    description: input.description,
    reason: input.reason,
    createdBy: caller.objectId,
    createdAt: at.toISOString(),
  };
}
