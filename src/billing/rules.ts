import { Decimal } from 'decimal.js';
import { armError } from '../core/errors.ts';

// The rules of billing, as plain functions: amounts. Periods are in core/periods.ts, prices in
// rating/rules.ts, the rounding of money in rating/rating.ts.

/** A signed amount of money with up to 2 decimals. */
export function parseMoney(text: unknown, target: string): string {
  const s = typeof text === 'number' ? String(text) : text;
  if (typeof s !== 'string' || !/^-?\d{1,12}(\.\d{1,2})?$/.test(s) || new Decimal(s).isZero()) {
    throw armError('InvalidAmount', `'${String(text)}' is not a non-zero amount with up to 2 decimals.`, target);
  }
  return new Decimal(s).toFixed(2);
}
