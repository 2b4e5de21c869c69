import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { ArmError, armError, armErrors } from '../core/errors.ts';
import { isGuid } from '../core/ids.ts';
import { noteRightsChecked } from '../core/principal.ts';
import { principalOf, queryValue } from '../http/arm.ts';
import { pageOf, pagedList, pagedListRoute } from '../http/paging.ts';
import { partnerStore } from '../partner/store.ts';
import { focusMetadata } from './focus-metadata.ts';
import { exportStream } from './exports.ts';
import { exportSelection } from './export-rights.ts';
import { parsePeriod } from '../core/periods.ts';
import { priceSheetView } from '../rating/views.ts';
import { addAdjustment } from './adjustments.ts';
import { runBilling, runBillingPreflight } from './billing-run.ts';
import { type BillingContext, callerPartner, PROVIDER } from './context.ts';
import { invoiceDocument, invoicePdf, sendPdf } from './documents.ts';
import { invoiceDetail, invoiceLinks, readableInvoice, unbilledDetail } from './invoices.ts';
import { approveDraft, callerSellers, rerateDraft, voidInvoice } from './lifecycle.ts';
import { addOverride, mayReadPriceSheets, readableOverrides, setListPrice } from './prices.ts';
import { setProfile } from './profiles.ts';
import { OVERRIDE_ORDER, pricingStore } from '../rating/store.ts';
import { billingStore, INVOICE_ORDER } from './store.ts';
import type { InvoicesTable, Stream } from './tables.ts';
import { customerInvoiceView } from './views.ts';

// Billing on the hub's ARM endpoint (Stackledger.Billing): billing runs, a partner's invoices to
// its customers (and a customer's own), prices, overrides, billing profiles, credits and exports.

const P = '/providers/Stackledger.Billing';
const config = (type: string) => ({ apiVersions: API_VERSIONS.system, resourceType: `Stackledger.Billing/${type}` });

const TierBody = Type.Object({
  fromQuantity: Type.Optional(Type.Union([Type.String(), Type.Number()])),
  unitPrice: Type.Union([Type.String(), Type.Number()]),
});
const PriceBody = Type.Object({
  effectiveFrom: Type.String(),
  tiers: Type.Array(TierBody, { minItems: 1, maxItems: 20 }),
});
const OverrideBody = Type.Object({
  level: Type.Optional(Type.Union([Type.Literal('provider'), Type.Literal('partner')])),
  customerId: Type.Optional(Type.String()),
  offerId: Type.Optional(Type.String({ minLength: 1 })),
  meterId: Type.Optional(Type.String()),
  kind: Type.String(),
  value: Type.Union([Type.String(), Type.Number()]),
  effectiveFrom: Type.String(),
  reason: Type.String({ minLength: 1 }),
});
const ProfileBody = Type.Object({
  level: Type.Optional(Type.Union([Type.Literal('provider'), Type.Literal('partner')])),
  billingDay: Type.Optional(Type.Integer()),
  taxRate: Type.Optional(Type.Union([Type.String(), Type.Number()])),
  gracePeriodDays: Type.Optional(Type.Integer()),
});
const VoidBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000 }) });
const AdjustmentBody = Type.Object({
  level: Type.Optional(Type.Union([Type.Literal('provider'), Type.Literal('partner')])),
  partnerId: Type.Optional(Type.String()),
  customerId: Type.Optional(Type.String()),
  subscriptionId: Type.Optional(Type.String()),
  kind: Type.Union([Type.Literal('credit'), Type.Literal('adjustment')]),
  amount: Type.Union([Type.String(), Type.Number()]),
  description: Type.String({ minLength: 1 }),
  reason: Type.String({ minLength: 1 }),
  creditNoteFor: Type.Optional(Type.String()),
});

/** An invoice's document without its lines, with its links. */
async function invoiceSummary(ctx: BillingContext, inv: InvoicesTable) {
  const [names, links] = await Promise.all([billingStore.names(ctx.db, [inv.buyer_id]), invoiceLinks(ctx, inv)]);
  return customerInvoiceView(inv, names, links);
}

function periodQuery(request: FastifyRequest, required: boolean): string | undefined {
  const period = queryValue(request, 'period');
  if (period === undefined) {
    if (required)
      throw armError('InvalidBillingPeriod', "The query parameter 'period' (YYYY-MM) is required.", 'period');
    return undefined;
  }
  parsePeriod(period);
  return period;
}

