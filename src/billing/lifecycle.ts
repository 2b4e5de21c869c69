import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { recordChanges } from '../audit/service.ts';
import type { AuditDb } from '../audit/store.ts';
import type { TablesOf } from '../db/database.ts';
import { armError } from '../core/errors.ts';
import type { Principal } from '../core/principal.ts';
import { notificationStore } from '../notifications/store.ts';
import { billingErrors, callerPartner, PROVIDER, type BillingContext } from './context.ts';
import { lockCounters, numberPrefix, takeBack, takeNumber, writeInvoices } from './invoice-writes.ts';
import type { InvoiceWindow } from './rated-store.ts';
import { type BillingDb, billingStore } from './store.ts';
import type { InvoicesTable, Seller } from './tables.ts';
import { transaction } from '../db/transactions.ts';

// An invoice's life after its period closes: a draft during its seller's grace period (re-rated
// on demand, late usage of its days landing on it), finalized by the billing job when the grace
// ends or by the seller's approval, and voided with a reason, which issues a credit note for its
// full amount and a new invoice for the same period from the current usage and prices.

/** Who acts when the billing job finalizes a draft whose grace period ended. */
export const BILLING_JOB: Principal = {
  tenantId: '00000000-0000-0000-0000-000000000000',
  objectId: '00000000-0000-0000-0000-000000000000',
  kind: 'ServicePrincipal',
  appId: 'stackledger-billing-job',
  displayName: 'billing job',
  audience: 'stackledger',
};

export const lifecycleErrors = {
  notDraft: (name: string) =>
    armError('InvoiceNotDraft', `The invoice '${name}' is not a draft: a finalized invoice never changes.`),
  notFinalized: (name: string) =>
    armError('InvoiceNotFinalized', `The invoice '${name}' is not a finalized invoice: only those can be voided.`),
  notVoidable: (name: string) =>
    armError(
      'InvoiceNotVoidable',
      `The invoice '${name}' was closed before this version recorded what each invoice billed; issue a credit note instead.`,
    ),
  reasonRequired: () => armError('ReasonRequired', 'Say why: voiding an invoice needs a reason.', 'reason'),
};

/**
 * The sellers the caller acts as: a partner for its invoices to its customers, the system
 * administrators for the provider's invoices to partners (the CSP's own directory may be both);
 * none for anyone else (a buyer).
 */
export async function callerSellers(ctx: BillingContext, caller: Principal): Promise<Seller[]> {
  const [partner, system] = await Promise.all([
    callerPartner(ctx, caller),
    ctx.system.may(caller, 'Stackledger.Billing/invoices/action'),
  ]);
  return [...(partner ? [partner.tenant_id] : []), ...(system ? [PROVIDER] : [])];
}

/**
 * An invoice (a draft by its name, else by its number; with `draftName`, a finalized one by its
 * draft's name too) of the caller's own sales; 404 for anyone else.
 */
export async function sellerInvoice(
  ctx: BillingContext,
  caller: Principal,
  name: string,
  f: { draftName?: boolean } = {},
): Promise<InvoicesTable> {
  const sellers = await callerSellers(ctx, caller);
  const inv = sellers.length > 0 ? await billingStore.findInvoice(ctx.db, name, { sellers, ...f }) : undefined;
  if (!inv) throw billingErrors.invoiceNotFound(name);
  return inv;
}

const windowOf = (inv: InvoicesTable): InvoiceWindow => ({
  invoiceId: inv.id,
  seller: inv.seller,
  buyerId: inv.buyer_id,
  periodStart: inv.period_start,
  periodEnd: inv.period_end,
  taxRate: inv.tax_rate,
});

