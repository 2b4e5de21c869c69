import type { SystemRights } from '../arm/service.ts';
import { armStore, type ArmDb } from '../arm/store.ts';
import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import type { Clock } from '../core/clock.ts';
import { armError, armErrors } from '../core/errors.ts';
import type { Principal } from '../core/principal.ts';
import { isGuid } from '../core/ids.ts';
import { identityStore, type IdentityDb } from '../identity/store.ts';
import { actingPartner } from '../partner/service.ts';
import { partnerStore, type PartnerDb } from '../partner/store.ts';
import { LIST_SHEET } from '../rating/migrations.ts';
import { comparePeriods, nextPeriod, parsePeriod, periodBounds, periodContaining } from '../core/periods.ts';
import { parseDecimal, parseEffectiveDate, requireMeterId } from '../rating/rules.ts';
import { parseMoney } from './rules.ts';
import { roundMoney } from '../rating/rating.ts';
import { setPrice, type PriceInput } from '../rating/service.ts';
import { pricingStore } from '../rating/store.ts';
import { billingStore, type BillingDb, type InvoiceWindow, type Watermarks } from './store.ts';
import type { InvoicesTable, Seller, Stream } from './tables.ts';

// Billing use cases: closing periods into invoices (partners' from the provider, customers' from
// their partner), the open period's unbilled usage, prices and overrides, billing profiles,
// credits, adjustments and credit notes.

export interface BillingContext {
  /** Billing's own tables, and those of the domains whose published queries it reads. */
  db: BillingDb & ArmDb & IdentityDb & PartnerDb;
  clock: Clock;
  /** The provider's rights (prices, overrides, profiles, billing runs): roles at the root scope. */
  system: SystemRights;
}

export const PROVIDER: Seller = 'provider';
export const STREAMS: Stream[] = ['partner', 'customer'];
// Buyers closed per statement: each statement reads the period's usage once, so batches are large.
const BATCH = 1000;

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

interface Terms {
  day: number;
  taxRate: string;
}

/** The billing day and tax rate of each buyer: its own profile, else its seller's default, else day 1 and no tax. */
async function termsOf(ctx: BillingContext): Promise<(seller: Seller, buyerId: string) => Terms> {
  const profiles = await billingStore.profiles(ctx.db);
  const byKey = new Map(profiles.map((p) => [`${p.seller}/${p.customer_id ?? ''}`, p]));
  return (seller, buyerId) => {
    const p = byKey.get(`${seller}/${buyerId}`) ?? byKey.get(`${seller}/`);
    // The provider's invoices to partners carry no tax (the partner center's usage lines).
    return { day: p?.billing_day ?? 1, taxRate: seller === PROVIDER ? '0' : (p?.tax_rate ?? '0') };
  };
}

interface PlannedWindow {
  period: string;
  window: InvoiceWindow;
}

/**
 * A buyer's open period: the one after its last invoice (or the one it started in), starting where
 * that invoice ended.
 */
function openWindow(
  seller: Seller,
  buyerId: string,
  since: Date,
  prev: InvoicesTable | undefined,
  t: Terms,
): PlannedWindow {
  let period = prev ? nextPeriod(prev.period) : periodContaining(since, t.day);
  // A changed billing day can make a period end before the last invoice did: skip it.
  while (prev && periodBounds(period, t.day).end.getTime() <= prev.period_end.getTime()) period = nextPeriod(period);
  const bounds = periodBounds(period, t.day);
  return {
    period,
    window: {
      invoiceId: randomUUID(),
      seller,
      buyerId,
      periodStart: prev ? prev.period_end : bounds.start,
      periodEnd: bounds.end,
      prevEnd: prev?.period_end ?? null,
      prevWatermark: prev?.watermark ?? null,
      prevAdjustmentWatermark: prev?.adjustment_watermark ?? null,
      taxRate: t.taxRate,
    },
  };
}

/**
 * The next period each buyer has to close, when it has ended by `now` (and is not after `upTo`).
 * Periods close in order: a buyer's next one starts where its last invoice ended.
 */
async function nextDueWindows(ctx: BillingContext, stream: Stream, now: Date, upTo?: string): Promise<PlannedWindow[]> {
  const [buyers, last, terms] = await Promise.all([
    billingStore.buyers(ctx.db, stream),
    billingStore.lastInvoices(ctx.db, stream),
    termsOf(ctx),
  ]);
  const out: PlannedWindow[] = [];
  for (const b of buyers) {
    const next = openWindow(
      b.seller,
      b.buyerId,
      b.since,
      last.get(`${b.seller}/${b.buyerId}`),
      terms(b.seller, b.buyerId),
    );
    if (next.window.periodEnd.getTime() > now.getTime()) continue;
    if (upTo && comparePeriods(next.period, upTo) > 0) continue;
    out.push(next);
  }
  return out;
}

