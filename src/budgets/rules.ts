import { Decimal } from 'decimal.js';
import { armError } from '../core/errors.ts';
import type { BudgetNotification } from './tables.ts';

// Budgets' rules, as plain functions: what a budget may say (the shape of Azure's
// Microsoft.Consumption/budgets where it fits: a monthly cost budget with up to five
// notifications), its spend forecast, and when a notification's threshold is crossed.

export interface BudgetInput {
  category?: string;
  amount: string | number;
  timeGrain?: string;
  timePeriod: { startDate: string; endDate?: string };
  notifications?: Record<
    string,
    {
      enabled?: boolean;
      operator: string;
      threshold: string | number;
      thresholdType?: string;
      contactEmails?: string[];
    }
  >;
}

export const BUDGET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const MAX_NOTIFICATIONS = 5;

const invalid = (message: string, target: string) => armError('InvalidBudget', message, target);

/** The budget as stored, or 400 InvalidBudget naming what is wrong. */
export function parseBudget(input: BudgetInput): {
  amount: string;
  startDate: string;
  endDate: string | null;
  notifications: Record<string, BudgetNotification>;
} {
  if ((input.category ?? 'Cost') !== 'Cost') throw invalid("category must be 'Cost'.", 'properties.category');
  if ((input.timeGrain ?? 'Monthly') !== 'Monthly')
    throw invalid("timeGrain must be 'Monthly': budgets follow the billing period.", 'properties.timeGrain');
  const text = String(input.amount);
  if (!/^\d{1,15}(\.\d{1,2})?$/.test(text) || new Decimal(text).lte(0))
    throw invalid(
      `amount '${text.slice(0, 40)}' must be a positive amount with at most 2 decimals.`,
      'properties.amount',
    );
  const startDate = dateOf(input.timePeriod.startDate, 'properties.timePeriod.startDate');
  if (!startDate.endsWith('-01'))
    throw invalid('timePeriod.startDate must be the first day of a month.', 'properties.timePeriod.startDate');
  const endDate =
    input.timePeriod.endDate === undefined ? null : dateOf(input.timePeriod.endDate, 'properties.timePeriod.endDate');
  if (endDate !== null && endDate < startDate)
    throw invalid('timePeriod.endDate is before its startDate.', 'properties.timePeriod.endDate');
  const entries = Object.entries(input.notifications ?? {});
  if (entries.length > MAX_NOTIFICATIONS)
    throw invalid(`A budget has at most ${MAX_NOTIFICATIONS} notifications.`, 'properties.notifications');
  const notifications: Record<string, BudgetNotification> = {};
  for (const [name, n] of entries) {
    const at = `properties.notifications.${name.slice(0, 40)}`;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name))
      throw invalid(`The notification name '${name.slice(0, 40)}' is invalid.`, at);
    if (n.operator !== 'GreaterThan' && n.operator !== 'GreaterThanOrEqualTo')
      throw invalid("operator must be 'GreaterThan' or 'GreaterThanOrEqualTo'.", `${at}.operator`);
    const threshold = Number(n.threshold);
    if (!Number.isFinite(threshold) || threshold <= 0 || threshold > 1000)
      throw invalid('threshold is a percentage of the amount, above 0 and at most 1000.', `${at}.threshold`);
    const thresholdType = n.thresholdType ?? 'Actual';
    if (thresholdType !== 'Actual' && thresholdType !== 'Forecasted')
      throw invalid("thresholdType must be 'Actual' or 'Forecasted'.", `${at}.thresholdType`);
    const emails = n.contactEmails ?? [];
    if (emails.length > 50 || emails.some((e) => !/^[^@\s]+@[^@\s]+$/.test(e)))
      throw invalid('contactEmails must be up to 50 e-mail addresses.', `${at}.contactEmails`);
    notifications[name] = {
      enabled: n.enabled !== false,
      operator: n.operator,
      threshold,
      thresholdType,
      contactEmails: emails,
    };
  }
  return { amount: new Decimal(text).toFixed(2), startDate, endDate, notifications };
}

function dateOf(text: string, target: string): string {
  const d = new Date(text);
  if (typeof text !== 'string' || Number.isNaN(d.getTime()))
    throw invalid(`'${String(text).slice(0, 40)}' is not a date.`, target);
  return d.toISOString().slice(0, 10);
}

/** What the period will cost at the pace so far: the spend scaled from the elapsed part to the whole. */
export function forecast(spend: Decimal, periodStart: Date, periodEnd: Date, now: Date): Decimal {
  const elapsed = Math.min(now.getTime(), periodEnd.getTime()) - periodStart.getTime();
  if (elapsed <= 0) return spend;
  return spend
    .mul(periodEnd.getTime() - periodStart.getTime())
    .div(elapsed)
    .toDecimalPlaces(2);
}

/** Whether a notification's threshold (percent of `amount`) is crossed by `value`. */
export function crossed(n: BudgetNotification, value: Decimal, amount: Decimal): boolean {
  const percent = value.mul(100).div(amount);
  return n.operator === 'GreaterThan' ? percent.gt(n.threshold) : percent.gte(n.threshold);
}
