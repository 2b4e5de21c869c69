import { parseDay } from '../core/clock.ts';
import { Decimal } from 'decimal.js';
import { armError } from '../core/errors.ts';
import { normalizeMeterId } from '../core/meters.ts';

// The rules of prices, as plain functions: decimals, effective dates, tiers, meter ids.

const DECIMAL = /^\d{1,12}(\.\d{1,6})?$/;

/** A non-negative decimal with up to 6 decimals (prices, percentages, tier bounds). */
export function parseDecimal(text: unknown, target: string): string {
  const s = typeof text === 'number' ? String(text) : text;
  if (typeof s !== 'string' || !DECIMAL.test(s)) {
    throw armError(
      'InvalidPrice',
      `'${String(text)}' is not a non-negative decimal number with up to 6 decimals.`,
      target,
    );
  }
  return new Decimal(s).toFixed();
}

/** Prices change from the start of a UTC day: one price per meter and day. */
export function parseEffectiveDate(text: unknown, today: Date, target = 'effectiveFrom'): string {
  if (typeof text !== 'string' || parseDay(text) === undefined) {
    throw armError('InvalidEffectiveDate', `'${String(text)}' is not a date in the form YYYY-MM-DD.`, target);
  }
  const todayText = today.toISOString().slice(0, 10);
  if (text < todayText) {
    throw armError(
      'InvalidEffectiveDate',
      `A price change takes effect today (${todayText}) or later, never in the past: '${text}'.`,
      target,
    );
  }
  return text;
}

export interface Tier {
  fromQuantity: string;
  unitPrice: string;
}

/** Tiers start at 0 and rise strictly; each gives the unit price of the quantity from its bound on. */
export function parseTiers(tiers: { fromQuantity?: unknown; unitPrice: unknown }[]): Tier[] {
  if (tiers.length === 0) throw armError('InvalidTiers', 'A price needs at least one tier.', 'tiers');
  const parsed = tiers.map((t, i) => ({
    fromQuantity: parseDecimal(t.fromQuantity ?? '0', `tiers[${i}].fromQuantity`),
    unitPrice: parseDecimal(t.unitPrice, `tiers[${i}].unitPrice`),
  }));
  if (!new Decimal(parsed[0].fromQuantity).isZero())
    throw armError('InvalidTiers', 'The first tier starts at quantity 0.', 'tiers[0].fromQuantity');
  for (let i = 1; i < parsed.length; i++) {
    if (!new Decimal(parsed[i].fromQuantity).gt(parsed[i - 1].fromQuantity)) {
      throw armError('InvalidTiers', 'Tier bounds must rise strictly.', `tiers[${i}].fromQuantity`);
    }
  }
  return parsed;
}

export function requireMeterId(text: string): string {
  const compact = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(compact))
    throw armError('InvalidMeterId', `'${text}' is not a meter id (a GUID).`, 'meterId');
  return normalizeMeterId(text);
}