export interface RunProgress {
  stream: Stream;
  period: string;
  done: number;
  total: number;
}

export interface RunResult {
  periods: string[];
  invoices: number;
  lines: number;
}

/**
 * Closes every period that has ended by `now` (up to `upTo` when given), stream by stream, the
 * earliest first, in batches of buyers. Each batch is one statement, and the database's unique
 * index makes a second close of the same period add nothing: runs are idempotent and may repeat
 * after a crash.
 */
export async function closeDuePeriods(
  ctx: BillingContext,
  now: Date,
  upTo?: string,
  onProgress?: (p: RunProgress) => void,
): Promise<RunResult> {
  const result: RunResult = { periods: [], invoices: 0, lines: 0 };
  const sheet = await pricingStore.sheet(ctx.db, LIST_SHEET);
  const currency = sheet?.currency ?? 'USD';
  let marks: Watermarks | undefined;
  for (const stream of STREAMS) {
    for (;;) {
      const due = await nextDueWindows(ctx, stream, now, upTo);
      if (due.length === 0) break;
      marks ??= await billingStore.watermarks(ctx.db);
      const period = due.map((d) => d.period).sort(comparePeriods)[0];
      const windows = due.filter((d) => d.period === period).map((d) => d.window);
      for (let i = 0; i < windows.length; i += BATCH) {
        const added = await billingStore.closeWindows(ctx.db, {
          stream,
          period,
          windows: windows.slice(i, i + BATCH),
          marks,
          invoiceDate: now,
          currency,
        });
        result.invoices += added.invoices;
        result.lines += added.lines;
        onProgress?.({ stream, period, done: Math.min(i + BATCH, windows.length), total: windows.length });
      }
      if (!result.periods.includes(period)) result.periods.push(period);
    }
  }
  result.periods.sort(comparePeriods);
  return result;
}

/** Every buyer's open window, in both streams. */
async function openWindows(ctx: BillingContext): Promise<InvoiceWindow[]> {
  const out: InvoiceWindow[] = [];
  const terms = await termsOf(ctx);
  for (const stream of STREAMS) {
    const [buyers, last] = await Promise.all([
      billingStore.buyers(ctx.db, stream),
      billingStore.lastInvoices(ctx.db, stream),
    ]);
    for (const b of buyers)
      out.push(
        openWindow(b.seller, b.buyerId, b.since, last.get(`${b.seller}/${b.buyerId}`), terms(b.seller, b.buyerId))
          .window,
      );
  }
  return out;
}

const earliest = (dates: Date[]): Date | undefined =>
  dates.reduce<Date | undefined>((min, d) => (!min || d < min ? d : min), undefined);

/** When the earliest open period of any buyer ends: nothing can close before then. */
export async function earliestOpenPeriodEnd(ctx: BillingContext): Promise<Date | undefined> {
  return earliest((await openWindows(ctx)).map((w) => w.periodEnd));
}

/** Where the oldest open period of any buyer starts: usage before it could only be billed late. */
export async function oldestOpenPeriodStart(ctx: BillingContext): Promise<Date | undefined> {
  return earliest((await openWindows(ctx)).map((w) => w.periodStart));
}

/** `billing run --period`: the calendar month must have ended. Checked before any work starts. */
export async function runBillingPreflight(ctx: BillingContext, caller: Principal, periodText: string): Promise<void> {
  await ctx.system.require(caller, 'Stackledger.Billing/billingRuns/action');
  parsePeriod(periodText);
  const end = periodBounds(periodText, 1).end;
  if (end.getTime() > ctx.clock.now().getTime()) throw billingErrors.periodNotEnded(periodText, end);
}

/** Closes the period and every earlier one still open; a second run adds nothing. */
export async function runBilling(
  ctx: BillingContext,
  caller: Principal,
  periodText: string,
  onProgress?: (p: RunProgress) => void,
) {
  await runBillingPreflight(ctx, caller, periodText);
  const result = await closeDuePeriods(ctx, ctx.clock.now(), periodText, onProgress);
  return {
    period: periodText,
    invoicesAdded: result.invoices,
    linesAdded: result.lines,
    periodsClosed: result.periods,
  };
}

// ---- who sees what ----

/** The caller as a seller: a partner bills its customers; the provider (system administrators) bills partners. */
export async function callerPartner(ctx: BillingContext, caller: Principal) {
  return actingPartner(ctx.db, caller);
}

export async function requireCallerPartner(ctx: BillingContext, caller: Principal) {
  const dir = await callerPartner(ctx, caller);
  if (!dir) throw billingErrors.notAPartner(caller.tenantId);
  return dir;
}

/** Customer invoices the caller may read: a partner's to its customers, or a customer's own. */
export async function customerInvoiceScope(
  ctx: BillingContext,
  caller: Principal,
): Promise<{ seller?: Seller; buyerId?: string }> {
  const partner = await callerPartner(ctx, caller);
  return partner ? { seller: partner.tenant_id } : { buyerId: caller.tenantId };
}

