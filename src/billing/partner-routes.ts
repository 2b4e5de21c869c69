import type { FastifyInstance, FastifyRequest } from 'fastify';
import { principalOf, queryValue } from '../http/arm.ts';
import {
  collection,
  continuationToken,
  invalidContinuation,
  pageOfCollection,
  pagedCollection,
  pageSize,
} from '../partner/collection.ts';
import { partnerCenterError } from '../core/errors.ts';
import { partnerErrors } from '../partner/rules.ts';
import { type BillingContext, PROVIDER, callerPartner } from './context.ts';
import { invoiceDocument, invoicePdf, sendPdf } from './documents.ts';
import { unbilledPage } from './invoices.ts';
import { readUnbilledToken, unbilledToken } from './rules.ts';
import { billingStore, type DailyRatedLine, INVOICE_ORDER, LINE_ORDER, type StoredLine } from './store.ts';
import type { InvoicesTable } from './tables.ts';
import { dailyRatedLineView, partnerInvoiceView } from './views.ts';

// The partner's invoices from the provider, in the partner center's shapes (hub.partnerCenter):
// invoices, their daily-rated usage line items, and the open period's unbilled line items.

/** Only the daily-rated usage lines exist: `provider=onetime&invoicelineitemtype=usagelineitems`. */
function requireUsageLineItems(request: FastifyRequest): void {
  const provider = queryValue(request, 'provider')?.toLowerCase();
  const type = queryValue(request, 'invoicelineitemtype')?.toLowerCase();
  if (provider !== 'onetime')
    throw partnerCenterError(
      'InvalidProvider',
      `provider '${provider ?? ''}' is not supported: use provider=onetime.`,
      'provider',
    );
  if (type !== 'usagelineitems')
    throw partnerCenterError(
      'InvalidInvoiceLineItemType',
      `invoicelineitemtype '${type ?? ''}' is not supported: use usagelineitems.`,
      'invoicelineitemtype',
    );
}

export function registerPartnerInvoiceRoutes(app: FastifyInstance, ctx: BillingContext): void {
  const partnerOf = async (request: FastifyRequest) => {
    const dir = await callerPartner(ctx, principalOf(request));
    if (!dir)
      throw partnerCenterError(
        'Forbidden',
        `The directory '${principalOf(request).tenantId}' is not a partner of this cloud.`,
      );
    return dir;
  };

  const lineItemViews = async (partnerId: string, number: string, currency: string, rows: DailyRatedLine[]) => {
    const ids = new Set<string>([partnerId]);
    for (const l of rows) for (const id of [l.customer_id, l.subscription_id]) if (id) ids.add(id);
    const names = await billingStore.names(ctx.db, [...ids]);
    return rows.map((l) => dailyRatedLineView(l, { partnerId, invoiceNumber: number, currency, names }));
  };

  /** Line items, paged by line number (keyset): invoices of millions of lines page as fast as small ones. */
  const lineItems = async (
    request: FastifyRequest,
    partnerId: string,
    number: string,
    currency: string,
    lines: (after: number, limit: number) => Promise<StoredLine[]>,
  ) => {
    const page = pageOfCollection(request, LINE_ORDER, 2000, 2000);
    const rows = await lines(Number(page.after?.[0] ?? 0), page.limit + 1);
    const views = await lineItemViews(partnerId, number, currency, rows);
    return pagedCollection(request, page, rows, (_, i) => views[i]);
  };

  app.get('/v1/invoices', async (request) => {
    const partner = await partnerOf(request);
    const page = pageOfCollection(request, INVOICE_ORDER, 200);
    const rows = await billingStore.listInvoices(
      ctx.db,
      { stream: 'partner', buyerId: partner.tenant_id, finalOnly: true },
      page,
    );
    return pagedCollection(request, page, rows, partnerInvoiceView);
  });

  // The open period, before the invoice exists. Registered before `/v1/invoices/:id`.
  app.get('/v1/invoices/unbilled/lineitems', async (request) => {
    const partner = await partnerOf(request);
    requireUsageLineItems(request);
    const currency = (queryValue(request, 'currencycode') ?? '').toUpperCase();
    if (currency !== 'USD')
      throw partnerCenterError(
        'InvalidCurrencyCode',
        `currencycode '${currency}' is not a billing currency of this partner: use USD.`,
        'currencycode',
      );
    const period = (queryValue(request, 'period') ?? '').toLowerCase();
    if (period !== 'current')
      throw partnerCenterError(
        'InvalidPeriod',
        `period '${period}' is not supported: use period=current (closed periods are invoices).`,
        'period',
      );
    const token = continuationToken(request);
    const from = token === undefined ? undefined : readUnbilledToken(token);
    if (token !== undefined && !from) throw invalidContinuation();
    const size = pageSize(request, 2000, 2000);
    const page = await unbilledPage(
      ctx,
      'partner',
      { seller: PROVIDER, buyerId: partner.tenant_id, since: partner.created_at },
      from,
      size,
    );
    const items = await lineItemViews(partner.tenant_id, '', currency, page.lines);
    return collection(request, items, page.next && unbilledToken(page.next));
  });

  const partnerInvoice = async (request: FastifyRequest<{ Params: { id: string } }>): Promise<InvoicesTable> => {
    const partner = await partnerOf(request);
    // The provider's drafts are the provider's until finalized: not found, as any other.
    const inv = await billingStore.findInvoice(ctx.db, request.params.id, {
      sellers: [PROVIDER],
      buyerId: partner.tenant_id,
      stream: 'partner',
      finalOnly: true,
    });
    if (!inv) throw partnerErrors.notFound('Invoice', request.params.id);
    return inv;
  };

  app.get<{ Params: { id: string } }>('/v1/invoices/:id', async (request) =>
    partnerInvoiceView(await partnerInvoice(request)),
  );

  app.get<{ Params: { id: string } }>('/v1/invoices/:id/lineitems', async (request) => {
    const inv = await partnerInvoice(request);
    requireUsageLineItems(request);
    return lineItems(request, inv.buyer_id, inv.name, inv.currency, (after, limit) =>
      billingStore.lines(ctx.db, inv.id, after, limit),
    );
  });

  // The vendor's invoice document: the statement, as a PDF.
  app.get<{ Params: { id: string } }>('/v1/invoices/:id/documents/statement', async (request, reply) => {
    const inv = await partnerInvoice(request);
    return sendPdf(reply, await invoicePdf(await invoiceDocument(ctx, inv)), `statement-${inv.name}.pdf`);
  });
}