/** The invoice, locked for the transaction (the row as it is once earlier holders committed). */
async function lockInvoice(tx: BillingDb, id: string): Promise<InvoicesTable | undefined> {
  return tx.selectFrom('invoices').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Whose activity log an invoice's steps go to: the partner that sells it, or the partner that buys it from the provider. */
const logged = (inv: InvoicesTable, operation: string, oldValue: unknown, newValue: unknown) => ({
  directoryId: inv.seller === PROVIDER ? inv.buyer_id : inv.seller,
  partnerId: inv.seller === PROVIDER ? inv.buyer_id : inv.seller,
  operation,
  resourceType: 'invoice',
  resourceId: inv.id,
  oldValue,
  newValue,
});
// The hub's one database holds the activity log; billing's transactions are typed with its own tables.
const audit = (tx: BillingDb): AuditDb => tx.withTables<TablesOf<AuditDb>>();

/**
 * Under the draft's row lock, rates it again from the current usage, prices and credits, written
 * with `invoiceDate` and `status`. Answers the draft as it was, or undefined (nothing done) when it
 * is no longer a draft.
 */
async function rateDraftAgain(
  tx: BillingDb,
  id: string,
  to: { invoiceDate?: Date; status: 'draft' | 'finalized' },
): Promise<InvoicesTable | undefined> {
  const inv = await lockInvoice(tx, id);
  if (inv?.status !== 'draft') return undefined;
  await lockCounters(tx, [inv.seller], numberPrefix(inv.stream));
  await takeBack(tx, inv.id);
  await writeInvoices(tx, {
    stream: inv.stream,
    period: inv.period,
    windows: [windowOf(inv)],
    invoiceDate: to.invoiceDate ?? inv.invoice_date,
    currency: inv.currency,
    status: to.status,
    write: 'update',
  });
  return inv;
}

/** Rates a draft again from the current usage, prices and credits; nothing when it is no longer a draft. */
export async function rerateDraft(ctx: BillingContext, id: string): Promise<void> {
  await transaction(ctx.db, (tx) => rateDraftAgain(tx, id, { status: 'draft' }));
}

/**
 * Finalizes a draft: rated one last time, numbered from its seller's counter, `invoice.finalized`
 * recorded, all in one transaction. Answers the finalized invoice, or undefined when it was no
 * longer a draft (a concurrent approval or the job finalized it first: one number is taken).
 */
export async function finalizeDraft(
  ctx: BillingContext,
  id: string,
  actor: Principal,
): Promise<InvoicesTable | undefined> {
  const at = ctx.clock.now();
  return transaction(ctx.db, async (tx) => {
    const inv = await rateDraftAgain(tx, id, { invoiceDate: at, status: 'finalized' });
    if (!inv) return undefined;
    const done = await billingStore.invoiceById(tx, inv.id);
    await recordChanges(audit(tx), actor, at, [
      logged(inv, 'FinalizeInvoice', { name: inv.name, status: 'Draft' }, { number: done?.number, total: done?.total }),
    ]);
    return done;
  });
}

/**
 * The approval: the seller's administrators finalize a draft before its grace period ends. The
 * draft's name still finds it once finalized, so a second approval answers 409 `InvoiceNotDraft`
 * whether it read the draft before the first committed (and found it finalized under the lock) or
 * after: two at once answer as two one after the other.
 */
export async function approveDraft(ctx: BillingContext, caller: Principal, name: string): Promise<InvoicesTable> {
  const inv = await sellerInvoice(ctx, caller, name, { draftName: true });
  if (inv.status !== 'draft') throw lifecycleErrors.notDraft(name);
  const done = await finalizeDraft(ctx, inv.id, caller);
  if (!done) throw lifecycleErrors.notDraft(name);
  return done;
}

/** The billing job: finalizes every draft whose grace period has ended by `now`. */
export async function finalizeDueDrafts(ctx: BillingContext, now: Date): Promise<number> {
  const due = await billingStore.draftsDue(ctx.db, now);
  let finalized = 0;
  for (const d of due) if (await finalizeDraft(ctx, d.id, BILLING_JOB)) finalized++;
  return finalized;
}

/**
 * Voids a finalized invoice: it becomes `Voided` (with who, when and why), a credit note for its
 * full amount is issued, what it billed is taken back, and a new invoice for the same period is
 * rated from the current usage and prices and finalized, replacing it. One transaction.
 */
export async function voidInvoice(
  ctx: BillingContext,
  caller: Principal,
  name: string,
  reason: unknown,
): Promise<{ voided: InvoicesTable; creditNote: InvoicesTable; replacement: InvoicesTable }> {
  const found = await sellerInvoice(ctx, caller, name);
  if (typeof reason !== 'string' || !reason.trim()) throw lifecycleErrors.reasonRequired();
  const at = ctx.clock.now();
  return transaction(ctx.db, async (tx) => {
    const inv = await lockInvoice(tx, found.id);
    if (inv?.status !== 'finalized' || inv.kind !== 'invoice') throw lifecycleErrors.notFinalized(name);
    if (!inv.billed_recorded) throw lifecycleErrors.notVoidable(name);
    await lockCounters(tx, [inv.seller], numberPrefix(inv.stream));
    await billingStore.markVoided(tx, inv.id, { reason, by: caller.objectId, at });
    const noteId = randomUUID();
    await billingStore.insertCreditNote(tx, {
      id: noteId,
      number: await takeNumber(tx, inv.seller, 'CN'),
      of: inv,
      amount: new Decimal(inv.subtotal).neg().toFixed(2),
      description: `Voids invoice ${inv.number}`,
      reason,
      by: caller.objectId,
      at,
      subscriptionId: null,
    });
    await takeBack(tx, inv.id);
    const replacementId = randomUUID();
    await writeInvoices(tx, {
      stream: inv.stream,
      period: inv.period,
      windows: [{ ...windowOf(inv), invoiceId: replacementId }],
      invoiceDate: at,
      currency: inv.currency,
      status: 'finalized',
      write: 'insert',
      replaces: inv.id,
    });
    const [voided, creditNote, replacement] = await Promise.all(
      [inv.id, noteId, replacementId].map(async (id) => {
        const row = await billingStore.invoiceById(tx, id);
        if (!row) throw new Error(`invoice ${id} was not written`);
        return row;
      }),
    );
    await notificationStore.record(tx, [
      {
        key: `creditnote.created:${noteId}`,
        type: 'creditnote.created',
        occurredAt: at,
        data: {
          creditNote: creditNote.number,
          for: inv.number,
          amount: creditNote.subtotal,
          currency: inv.currency,
          ...(inv.stream === 'customer' ? { customerId: inv.buyer_id } : { partnerId: inv.buyer_id }),
        },
        partnerId: inv.seller === PROVIDER ? inv.buyer_id : inv.seller,
        customerId: inv.stream === 'customer' ? inv.buyer_id : null,
      },
    ]);
    await recordChanges(audit(tx), caller, at, [
      logged(inv, 'VoidInvoice', { number: inv.number, status: 'Finalized' }, { status: 'Voided', reason }),
      logged(creditNote, 'IssueCreditNote', null, {
        number: creditNote.number,
        for: inv.number,
        total: creditNote.total,
      }),
      logged(replacement, 'RegenerateInvoice', null, {
        number: replacement.number,
        replaces: inv.number,
        total: replacement.total,
      }),
    ]);
    return { voided, creditNote, replacement };
  });
}