export async function readableInvoice(
  ctx: BillingContext,
  caller: Principal,
  stream: Stream,
  number: string,
): Promise<InvoicesTable> {
  const inv = await billingStore.findInvoice(ctx.db, number);
  if (!inv || inv.stream !== stream) throw billingErrors.invoiceNotFound(number);
  if (stream === 'partner') {
    if (inv.buyer_id !== caller.tenantId) throw billingErrors.invoiceNotFound(number);
  } else {
    const scope = await customerInvoiceScope(ctx, caller);
    if ((scope.seller && inv.seller !== scope.seller) || (scope.buyerId && inv.buyer_id !== scope.buyerId))
      throw billingErrors.invoiceNotFound(number);
  }
  return inv;
}

/** The open period of one buyer: what its next invoice holds so far. */
export async function unbilled(ctx: BillingContext, stream: Stream, seller: Seller, buyerId: string, since: Date) {
  const [last, terms] = await Promise.all([billingStore.lastInvoices(ctx.db, stream), termsOf(ctx)]);
  const t = terms(seller, buyerId);
  const { period, window } = openWindow(seller, buyerId, since, last.get(`${seller}/${buyerId}`), t);
  const marks = await billingStore.currentMarks(ctx.db);
  const preview = await billingStore.previewWindow(ctx.db, stream, window, marks);
  const subtotal = new Decimal(preview.subtotal);
  const tax = roundMoney(subtotal.mul(t.taxRate).div(100));
  return {
    period,
    window,
    lines: preview.lines,
    subtotal: subtotal.toFixed(2),
    tax: tax.toFixed(2),
    total: subtotal.plus(tax).toFixed(2),
    taxRate: t.taxRate,
  };
}

// ---- prices, overrides, profiles ----

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
 * own purchases (for every partner, or for it).
 */
export async function readableOverrides(ctx: BillingContext, caller: Principal, level: 'provider' | 'partner') {
  if (level === 'provider' && (await ctx.system.may(caller, 'Stackledger.Billing/priceOverrides/read')))
    return pricingStore.overrides(ctx.db, PROVIDER);
  const partner = await requireCallerPartner(ctx, caller);
  return level === 'provider'
    ? pricingStore.overrides(ctx.db, PROVIDER, partner.tenant_id)
    : pricingStore.overrides(ctx.db, partner.tenant_id);
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
  const id = await pricingStore.addOverride(ctx.db, {
    seller,
    customerId: input.customerId?.toLowerCase() ?? null,
    offerId: input.offerId ?? null,
    meterId,
    kind: input.kind,
    value,
    effectiveFrom,
    reason: input.reason,
    by: caller.objectId,
    at: ctx.clock.now(),
  });
  return {
    id,
    seller,
    customerId: input.customerId ?? null,
    offerId: input.offerId ?? null,
    meterId,
    kind: input.kind,
    value,
    effectiveFrom,
    reason: input.reason,
  };
}

export async function setProfile(
  ctx: BillingContext,
  caller: Principal,
  target: string,
  body: { billingDay?: number; taxRate?: unknown; level?: 'provider' | 'partner' },
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
  await billingStore.upsertProfile(ctx.db, {
    seller,
    customerId,
    billingDay: day,
    taxRate,
    by: caller.objectId,
    at: ctx.clock.now(),
  });
  return { seller, customerId, billingDay: day, taxRate };
}

// ---- credits, adjustments, credit notes ----

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
  if (input.creditNoteFor) {
    const of = await billingStore.findInvoice(ctx.db, input.creditNoteFor);
    if (
      of?.stream !== 'customer' ||
      of.kind !== 'invoice' ||
      of.seller !== partner.tenant_id ||
      of.buyer_id !== customer.id
    ) {
      throw billingErrors.invoiceNotFound(input.creditNoteFor);
    }
    const id = randomUUID();
    return ctx.db.transaction().execute(async (tx) => {
      await billingStore.insertAdjustment(tx, {
        seller: partner.tenant_id,
        customerId: customer.id,
        subscriptionId,
        kind: input.kind,
        amount,
        description: input.description,
        reason: input.reason,
        by: caller.objectId,
        at,
        creditNoteFor: of.id,
      });
      await billingStore.insertCreditNote(tx, {
        id,
        of,
        amount,
        description: input.description,
        reason: input.reason,
        by: caller.objectId,
        at,
        subscriptionId,
      });
      const note = await tx.selectFrom('invoices').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return { creditNote: note.number, for: of.number, amount };
    });
  }
  const id = await billingStore.insertAdjustment(ctx.db, {
    seller: partner.tenant_id,
    customerId: customer.id,
    subscriptionId,
    kind: input.kind,
    amount,
    description: input.description,
    reason: input.reason,
    by: caller.objectId,
    at,
    creditNoteFor: null,
  });
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
