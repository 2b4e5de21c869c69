import { Decimal } from 'decimal.js';
import { armErrors } from '../core/errors.ts';

// The rules of billing, as plain functions: billing periods, money rounding, price input.

/** A billing period's label is the month in which it starts: 'YYYY-MM'. */
export const PERIOD_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function parsePeriod(text: string): { year: number; month: number } {
  const m = PERIOD_PATTERN.exec(text);
  if (!m) throw armErrors.badRequest('InvalidBillingPeriod', `The billing period '${text}' is not a month in the form YYYY-MM.`, 'period');
  return { year: Number(m[1]), month: Number(m[2]) };
}

export function periodLabel(year: number, month: number): string {
  const d = new Date(Date.UTC(year, month - 1, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

export function nextPeriod(label: string): string {
  const { year, month } = parsePeriod(label);
  return periodLabel(year, month + 1);
}

/** The period labelled `label` for billing day `day` (1–28): from that day 00:00 UTC to the same day a month later. */
export function periodBounds(label: string, day: number): { start: Date; end: Date } {
  const { year, month } = parsePeriod(label);
  return { start: new Date(Date.UTC(year, month - 1, day)), end: new Date(Date.UTC(year, month, day)) };
}

/** The label of the period that contains `t` for billing day `day`. */
export function periodContaining(t: Date, day: number): string {
  const y = t.getUTCFullYear();
  const m = t.getUTCMonth() + 1;
  return t.getUTCDate() >= day ? periodLabel(y, m) : periodLabel(y, m - 1);
}

export const comparePeriods = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Money is rounded once, at the line, half away from zero, to the cent (PostgreSQL's `round(numeric, 2)`). */
export const roundMoney = (d: Decimal) => d.toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
/** Unit prices carry up to 6 decimals. */
export const roundUnitPrice = (d: Decimal) => d.toDecimalPlaces(6, Decimal.ROUND_HALF_UP);

const DECIMAL = /^\d{1,12}(\.\d{1,6})?$/;

/** A non-negative decimal with up to 6 decimals (prices, percentages, tier bounds). */
export function parseDecimal(text: unknown, target: string): string {
  const s = typeof text === 'number' ? String(text) : text;
  if (typeof s !== 'string' || !DECIMAL.test(s)) {
    throw armErrors.badRequest('InvalidPrice', `'${String(text)}' is not a non-negative decimal number with up to 6 decimals.`, target);
  }
  return new Decimal(s).toFixed();
}

/** A signed amount of money with up to 2 decimals. */
export function parseMoney(text: unknown, target: string): string {
  const s = typeof text === 'number' ? String(text) : text;
  if (typeof s !== 'string' || !/^-?\d{1,12}(\.\d{1,2})?$/.test(s) || new Decimal(s).isZero()) {
    throw armErrors.badRequest('InvalidAmount', `'${String(text)}' is not a non-zero amount with up to 2 decimals.`, target);
  }
  return new Decimal(s).toFixed(2);
}

/** Prices change from the start of a UTC day: one price per meter and day. */
export function parseEffectiveDate(text: unknown, today: Date, target = 'effectiveFrom'): string {
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(Date.parse(`${text}T00:00:00Z`))) {
    throw armErrors.badRequest('InvalidEffectiveDate', `'${String(text)}' is not a date in the form YYYY-MM-DD.`, target);
  }
  const todayText = today.toISOString().slice(0, 10);
  if (text < todayText) {
    throw armErrors.badRequest('InvalidEffectiveDate', `A price change takes effect today (${todayText}) or later, never in the past: '${text}'.`, target);
  }
  return text;
}

export interface Tier {
  fromQuantity: string;
  unitPrice: string;
}

/** Tiers start at 0 and rise strictly; each gives the unit price of the quantity from its bound on. */
export function parseTiers(tiers: { fromQuantity?: unknown; unitPrice: unknown }[]): Tier[] {
  if (tiers.length === 0) throw armErrors.badRequest('InvalidTiers', 'A price needs at least one tier.', 'tiers');
  const parsed = tiers.map((t, i) => ({
    fromQuantity: parseDecimal(t.fromQuantity ?? '0', `tiers[${i}].fromQuantity`),
    unitPrice: parseDecimal(t.unitPrice, `tiers[${i}].unitPrice`),
  }));
  if (!new Decimal(parsed[0].fromQuantity).isZero()) throw armErrors.badRequest('InvalidTiers', 'The first tier starts at quantity 0.', 'tiers[0].fromQuantity');
  for (let i = 1; i < parsed.length; i++) {
    if (!new Decimal(parsed[i].fromQuantity).gt(parsed[i - 1].fromQuantity)) {
      throw armErrors.badRequest('InvalidTiers', 'Tier bounds must rise strictly.', `tiers[${i}].fromQuantity`);
    }
  }
  return parsed;
}
