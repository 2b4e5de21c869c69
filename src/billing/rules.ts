import { Decimal } from 'decimal.js';
import { parseDay } from '../core/clock.ts';
import { armError } from '../core/errors.ts';
import type { LineKey } from './rated-store.ts';

// The rules of billing, as plain functions: amounts, where a page of unbilled lines starts. Periods are in core/periods.ts, prices in
// rating/rules.ts, the rounding of money in rating/rating.ts.

/** A signed amount of money with up to 2 decimals. */
export function parseMoney(text: unknown, target: string): string {
  const s = typeof text === 'number' ? String(text) : text;
  if (typeof s !== 'string' || !/^-?\d{1,12}(\.\d{1,2})?$/.test(s) || new Decimal(s).isZero()) {
    throw armError('InvalidAmount', `'${String(text)}' is not a non-zero amount with up to 2 decimals.`, target);
  }
  return new Decimal(s).toFixed(2);
}

/** Where the next page of an open period's lines starts: after a usage line's key, or after a credit or adjustment. */
export type UnbilledPosition = { after: LineKey } | { afterAdjustment: string };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The opaque continuation token of a position: its JSON, base64url. */
export const unbilledToken = (p: UnbilledPosition): string =>
  Buffer.from(
    JSON.stringify(
      'after' in p
        ? [
            p.after.subscriptionId,
            p.after.meterId,
            p.after.resourceUri,
            p.after.usageDate,
            p.after.location,
            p.after.tier,
          ]
        : [p.afterAdjustment],
    ),
  ).toString('base64url');

/** Text PostgreSQL can compare: no NUL, and not longer than a resource URI can be. */
const isKeyText = (s: unknown): s is string => typeof s === 'string' && s.length <= 4096 && !s.includes('\u0000');

/** The position a token stands for, or undefined when it is not one of ours. */
export function readUnbilledToken(token: string): UnbilledPosition | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  if (v.length === 1)
    return typeof v[0] === 'string' && /^\d{1,18}$/.test(v[0]) ? { afterAdjustment: v[0] } : undefined;
  const [subscriptionId, meterId, resourceUri, usageDate, location, tier] = v;
  const valid =
    v.length === 6 &&
    typeof subscriptionId === 'string' &&
    GUID.test(subscriptionId) &&
    typeof meterId === 'string' &&
    GUID.test(meterId) &&
    isKeyText(resourceUri) &&
    typeof usageDate === 'string' &&
    parseDay(usageDate) !== undefined &&
    isKeyText(location) &&
    Number.isInteger(tier) &&
    tier >= 0 &&
    tier < 1e6;
  return valid ? { after: { subscriptionId, meterId, resourceUri, usageDate, location, tier } } : undefined;
}
