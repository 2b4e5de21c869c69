import { armError } from './errors.ts';

// Billing periods (both roles: invoices on the hub, chargeback on a stack).

/** A billing period's label is the month in which it starts: 'YYYY-MM'. */
export const PERIOD_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function parsePeriod(text: string): { year: number; month: number } {
  const m = PERIOD_PATTERN.exec(text);
  if (!m)
    throw armError(
      'InvalidBillingPeriod',
      `The billing period '${text}' is not a month in the form YYYY-MM.`,
      'period',
    );
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
