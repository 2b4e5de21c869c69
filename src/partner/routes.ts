import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { ACTIVITY_ORDER, auditStore } from '../audit/store.ts';
import { findMeter } from '../core/meters.ts';
import { GRANULARITY_MS, usageTime } from '../core/usage-api.ts';
import { refuseArchivedUsage } from '../usage/archive.ts';
import { usageGroupOrder, usageStore } from '../usage/store.ts';
import { parseInstant } from '../core/clock.ts';
import { principalOf, queryValue } from '../http/arm.ts';
import { collection, pageOfCollection, pagedCollection } from './collection.ts';
import { partnerCenterError } from '../core/errors.ts';
import { findOffer, OFFERS, partnerErrors } from './rules.ts';
import { type PartnerContext, requireCustomer, requirePartner } from './context.ts';
import { acceptRelationship, createCustomer } from './customers.ts';
import { createOrder } from './orders.ts';
import { getSubscription, updateSubscription } from './subscriptions.ts';
import { CUSTOMER_ORDER, ORDER_LIST_ORDER, PARTNER_SUBSCRIPTION_ORDER, partnerStore } from './store.ts';
import { auditRecordView, customerView, offerView, orderView, subscriptionView } from './views.ts';

// The partner center's routes (v1), mounted at hub.partnerCenter.

const Address = Type.Record(Type.String(), Type.String());
const CustomerBody = Type.Object({
  companyProfile: Type.Object({ domain: Type.String({ minLength: 1 }), companyName: Type.Optional(Type.String()) }),
  billingProfile: Type.Optional(
    Type.Object({
      email: Type.Optional(Type.String()),
      culture: Type.Optional(Type.String()),
      language: Type.Optional(Type.String()),
      companyName: Type.Optional(Type.String()),
      defaultAddress: Type.Optional(Address),
    }),
  ),
});

const OrderBody = Type.Object({
  referenceCustomerId: Type.Optional(Type.String()),
  billingCycle: Type.Optional(Type.String()),
  lineItems: Type.Array(
    Type.Object({
      lineItemNumber: Type.Optional(Type.Integer({ minimum: 0 })),
      offerId: Type.String({ minLength: 1 }),
      quantity: Type.Optional(Type.Integer()),
      friendlyName: Type.Optional(Type.String()),
    }),
  ),
});

const SubscriptionPatchBody = Type.Object({
  status: Type.Optional(Type.String()),
  friendlyName: Type.Optional(Type.String()),
  quantity: Type.Optional(Type.Integer()),
});

type CustomerParams = { customerId: string };
type SubscriptionParams = CustomerParams & { subscriptionId: string };

function customerFilter(text: string | undefined): { field?: 'company' | 'domain'; prefix?: string } {
  if (!text) return {};
  let f: Record<string, unknown> | null;
  try {
    f = JSON.parse(text);
  } catch {
    throw partnerCenterError(
      'InvalidFilter',
      'filter must be JSON such as {"Field":"CompanyName","Value":"Contoso","Operator":"starts_with"}.',
      'filter',
    );
  }
  const field = String(f?.Field ?? f?.field ?? '').toLowerCase();
  const op = String(f?.Operator ?? f?.operator ?? 'starts_with').toLowerCase();
  const value = f?.Value ?? f?.value;
  if (!['companyname', 'domain'].includes(field) || op !== 'starts_with' || typeof value !== 'string') {
    throw partnerCenterError(
      'InvalidFilter',
      'filter supports Field CompanyName or Domain with Operator starts_with and a string Value.',
      'filter',
    );
  }
  return { field: field === 'companyname' ? 'company' : 'domain', prefix: value };
}

