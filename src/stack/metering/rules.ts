import { Decimal } from 'decimal.js';
import { HOUR_MS, startOfHour } from '../../core/clock.ts';
import { MONTHLY_METER_IDS } from '../../core/meters.ts';
import type { MeterRates } from './tables.ts';

// How usage is computed from what resources meter. A resource meters at rates (meter id →
// quantity per hour, or per month for the meters counted by the month) that hold between two
// lifecycle changes; a change ends one interval and starts the next. An hour's quantity is the
// sum, over the intervals that overlap it, of rate × the overlapping fraction of the hour,
// computed exactly and rounded once per record to 9 decimal places (half up).
// A monthly meter (a managed disk's tier and size) accrues rate × the elapsed fraction of its
// calendar month (UTC); an hour's quantity is the difference of that running total, rounded, at
// the ends of the overlap. So each hour is 1/(hours in the month) of the rate, and the hours of
// one interval sum to exactly its rounded share of the month: a whole month to the rate itself
// (rounding every hour on its own would not: 720 × 0.001388889 is 1.00000008).
// Pure functions: the SQL that closes hours (`meteringStore.closeHours`) computes the same thing in
// bulk; these are its reference.

export type { MeterRates } from './tables.ts';

export const QUANTITY_SCALE = 9;

/** What a resource meters given its subscription's state: a subscription that is not enabled stops metering. */
export function meteredRates(rates: MeterRates, subscriptionState: string): MeterRates {
  return subscriptionState === 'Enabled' ? rates : {};
}

/** Whether two sets of rates meter the same (a change of nothing starts no new interval). */
export function sameRates(a: MeterRates, b: MeterRates): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && Number(a[k]) === Number(b[k]));
}

export interface RateInterval {
  from: Date;
  to: Date | null;
  rates: MeterRates;
}

/** The calendar month (UTC) that holds an instant: its start and length in milliseconds. */
export function monthOf(at: Date): { start: number; ms: number } {
  const start = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
  return { start, ms: Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1) - start };
}

/** What a monthly rate has accrued from its month's start to `t`: the running total, rounded. */
const accrued = (rate: number, t: number, month: { start: number; ms: number }) =>
  new Decimal(rate)
    .times(t - month.start)
    .dividedBy(month.ms)
    .toDecimalPlaces(QUANTITY_SCALE, Decimal.ROUND_HALF_UP);

/** The quantities of one hour (starting at hourStart) from a resource's intervals. */
export function hourQuantities(intervals: RateInterval[], hourStart: Date): Map<string, string> {
  const start = hourStart.getTime();
  const end = start + HOUR_MS;
  const month = monthOf(hourStart);
  const hourly = new Map<string, Decimal>();
  const monthly = new Map<string, Decimal>();
  for (const i of intervals) {
    const from = Math.max(i.from.getTime(), start);
    const to = Math.min(i.to === null ? Infinity : i.to.getTime(), end);
    if (to <= from) continue;
    for (const [meter, rate] of Object.entries(i.rates)) {
      if (MONTHLY_METER_IDS.includes(meter)) {
        const share = accrued(rate, to, month).minus(accrued(rate, from, month));
        monthly.set(meter, (monthly.get(meter) ?? new Decimal(0)).plus(share));
      } else {
        hourly.set(meter, (hourly.get(meter) ?? new Decimal(0)).plus(new Decimal(rate).times(to - from)));
      }
    }
  }
  const out = new Map<string, string>();
  for (const [meter, sum] of hourly) {
    const q = sum.dividedBy(HOUR_MS).toDecimalPlaces(QUANTITY_SCALE, Decimal.ROUND_HALF_UP);
    if (!q.isZero()) out.set(meter, q.toFixed(QUANTITY_SCALE));
  }
  for (const [meter, q] of monthly) if (!q.isZero()) out.set(meter, q.toFixed(QUANTITY_SCALE));
  return out;
}

/** The hours from the one holding `at` up to (not including) `closedUntil`: those a late change reopens. */
export function hoursReopened(at: Date, closedUntil: Date): Date[] {
  const hours: Date[] = [];
  for (let h = startOfHour(at).getTime(); h < closedUntil.getTime(); h += HOUR_MS) hours.push(new Date(h));
  return hours;
}
