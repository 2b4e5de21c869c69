import { requireSubscription, type ArmContext, type SystemRights } from '../../arm/service.ts';
import { parsePeriod, periodBounds } from '../../core/periods.ts';
import type { Principal } from '../../core/principal.ts';
import { findMeter } from '../../core/meters.ts';
import { CHARGEBACK_SHEET } from '../../rating/migrations.ts';
import { pricingStore } from '../../rating/store.ts';
import { setPrice, type PriceInput } from '../../rating/service.ts';
import { priceSheetView } from '../../rating/views.ts';
import { refuseArchived } from '../metering/archive.ts';
import type { Cursor } from '../../core/paging.ts';
import { CHARGEBACK_ORDER, chargebackStore, type ChargebackDb, type ChargebackLine } from './store.ts';

// The operator's chargeback: a month of each tenant subscription's usage rated with the operator's
// own price sheet (`chargeback`, the list prices until changed), and that sheet. Operator only.

export interface ChargebackContext {
  db: ChargebackDb;
  arm: ArmContext;
  operator: SystemRights;
  providerSubscriptionId: () => string | undefined;
}

/** A chargeback line with its meter's name and unit and its subscription's name. */
export interface ChargebackRow extends ChargebackLine {
  meterName: string;
  unit: string;
  subscriptionName: string | null;
}

/** A month of chargeback: which, of which subscriptions (undefined: every tenant subscription), in what currency. */
export interface ChargebackMonth {
  period: string;
  start: Date;
  end: Date;
  currency: string;
  only: string | undefined;
}

/**
 * A month (`period`, YYYY-MM; the current one by default) of chargeback: asked on the default
 * provider subscription, of every tenant subscription; on a tenant subscription, of its own.
 */
export async function chargebackMonth(
  ctx: ChargebackContext,
  principal: Principal,
  subscriptionId: string,
  period: string | undefined,
): Promise<ChargebackMonth> {
  await ctx.operator.require(principal, 'Stackledger.Billing/chargeback/read');
  const sub = await requireSubscription(ctx.arm, subscriptionId);
  const only = sub.subscription_id === ctx.providerSubscriptionId() ? undefined : sub.subscription_id;
  const label = period ?? ctx.arm.clock.now().toISOString().slice(0, 7);
  parsePeriod(label);
  const { start, end } = periodBounds(label, 1);
  await refuseArchived(ctx.db, { from: start, to: end, by: 'hour' });
  const sheet = await pricingStore.sheet(ctx.db, CHARGEBACK_SHEET);
  return { period: label, start, end, currency: sheet?.currency ?? 'USD', only };
}

/**
 * A page of a month's chargeback: up to `cursor.limit` subscriptions after the cursor (one more
 * read, to tell that another page follows), and the lines of those shown, with their names. A
 * page's work is its subscriptions' usage, whatever the stack's size.
 */
export async function chargebackPage(ctx: ChargebackContext, month: ChargebackMonth, cursor: Cursor) {
  const subscriptions = await chargebackStore.subscriptionPage(ctx.db, cursor, month.only);
  const shown = subscriptions.slice(0, cursor.limit);
  const names = new Map(shown.map((s) => [s.subscription_id, s.display_name]));
  const lines =
    shown.length === 0 ? [] : await chargebackStore.lines(ctx.db, month.start, month.end, [...names.keys()]);
  const rows: ChargebackRow[] = lines.map((l) => {
    const meter = findMeter(l.meter_id);
    return {
      ...l,
      meterName: meter?.name ?? l.meter_id,
      unit: meter?.unit ?? '',
      subscriptionName: names.get(l.subscription_id) ?? null,
    };
  });
  return { subscriptions, rows };
}

/** Every page of a month's chargeback, in order (the CSV's rows). */
export async function* chargebackPages(
  ctx: ChargebackContext,
  month: ChargebackMonth,
): AsyncGenerator<ChargebackRow[]> {
  let after: Cursor['after'];
  for (;;) {
    const cursor = { after, limit: CHARGEBACK_PAGE };
    const page = await chargebackPage(ctx, month, cursor);
    yield page.rows;
    if (page.subscriptions.length <= cursor.limit) return;
    after = CHARGEBACK_ORDER.keyOf(page.subscriptions[cursor.limit - 1]!);
  }
}

/** Subscriptions a page of the CSV reads. */
const CHARGEBACK_PAGE = 100;

/** The operator's chargeback sheet with its prices. */
export async function chargebackSheet(ctx: ChargebackContext, principal: Principal) {
  await ctx.operator.require(principal, 'Stackledger.Billing/priceSheets/read');
  const sheet = await pricingStore.sheet(ctx.db, CHARGEBACK_SHEET);
  if (!sheet) throw new Error(`the ${CHARGEBACK_SHEET} price sheet is missing: its migration makes it`);
  return priceSheetView(sheet, await pricingStore.sheetPrices(ctx.db, CHARGEBACK_SHEET));
}

/** Sets a meter's tiered price on the chargeback sheet from a date on. */
/** The operator sets a price on its chargeback sheet: the one price-setting rule of both roles. */
export const setChargebackPrice = (
  ctx: ChargebackContext,
  principal: Principal,
  meterIdText: string,
  input: PriceInput,
) =>
  setPrice({ db: ctx.db, clock: ctx.arm.clock, rights: ctx.operator }, principal, CHARGEBACK_SHEET, meterIdText, input);
