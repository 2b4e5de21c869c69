import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { principalOf, queryValue } from '../../http/arm.ts';
import { CHARGEBACK_SHEET } from '../../rating/migrations.ts';
import { Readable } from 'node:stream';
import { pagedList, pageOf } from '../../http/paging.ts';
import {
  chargebackMonth,
  chargebackPage,
  chargebackPages,
  chargebackSheet,
  setChargebackPrice,
  type ChargebackContext,
  type ChargebackMonth,
} from './service.ts';
import { CHARGEBACK_ORDER } from './store.ts';
import { CHARGEBACK_CSV_HEADER, chargebackCsvRows, chargebackDocument, chargebackEntries } from './views.ts';

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

export function registerChargebackRoutes(app: FastifyInstance, ctx: ChargebackContext, baseUrl: () => string): void {
  const base = '/subscriptions/:subscriptionId/providers/Stackledger.Billing';

  // JSON: the month's subscriptions a page at a time ($top, $skiptoken, nextLink); CSV: every page, streamed.
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
      if ((queryValue(request, 'format') ?? 'json').toLowerCase() !== 'csv') {
        const page = pageOf(request, CHARGEBACK_ORDER);
        const { subscriptions, rows } = await chargebackPage(ctx, month, page);
        const entries = chargebackEntries(month, rows);
        const list = pagedList(request, baseUrl(), page, subscriptions, (s) => entries.get(s.subscription_id));
        return { ...chargebackDocument(month), ...list, value: list.value.filter((e) => e !== undefined) };
      }
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="chargeback-${month.period}.csv"`);
      return reply.send(Readable.from(csvOf(month)));
    },
  );

  async function* csvOf(month: ChargebackMonth): AsyncGenerator<string> {
    yield CHARGEBACK_CSV_HEADER;
    for await (const rows of chargebackPages(ctx, month)) if (rows.length > 0) yield chargebackCsvRows(month, rows);
  }

  app.get(`${base}/priceSheets/${CHARGEBACK_SHEET}`, { config: config('priceSheets') }, async (request) =>
    chargebackSheet(ctx, principalOf(request)),
  );

  app.put<{ Params: { meterId: string }; Body: Static<typeof PriceBody> }>(
    `${base}/priceSheets/${CHARGEBACK_SHEET}/meters/:meterId`,
    { config: config('priceSheets'), schema: { body: PriceBody } },
    async (request) => setChargebackPrice(ctx, principalOf(request), request.params.meterId, request.body),
  );
}