export function registerPartnerCenterRoutes(app: FastifyInstance, ctx: PartnerContext, baseUrl: () => string): void {
  app.get('/v1/offers', async (request) => {
    await requirePartner(ctx, principalOf(request));
    const country = queryValue(request, 'country') ?? 'US';
    return collection(
      request,
      OFFERS.map((o) => offerView(o, country)),
    );
  });

  app.get<{ Params: { offerId: string } }>('/v1/offers/:offerId', async (request) => {
    await requirePartner(ctx, principalOf(request));
    const offer = findOffer(request.params.offerId);
    if (!offer) throw partnerErrors.notFound('Offer', request.params.offerId);
    return offerView(offer, queryValue(request, 'country') ?? 'US');
  });

  app.post<{ Body: Static<typeof CustomerBody> }>(
    '/v1/customers',
    { schema: { body: CustomerBody } },
    async (request, reply) => {
      const { customer, userCredentials } = await createCustomer(ctx, principalOf(request), request.body);
      return reply.status(201).send(customerView(customer, userCredentials));
    },
  );

  app.get('/v1/customers', async (request) => {
    const p = await requirePartner(ctx, principalOf(request));
    const page = pageOfCollection(request, CUSTOMER_ORDER);
    const rows = await partnerStore.listCustomers(
      ctx.db,
      p.tenant_id,
      customerFilter(queryValue(request, 'filter')),
      page,
    );
    return pagedCollection(request, page, rows, (c) => customerView(c));
  });

  app.get('/v1/customers/relationshiprequests', async (request) => {
    const p = await requirePartner(ctx, principalOf(request));
    return {
      url: `${baseUrl()}/v1/relationshiprequests/${p.tenant_id}`,
      attributes: { objectType: 'CustomerRelationshipRequest' },
    };
  });

  app.post<{ Params: { partnerId: string } }>('/v1/relationshiprequests/:partnerId', async (request, reply) => {
    const customer = await acceptRelationship(ctx, principalOf(request), request.params.partnerId);
    return reply.status(201).send(customerView(customer));
  });

  app.get<{ Params: CustomerParams }>('/v1/customers/:customerId', async (request) => {
    const p = await requirePartner(ctx, principalOf(request));
    return customerView(await requireCustomer(ctx, p.tenant_id, request.params.customerId));
  });

  app.post<{ Params: CustomerParams; Body: Static<typeof OrderBody> }>(
    '/v1/customers/:customerId/orders',
    { schema: { body: OrderBody } },
    async (request, reply) => {
      const { order } = await createOrder(ctx, principalOf(request), request.params.customerId, request.body);
      return reply.status(201).send(orderView(order));
    },
  );

  app.get<{ Params: CustomerParams }>('/v1/customers/:customerId/orders', async (request) => {
    const p = await requirePartner(ctx, principalOf(request));
    const c = await requireCustomer(ctx, p.tenant_id, request.params.customerId);
    const page = pageOfCollection(request, ORDER_LIST_ORDER);
    const rows = await partnerStore.listOrders(ctx.db, p.tenant_id, c.id, page);
    return pagedCollection(request, page, rows, orderView);
  });

  app.get<{ Params: CustomerParams & { orderId: string } }>(
    '/v1/customers/:customerId/orders/:orderId',
    async (request) => {
      const p = await requirePartner(ctx, principalOf(request));
      const c = await requireCustomer(ctx, p.tenant_id, request.params.customerId);
      const order = /^[0-9a-f-]{36}$/i.test(request.params.orderId)
        ? await partnerStore.getOrder(ctx.db, p.tenant_id, c.id, request.params.orderId.toLowerCase())
        : undefined;
      if (!order) throw partnerErrors.notFound('Order', request.params.orderId);
      return orderView(order);
    },
  );

  app.get<{ Params: CustomerParams }>('/v1/customers/:customerId/subscriptions', async (request) => {
    const p = await requirePartner(ctx, principalOf(request));
    const c = await requireCustomer(ctx, p.tenant_id, request.params.customerId);
    const page = pageOfCollection(request, PARTNER_SUBSCRIPTION_ORDER);
    const rows = await partnerStore.listSubscriptions(ctx.db, p.tenant_id, c.id, page);
    return pagedCollection(request, page, rows, subscriptionView);
  });

  app.get<{ Params: SubscriptionParams }>(
    '/v1/customers/:customerId/subscriptions/:subscriptionId',
    async (request) => {
      return subscriptionView(
        await getSubscription(ctx, principalOf(request), request.params.customerId, request.params.subscriptionId),
      );
    },
  );

  app.patch<{ Params: SubscriptionParams; Body: Static<typeof SubscriptionPatchBody> }>(
    '/v1/customers/:customerId/subscriptions/:subscriptionId',
    { schema: { body: SubscriptionPatchBody } },
    async (request) => {
      const updated = await updateSubscription(
        ctx,
        principalOf(request),
        request.params.customerId,
        request.params.subscriptionId,
        request.body,
      );
      return subscriptionView(updated);
    },
  );

  // Azure utilization records of a subscription sold to a customer (by usage time).
  app.get<{ Params: SubscriptionParams }>(
    '/v1/customers/:customerId/subscriptions/:subscriptionId/utilizations/azure',
    async (request) => {
      const sub = await getSubscription(
        ctx,
        principalOf(request),
        request.params.customerId,
        request.params.subscriptionId,
      );
      const time = (name: string, fallback?: Date) => {
        const text = queryValue(request, name);
        if (text === undefined) {
          if (fallback) return fallback;
          throw partnerCenterError('InvalidInput', `The query parameter '${name}' is required.`, name);
        }
        const t = parseInstant(text);
        if (!t) throw partnerCenterError('InvalidInput', `${name} '${text}' is not an ISO 8601 time.`, name);
        return t;
      };
      const start = time('start_time');
      const end = time('end_time', ctx.arm.clock.now());
      if (end.getTime() <= start.getTime())
        throw partnerCenterError('InvalidInput', 'end_time must be later than start_time.', 'end_time');
      const granularityText = (queryValue(request, 'granularity') ?? 'daily').toLowerCase();
      if (granularityText !== 'daily' && granularityText !== 'hourly')
        throw partnerCenterError(
          'InvalidInput',
          `granularity '${granularityText}' must be daily or hourly.`,
          'granularity',
        );
      const granularity = granularityText === 'hourly' ? 'Hourly' : 'Daily';
      await refuseArchivedUsage(ctx, principalOf(request), { from: start, to: end, by: 'hour' });
      const showDetails = (queryValue(request, 'show_details') ?? 'true').toLowerCase() !== 'false';
      const order = usageGroupOrder({ granularity, showDetails });
      const page = pageOfCollection(request, order, 1000);
      const rows = await usageStore.utilization(
        ctx.db,
        { subscriptionId: sub.id, start, end, granularity, showDetails },
        page,
        ctx.usagePageRecords,
      );
      const span = GRANULARITY_MS[granularity];
      return pagedCollection(request, page, rows, (r) => {
        const meter = findMeter(r.meter_id);
        return {
          usageStartTime: usageTime(r.bucket),
          usageEndTime: usageTime(new Date(r.bucket.getTime() + span)),
          resource: {
            id: r.meter_id,
            name: meter?.name ?? r.meter_id,
            category: meter?.category ?? 'Unknown',
            subcategory: meter?.subcategory ?? '',
            region: r.location ?? '',
          },
          quantity: Number(r.quantity),
          unit: meter?.unit ?? '',
          infoFields: {},
          ...(showDetails
            ? {
                instanceData: {
                  resourceUri: r.resource_uri,
                  location: r.location,
                  partNumber: '',
                  orderNumber: '',
                  additionalInfo: { DeploymentId: r.cloud_id, SubscriptionId: r.stack_subscription_id },
                  tags: r.tags ?? {},
                },
              }
            : {}),
          attributes: { objectType: 'AzureUtilizationRecord' },
        };
      });
    },
  );

  app.get('/v1/auditrecords', async (request) => {
    const p = await requirePartner(ctx, principalOf(request));
    const bound = (name: string, fallback: Date) => {
      const text = queryValue(request, name);
      if (text === undefined) return fallback;
      const t = parseInstant(text);
      if (!t) throw partnerCenterError('InvalidDate', `${name} '${text}' is not an ISO 8601 date or time.`, name);
      return t;
    };
    const end = bound('endDate', new Date(8.64e15));
    const start = bound('startDate', new Date(0));
    const page = pageOfCollection(request, ACTIVITY_ORDER, 500);
    const rows = await auditStore.list(ctx.db, p.tenant_id, start, end, page);
    return pagedCollection(request, page, rows, auditRecordView);
  });
}
