import { Decimal } from 'decimal.js';
import { HOUR_MS } from '../../core/clock.ts';
import { METERS, type VmSize } from './catalog.ts';

// What each resource emits per hour, as rates (meter id → quantity per hour) that hold between
// two lifecycle changes. A change ends one interval and starts the next; an hour's quantity is the
// sum, over the intervals that overlap it, of rate × the overlapping fraction of the hour, computed
// exactly and rounded once per record to 9 decimal places (half up). Pure functions: the SQL that
// closes hours computes the same thing in bulk; these are its reference.

export const QUANTITY_SCALE = 9;

export type MeterRates = Record<string, number>;

export type PowerState = 'running' | 'stopped' | 'deallocated';

/** A VM meters while allocated (running or stopped); only deallocation stops it. */
export function vmRates(size: VmSize, osType: 'Windows' | 'Linux', power: PowerState): MeterRates {
  if (power === 'deallocated') return {};
  const rates: MeterRates = { [METERS.baseVmSizeHours.id]: size.numberOfCores, [METERS.vmSizeHours.id]: 1 };
  if (osType === 'Windows') rates[METERS.windowsVmSizeHours.id] = size.numberOfCores;
  return rates;
}

export function publicIpRates(allocation: 'Static' | 'Dynamic'): MeterRates {
  return { [allocation === 'Static' ? METERS.staticIp.id : METERS.dynamicIp.id]: 1 };
}

export interface StorageUsage {
  blobGb: number;
  tableGb: number;
  queueGb: number;
}

export function storageRates(u: StorageUsage): MeterRates {
  const rates: MeterRates = {};
  if (u.blobGb > 0) rates[METERS.blockBlobCapacity.id] = u.blobGb;
  if (u.tableGb > 0) rates[METERS.tableCapacity.id] = u.tableGb;
  if (u.queueGb > 0) rates[METERS.queueCapacity.id] = u.queueGb;
  return rates;
}

export interface RateInterval {
  from: Date;
  to: Date | null;
  rates: MeterRates;
}

/** The quantities of one hour (starting at hourStart) from a resource's intervals. */
export function hourQuantities(intervals: RateInterval[], hourStart: Date): Map<string, string> {
  const start = hourStart.getTime();
  const end = start + HOUR_MS;
  const sums = new Map<string, Decimal>();
  for (const i of intervals) {
    const from = Math.max(i.from.getTime(), start);
    const to = Math.min(i.to === null ? Infinity : i.to.getTime(), end);
    if (to <= from) continue;
    for (const [meter, rate] of Object.entries(i.rates)) {
      sums.set(meter, (sums.get(meter) ?? new Decimal(0)).plus(new Decimal(rate).times(to - from)));
    }
  }
  const out = new Map<string, string>();
  for (const [meter, sum] of sums) {
    const q = sum.dividedBy(HOUR_MS).toDecimalPlaces(QUANTITY_SCALE, Decimal.ROUND_HALF_UP);
    if (!q.isZero()) out.set(meter, q.toFixed(QUANTITY_SCALE));
  }
  return out;
}
