import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { principalOf, queryValue } from '../../http/arm.ts';
import { CHARGEBACK_SHEET } from '../../rating/migrations.ts';
import { chargebackMonth, chargebackSheet, setChargebackPrice, type ChargebackContext } from './service.ts';
import { chargebackCsv, chargebackJson } from './views.ts';

// Chargeback for the operator, on the stack's admin endpoint: a month of each tenant subscription's
// usage rated with the operator's own price sheet, as JSON or CSV; and that sheet.

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

export function registerChargebackRoutes(app: FastifyInstance, ctx: ChargebackContext): void {
  const base = '/subscriptions/:subscriptionId/providers/Stackledger.Billing';

  app.get<{ Params: { subscriptionId: string } }>(
    `${base}/chargeback`,
    { config: config('chargeback') },
    async (request, reply) => {
      const month = await chargebackMonth(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        queryValue(request, 'period'),
      );
      if ((queryValue(request, 'format') ?? 'json').toLowerCase() !== 'csv') return chargebackJson(month);
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="chargeback-${month.period}.csv"`);
      return chargebackCsv(month);
    },
  );

  app.get(`${base}/priceSheets/${CHARGEBACK_SHEET}`, { config: config('priceSheets') }, async (request) =>
    chargebackSheet(ctx, principalOf(request)),
  );

  app.put<{ Params: { meterId: string }; Body: Static<typeof PriceBody> }>(
    `${base}/priceSheets/${CHARGEBACK_SHEET}/meters/:meterId`,
    { config: config('priceSheets'), schema: { body: PriceBody } },
    async (request) => setChargebackPrice(ctx, principalOf(request), request.params.meterId, request.body),
  );
}
