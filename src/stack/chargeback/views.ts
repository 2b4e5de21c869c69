import { stringify } from 'csv-stringify/sync';
import { Decimal } from 'decimal.js';
import type { ChargebackMonth, ChargebackRow } from './service.ts';

// The chargeback month on the wire: JSON grouped per tenant subscription, or CSV, one row a line.

const CSV_COLUMNS = [
  'Period',
  'SubscriptionId',
  'SubscriptionName',
  'TenantId',
  'MeterId',
  'MeterName',
  'Unit',
  'ResourceUri',
  'Location',
  'UsageFrom',
  'UsageTo',
  'Tier',
  'Quantity',
  'UnitPrice',
  'Amount',
  'Currency',
];

/** The CSV's first line: its columns (plain words, nothing to quote). */
export const CHARGEBACK_CSV_HEADER = `${CSV_COLUMNS.join(',')}\n`;

/** A page's lines as the CSV's rows. */
export function chargebackCsvRows(m: ChargebackMonth, rows: ChargebackRow[]): string {
  return stringify(
    rows.map((r) => [
      m.period,
      r.subscription_id,
      r.subscriptionName,
      r.tenant_id,
      r.meter_id,
      r.meterName,
      r.unit,
      r.resource_uri,
      r.location,
      r.usage_from,
      r.usage_to,
      r.tier_no,
      r.quantity,
      r.unit_price,
      r.amount,
      m.currency,
    ]),
  );
}

interface SubscriptionChargeback {
  subscriptionId: string;
  displayName: string | null;
  tenantId: string;
  currency: string;
  total: Decimal;
  lines: unknown[];
}

/** A page's subscriptions, each with its lines and total, by subscription id (those with no usage have none). */
export function chargebackEntries(m: ChargebackMonth, rows: ChargebackRow[]): Map<string, ReturnType<typeof total>> {
  const bySubscription = new Map<string, SubscriptionChargeback>();
  for (const r of rows) {
    let s = bySubscription.get(r.subscription_id);
    if (!s) {
      s = {
        subscriptionId: r.subscription_id,
        displayName: r.subscriptionName,
        tenantId: r.tenant_id,
        currency: m.currency,
        total: new Decimal(0),
        lines: [],
      };
      bySubscription.set(r.subscription_id, s);
    }
    s.total = s.total.plus(r.amount);
    s.lines.push({
      meterId: r.meter_id,
      meterName: r.meterName,
      unit: r.unit,
      resourceUri: r.resource_uri,
      location: r.location,
      usageFrom: r.usage_from,
      usageTo: r.usage_to,
      tier: r.tier_no,
      quantity: r.quantity,
      unitPrice: r.unit_price,
      amount: r.amount,
    });
  }
  return new Map([...bySubscription].map(([id, s]) => [id, total(s)]));
}

const total = (s: SubscriptionChargeback) => ({ ...s, total: s.total.toFixed(2) });

/** The month a page belongs to, as the document around its subscriptions. */
export const chargebackDocument = (m: ChargebackMonth) => ({
  period: m.period,
  periodStart: m.start.toISOString(),
  periodEnd: m.end.toISOString(),
  currency: m.currency,
});
