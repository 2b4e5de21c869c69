import { requireSubscription, type ArmContext, type SystemRights } from '../../arm/service.ts';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { stringify } from 'csv-stringify/sync';
import { Decimal } from 'decimal.js';
import { Type, type Static } from 'typebox';
import { CHARGEBACK_SHEET } from '../../rating/migrations.ts';
import { parsePeriod, periodBounds } from '../../core/periods.ts';
import { setPrice } from '../../rating/service.ts';
import { priceSheetView } from '../../rating/views.ts';
import type { ArmTables } from '../../arm/tables.ts';
import { pricingStore } from '../../rating/store.ts';
import type { PricingTables } from '../../rating/tables.ts';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { findMeter } from '../../core/meters.ts';
import { principalOf, queryValue } from '../../http/arm.ts';
import { chargebackLines } from './store.ts';

// Chargeback for the operator, on the stack's admin endpoint: a month of each tenant subscription's
// usage rated with the operator's own price sheet (`chargeback`, the list prices until changed),
// as JSON or CSV; and that sheet.

const config = (type: string) => ({ apiVersions: API_VERSIONS.system, resourceType: `Stackledger.Billing/${type}` });
const PriceBody = Type.Object({
  effectiveFrom: Type.String(),
  tiers: Type.Array(
    Type.Object({
      fromQuantity: Type.Optional(Type.Union([Type.String(), Type.Number()])),
      unitPrice: Type.Union([Type.String(), Type.Number()]),
    }),
    { minItems: 1, maxItems: 20 },
  ),
});
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

export function registerChargebackRoutes(
  app: FastifyInstance,
  db: Kysely<PricingTables & ArmTables>,
  arm: ArmContext,
  operator: SystemRights,
  providerSubscriptionId: () => string | undefined,
): void {
  const clock = arm.clock;
  const base = '/subscriptions/:subscriptionId/providers/Stackledger.Billing';

  app.get<{ Params: { subscriptionId: string } }>(
    `${base}/chargeback`,
    { config: config('chargeback') },
    async (request, reply) => {
      await operator.require(principalOf(request), 'Stackledger.Billing/chargeback/read');
      // On the default provider subscription: every tenant subscription; on a tenant subscription: its own.
      const sub = await requireSubscription(arm, request.params.subscriptionId);
      const only = sub.subscription_id === providerSubscriptionId() ? undefined : sub.subscription_id;
      const period = queryValue(request, 'period') ?? clock.now().toISOString().slice(0, 7);
      parsePeriod(period);
      const { start, end } = periodBounds(period, 1);
      const [lines, sheet, subs] = await Promise.all([
        chargebackLines(db, start, end, only),
        pricingStore.sheet(db, CHARGEBACK_SHEET),
        db.selectFrom('subscriptions').select(['subscription_id', 'display_name']).execute(),
      ]);
      const currency: string = sheet?.currency ?? 'USD';
      const names = new Map<string, string>(subs.map((s) => [s.subscription_id, s.display_name]));
      const rows = lines.map((l) => {
        const meter = findMeter(l.meter_id);
        return {
          ...l,
          meterName: meter?.name ?? l.meter_id,
          unit: meter?.unit ?? '',
          subscriptionName: names.get(l.subscription_id) ?? null,
        };
      });
      if ((queryValue(request, 'format') ?? 'json').toLowerCase() === 'csv') {
        reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="chargeback-${period}.csv"`);
        return stringify(
          rows.map((r) => [
            period,
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
            currency,
          ]),
          { header: true, columns: CSV_COLUMNS },
        );
      }
      const bySubscription = new Map<
        string,
        {
          subscriptionId: string;
          displayName: string | null;
          tenantId: string;
          currency: string;
          total: Decimal;
          lines: unknown[];
        }
      >();
      for (const r of rows) {
        let s = bySubscription.get(r.subscription_id);
        if (!s)
          bySubscription.set(
            r.subscription_id,
            (s = {
              subscriptionId: r.subscription_id,
              displayName: r.subscriptionName,
              tenantId: r.tenant_id,
              currency,
              total: new Decimal(0),
              lines: [],
            }),
          );
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
      return {
        period,
        periodStart: start.toISOString(),
        periodEnd: end.toISOString(),
        currency,
        value: [...bySubscription.values()].map((s) => ({ ...s, total: s.total.toFixed(2) })),
      };
    },
  );

  app.get(`${base}/priceSheets/${CHARGEBACK_SHEET}`, { config: config('priceSheets') }, async (request) => {
    await operator.require(principalOf(request), 'Stackledger.Billing/priceSheets/read');
    const sheet = await pricingStore.sheet(db, CHARGEBACK_SHEET);
    return priceSheetView(sheet!, await pricingStore.sheetPrices(db, CHARGEBACK_SHEET));
  });

  app.put<{ Params: { meterId: string }; Body: Static<typeof PriceBody> }>(
    `${base}/priceSheets/${CHARGEBACK_SHEET}/meters/:meterId`,
    { config: config('priceSheets'), schema: { body: PriceBody } },
    async (request) => {
      const caller = principalOf(request);
      return setPrice({ db, clock, rights: operator }, caller, CHARGEBACK_SHEET, request.params.meterId, request.body);
    },
  );
}
