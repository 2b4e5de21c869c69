import type { Decimal } from 'decimal.js';
import type { BudgetAlertsTable, BudgetsTable } from './tables.ts';

// The wire shape of a budget: Azure's Microsoft.Consumption/budgets where it fits.

export const BUDGETS_TYPE = 'Stackledger.Billing/budgets';

export const budgetId = (b: BudgetsTable) =>
  b.scope === 'subscription'
    ? `/subscriptions/${b.scope_id}/providers/${BUDGETS_TYPE}/${b.name}`
    : `/providers/Stackledger.Billing/customers/${b.scope_id}/budgets/${b.name}`;

export function budgetView(v: {
  budget: BudgetsTable;
  period: string;
  spend: Decimal;
  forecast: Decimal;
  alerts: BudgetAlertsTable[];
}) {
  const b = v.budget;
  return {
    id: budgetId(b),
    name: b.name,
    type: BUDGETS_TYPE,
    eTag: b.etag,
    properties: {
      category: 'Cost',
      amount: Number(b.amount),
      timeGrain: 'Monthly',
      timePeriod: {
        startDate: `${b.start_date}T00:00:00Z`,
        ...(b.end_date ? { endDate: `${b.end_date}T00:00:00Z` } : {}),
      },
      currentPeriod: v.period,
      currentSpend: { amount: Number(v.spend.toFixed(2)), unit: 'USD' },
      forecastSpend: { amount: Number(v.forecast.toFixed(2)), unit: 'USD' },
      notifications: b.notifications,
      alerts: v.alerts.map((a) => ({
        period: a.period,
        notification: a.notification,
        thresholdType: a.threshold_type,
        threshold: Number(a.threshold),
        spend: Number(a.spend),
        firedAt: a.fired_at.toISOString(),
      })),
    },
  };
}