export function registerBillingRoutes(app: FastifyInstance, ctx: BillingContext, baseUrl: () => string): void {
  // A billing run: closes the period (and any earlier one still open). With Accept:
  // application/x-ndjson it reports progress line by line, then the result.
  app.post<{ Body: { period: string } }>(
    `${P}/billingRuns`,
    { config: config('billingRuns'), schema: { body: Type.Object({ period: Type.String() }) } },
    async (request, reply) => {
      const caller = principalOf(request);
      if (!String(request.headers.accept ?? '').includes('application/x-ndjson'))
        return runBilling(ctx, caller, request.body.period);
      await runBillingPreflight(ctx, caller, request.body.period);
      reply.raw.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'x-ms-request-id': String(reply.getHeader('x-ms-request-id') ?? ''),
      });
      try {
        const result = await runBilling(ctx, caller, request.body.period, (p) =>
          reply.raw.write(JSON.stringify({ progress: p }) + '\n'),
        );
        reply.raw.end(JSON.stringify({ result }) + '\n');
      } catch (e) {
        const error =
          e instanceof ArmError
            ? e.toBody().error
            : { code: 'InternalServerError', message: 'The billing run failed; see the server log.' };
        request.log.error({ err: e }, 'billing run failed');
        reply.raw.end(JSON.stringify({ error }) + '\n');
      }
      return reply.hijack();
    },
  );

  // The caller's invoices: a partner's to its customers (drafts included), the provider's to
  // partners with `stream=partner` (system administrators), or a customer's own finalized ones.
  app.get(`${P}/invoices`, { config: config('invoices') }, async (request) => {
    const caller = principalOf(request);
    const sellers = await callerSellers(ctx, caller);
    const provider = queryValue(request, 'stream') === 'partner';
    const seller = provider ? sellers.find((s) => s === PROVIDER) : sellers.find((s) => s !== PROVIDER);
    if (provider && !seller) await ctx.system.require(caller, 'Stackledger.Billing/invoices/action');
    const scope = seller
      ? { stream: provider ? ('partner' as const) : ('customer' as const), seller }
      : { stream: 'customer' as const, buyerId: caller.tenantId, finalOnly: true };
    const customerId = queryValue(request, 'customerId')?.toLowerCase();
    if (customerId && !isGuid(customerId))
      throw armError('InvalidCustomerId', `'${customerId}' is not a GUID.`, 'customerId');
    const page = pageOf(request, INVOICE_ORDER);
    const rows = await billingStore.listInvoices(
      ctx.db,
      {
        ...scope,
        ...(customerId && seller ? { buyerId: customerId } : {}),
        period: periodQuery(request, false),
      },
      page,
    );
    const names = await billingStore.names(ctx.db, [...new Set(rows.map((r) => r.buyer_id))]);
    return pagedList(request, baseUrl(), page, rows, (r) => customerInvoiceView(r, names));
  });

  // The open period of one customer: its next invoice so far.
  app.get(`${P}/invoices/unbilled`, { config: config('invoices') }, async (request, reply) => {
    const caller = principalOf(request);
    const partner = await callerPartner(ctx, caller);
    const customerId = partner ? queryValue(request, 'customerId')?.toLowerCase() : caller.tenantId;
    const customer =
      customerId && isGuid(customerId)
        ? await (partner
            ? partnerStore.getCustomer(ctx.db, partner.tenant_id, customerId)
            : partnerStore.customerById(ctx.db, customerId))
        : undefined;
    if (!customer)
      throw armError(
        'CustomerNotFound',
        partner ? "Name one of the partner's customers with 'customerId'." : 'The caller is not a customer.',
        'customerId',
      );
    reply.header('content-type', 'application/json; charset=utf-8');
    return reply.send(Readable.from(unbilledDetail(ctx, customer)));
  });

  app.get<{ Params: { number: string } }>(
    `${P}/invoices/:number`,
    { config: config('invoices') },
    async (request, reply) => {
      let inv = await readableInvoice(ctx, principalOf(request), request.params.number);
      // A draft is a materialised preview: its seller sees it rated from the current usage.
      if (inv.status === 'draft') {
        await rerateDraft(ctx, inv.id);
        inv = (await billingStore.invoiceById(ctx.db, inv.id)) ?? inv;
      }
      reply.header('content-type', 'application/json; charset=utf-8');
      return reply.send(Readable.from(invoiceDetail(ctx, inv)));
    },
  );

  // The seller's approval: a draft is finalized (rated a last time, numbered) before its grace ends.
  app.post<{ Params: { number: string } }>(
    `${P}/invoices/:number/finalize`,
    { config: config('invoices') },
    async (request) => {
      const inv = await approveDraft(ctx, principalOf(request), request.params.number);
      return invoiceSummary(ctx, inv);
    },
  );

  // Void and regenerate: a credit note for the whole invoice and a new invoice for its period.
  app.post<{ Params: { number: string }; Body: Static<typeof VoidBody> }>(
    `${P}/invoices/:number/void`,
    { config: config('invoices'), schema: { body: VoidBody } },
    async (request) => {
      const r = await voidInvoice(ctx, principalOf(request), request.params.number, request.body.reason);
      const [voided, creditNote, replacement] = await Promise.all(
        [r.voided, r.creditNote, r.replacement].map((i) => invoiceSummary(ctx, i)),
      );
      return { ...voided, creditNote, replacement };
    },
  );

  app.get<{ Params: { number: string } }>(
    `${P}/invoices/:number/pdf`,
    { config: config('invoices') },
    async (request, reply) => {
      const inv = await readableInvoice(ctx, principalOf(request), request.params.number);
      return sendPdf(reply, await invoicePdf(await invoiceDocument(ctx, inv)), `${inv.name}.pdf`);
    },
  );

  app.get(`${P}/exports`, { config: config('exports') }, async (request, reply) => {
    const stream = (queryValue(request, 'stream') ?? 'partner').toLowerCase() as Stream;
    if (stream !== 'partner' && stream !== 'customer')
      throw armError(
        'InvalidStream',
        "stream must be 'partner' (the provider's invoice) or 'customer' (the partner's invoices to its customers).",
        'stream',
      );
    const { selection, format } = await exportSelection(ctx, principalOf(request), {
      period: queryValue(request, 'period'),
      format: queryValue(request, 'format'),
      stream,
      customerId: queryValue(request, 'customerId'),
    });
    const ext = format === 'json' ? 'json' : 'csv';
    if (format === 'focus') {
      // FOCUS data names its schema without being read: the metadata's link and the schema's id.
      reply.header(
        'link',
        `<${baseUrl()}${P}/exports/focusMetadata?api-version=${queryValue(request, 'api-version')}>; rel="describedby"`,
      );
      reply.header('x-focus-schema-id', focusMetadata().Schema.SchemaId);
    }
    reply.header('content-type', format === 'json' ? 'application/json; charset=utf-8' : 'text/csv; charset=utf-8');
    reply.header(
      'content-disposition',
      `attachment; filename="stackledger-${stream}-${format}-${selection.period}.${ext}"`,
    );
    return reply.send(exportStream(ctx.db, ctx.pool, selection, format));
  });

  // The FOCUS export's metadata: the same for every signed-in caller (any of them may export its own invoices).
  app.get(`${P}/exports/focusMetadata`, { config: config('exports') }, async (request) => {
    noteRightsChecked(principalOf(request));
    return focusMetadata();
  });

  app.get<{ Params: { name: string } }>(
    `${P}/priceSheets/:name`,
    { config: config('priceSheets') },
    async (request) => {
      await mayReadPriceSheets(ctx, principalOf(request));
      const sheet = await pricingStore.sheet(ctx.db, request.params.name);
      if (!sheet) throw armErrors.resourceNotFound('Stackledger.Billing/priceSheets', request.params.name);
      return priceSheetView(sheet, await pricingStore.sheetPrices(ctx.db, sheet.name));
    },
  );

  app.put<{ Params: { name: string; meterId: string }; Body: Static<typeof PriceBody> }>(
    `${P}/priceSheets/:name/meters/:meterId`,
    { config: config('priceSheets'), schema: { body: PriceBody } },
    async (request) =>
      setListPrice(ctx, principalOf(request), request.params.name, request.params.meterId, request.body),
  );

  app.post<{ Body: Static<typeof OverrideBody> }>(
    `${P}/priceOverrides`,
    { config: config('priceOverrides'), schema: { body: OverrideBody } },
    async (request, reply) => reply.status(201).send(await addOverride(ctx, principalOf(request), request.body)),
  );
  // `level` is in the list's scope (listScope): a token of one level is refused by the other.
  app.get(
    `${P}/priceOverrides`,
    { config: config('priceOverrides') },
    pagedListRoute(
      OVERRIDE_ORDER,
      baseUrl,
      (request, cursor) =>
        readableOverrides(
          ctx,
          principalOf(request),
          queryValue(request, 'level') === 'provider' ? 'provider' : 'partner',
          cursor,
        ),
      (o) => o,
    ),
  );

  app.put<{ Params: { target: string }; Body: Static<typeof ProfileBody> }>(
    `${P}/billingProfiles/:target`,
    { config: config('billingProfiles'), schema: { body: ProfileBody } },
    async (request) => setProfile(ctx, principalOf(request), request.params.target, request.body),
  );

  app.post<{ Body: Static<typeof AdjustmentBody> }>(
    `${P}/adjustments`,
    { config: config('adjustments'), schema: { body: AdjustmentBody } },
    async (request, reply) => reply.status(201).send(await addAdjustment(ctx, principalOf(request), request.body)),
  );
}
