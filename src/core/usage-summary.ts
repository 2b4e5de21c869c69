import { HOUR_MS } from './clock.ts';
import { armError } from './errors.ts';

// The reconciliation of a deployment with the hub: per usage hour and meter, how many records and
// what quantity each side holds. Shared by both roles: the hub answers it, the stack compares.

export interface UsageHourSummary {
  /** The usage hour's start, ISO 8601 UTC. */
  hour: string;
  meterId: string;
  records: number;
  /** Exact decimal, as text. */
  quantity: string;
}

/** The longest range one reconciliation covers: a year of hours stays a small answer. */
export const RECONCILIATION_MAX_DAYS = 366;

/** A reconciliation range: whole hours, `from` before `to`, at most a year. Refusals are 400 naming the bound. */
export function checkReconciliationRange(from: Date, to: Date): void {
  for (const [name, t] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (t.getTime() % HOUR_MS !== 0)
      throw armError('InvalidTimeRange', `'${name}' must be on an hour boundary (${t.toISOString()} is not).`, name);
  }
  if (to.getTime() <= from.getTime()) throw armError('InvalidTimeRange', "'to' must be later than 'from'.", 'to');
  if (to.getTime() - from.getTime() > RECONCILIATION_MAX_DAYS * 24 * HOUR_MS) {
    throw armError('InvalidTimeRange', `A reconciliation covers at most ${RECONCILIATION_MAX_DAYS} days.`, 'to');
  }
}
