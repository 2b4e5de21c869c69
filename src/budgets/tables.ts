/** What a budget watches: one customer subscription, or all of a customer's. */
export type BudgetScope = 'subscription' | 'customer';

export type ThresholdType = 'Actual' | 'Forecasted';

/** One alert of a budget: Azure Cost Management's notification, keyed by its name. */
export interface BudgetNotification {
  enabled: boolean;
  operator: 'GreaterThan' | 'GreaterThanOrEqualTo';
  /** Percent of the budget's amount. */
  threshold: number;
  thresholdType: ThresholdType;
  contactEmails: string[];
}

/** A monthly cost budget of a customer subscription or a customer, in the invoice's currency. */
export interface BudgetsTable {
  id: string;
  scope: BudgetScope;
  /** The subscription id or the customer id. */
  scope_id: string;
  name: string;
  /** Who sells to whom: the spend is what the partner's next invoice to the customer holds. */
  partner_id: string;
  customer_id: string;
  amount: string;
  start_date: string;
  end_date: string | null;
  notifications: Record<string, BudgetNotification>;
  etag: string;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

/** A threshold crossed in a period: once each, whatever happens after. */
export interface BudgetAlertsTable {
  budget_id: string;
  period: string;
  notification: string;
  threshold_type: ThresholdType;
  threshold: string;
  spend: string;
  fired_at: Date;
}

export interface BudgetTables {
  budgets: BudgetsTable;
  budget_alerts: BudgetAlertsTable;
}
