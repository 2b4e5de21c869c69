import { armStore } from '../../arm/store.ts';
import { noteRightsChecked } from '../../core/principal.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { pagedList, pageOf, principalOf } from '../../http/arm.ts';
import { QUOTA_KINDS } from './rules.ts';
import * as offers from './service.ts';
import { offersStore } from './store.ts';
import type { OffersTable } from './tables.ts';
import {
  adminSubscriptionView,
  offerNameOf,
  offerView,
  planView,
  quotaView,
  tenantOfferView,
  tenantSubscriptionView,
} from './views.ts';

// Routes of the operator's catalogue (admin endpoint) and of the tenant's subscriptions (tenant endpoint).

const SUBSCRIPTIONS_API = ['2015-11-01'];
const adminConfig = (type: string) => ({ apiVersions: SUBSCRIPTIONS_API, resourceType: type });

/** The properties plans and offers share. */
const CATALOG_TEXT = {
  name: Type.Optional(Type.String()),
  displayName: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  externalReferenceId: Type.Optional(Type.String()),
};

const PlanBody = Type.Object({
  location: Type.Optional(Type.String()),
  properties: Type.Optional(
    Type.Object({
      ...CATALOG_TEXT,
      quotaIds: Type.Optional(Type.Array(Type.String())),
      skuIds: Type.Optional(Type.Array(Type.String())),
      subscriptionCount: Type.Optional(Type.Integer()),
    }),
  ),
});

const OfferBody = Type.Object({
  location: Type.Optional(Type.String()),
  properties: Type.Optional(
    Type.Object({
      ...CATALOG_TEXT,
      state: Type.Optional(
        Type.Union([Type.Literal('Private'), Type.Literal('Public'), Type.Literal('Decommissioned')]),
      ),
      subscriptionCount: Type.Optional(Type.Integer()),
      maxSubscriptionsPerAccount: Type.Optional(Type.Integer({ minimum: 0 })),
      basePlanIds: Type.Optional(Type.Array(Type.String())),
      addonPlans: Type.Optional(
        Type.Array(Type.Object({ planId: Type.String(), maxAcquisitionCount: Type.Optional(Type.Integer()) })),
      ),
    }),
  ),
});

const AdminSubscriptionBody = Type.Object({
  properties: Type.Optional(
    Type.Object({
      displayName: Type.Optional(Type.String()),
      offerId: Type.Optional(Type.String()),
      owner: Type.Optional(Type.String()),
      state: Type.Optional(Type.String()),
      tenantId: Type.Optional(Type.String()),
      delegatedProviderSubscriptionId: Type.Optional(Type.String()),
      id: Type.Optional(Type.String()),
      subscriptionId: Type.Optional(Type.String()),
      routingResourceManagerType: Type.Optional(Type.String()),
    }),
  ),
});

const TenantSubscriptionBody = Type.Object({
  displayName: Type.String({ minLength: 1 }),
  offerId: Type.String({ minLength: 1 }),
  id: Type.Optional(Type.String()),
  subscriptionId: Type.Optional(Type.String()),
  state: Type.Optional(Type.String()),
  tenantId: Type.Optional(Type.String()),
});

type Catalog = { subscriptionId: string; resourceGroupName: string; name: string };

export function registerCatalogRoutes(app: FastifyInstance, ctx: offers.OffersContext, baseUrl: () => string): void {
  const location = () => ctx.arm.locations()[0];
  const ref = (p: Catalog) => ({ subscriptionId: p.subscriptionId, resourceGroup: p.resourceGroupName, name: p.name });
  const counts = (rows: OffersTable[]) =>
    armStore.liveSubscriptionCounts(
      ctx.arm.db,
      rows.map((o) => `/delegatedProviders/default/offers/${o.name}`),
    );
  const offerViews = async (rows: OffersTable[]) => {
    const n = await counts(rows);
    return rows.map((o) => offerView(o, location(), n.get(`/delegatedProviders/default/offers/${o.name}`) ?? 0));
  };

  // Quotas of the compute, storage and network providers, and the subscriptions provider's own.
  for (const kind of QUOTA_KINDS) {
    const path = `/subscriptions/:subscriptionId/providers/${kind.provider}/locations/:location/quotas`;
    const config = { apiVersions: kind.apiVersions, resourceType: `${kind.provider}/locations/quotas` };
    type P = { subscriptionId: string; location: string; name: string };
    const qref = (p: P) => ({
      subscriptionId: p.subscriptionId,
      provider: kind.provider,
      location: p.location,
      name: p.name,
    });
    app.put<{ Params: P; Body: { properties?: Record<string, unknown> } }>(
      `${path}/:name`,
      {
        config,
        schema: {
          body: Type.Object({
            location: Type.Optional(Type.String()),
            properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          }),
        },
      },
      async (request, reply) => {
        const { quota, created } = await offers.putQuota(
          ctx,
          principalOf(request),
          qref(request.params),
          request.body.properties,
        );
        return reply.status(created ? 201 : 200).send(quotaView(quota));
      },
    );
    app.get<{ Params: P }>(`${path}/:name`, { config }, async (request) =>
      quotaView(await offers.getQuota(ctx, principalOf(request), qref(request.params))),
    );
    app.get<{ Params: Omit<P, 'name'> }>(path, { config }, async (request) => ({
      value: (await offers.listQuotas(ctx, principalOf(request), { ...request.params, provider: kind.provider })).map(
        quotaView,
      ),
    }));
    app.delete<{ Params: P }>(`${path}/:name`, { config }, async (request, reply) =>
      reply.status((await offers.deleteQuota(ctx, principalOf(request), qref(request.params))) ? 200 : 204).send(),
    );
  }
  app.get<{ Params: { subscriptionId: string; location: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Subscriptions.Admin/locations/:location/quotas',
    { config: adminConfig('locations/quotas') },
    async (request) => {
      const { subscriptionId } = request.params;
      await offers.requireProviderScope(
        ctx,
        principalOf(request),
        subscriptionId,
        'Microsoft.Subscriptions.Admin/locations/quotas/read',
        `/subscriptions/${subscriptionId}`,
      );
      return {
        value: [
          {
            id: `/subscriptions/${request.params.subscriptionId}/providers/Microsoft.Subscriptions.Admin/locations/${request.params.location}/quotas/delegatedProviderQuota`,
            name: `${request.params.location}/delegatedProviderQuota`,
            type: 'Microsoft.Subscriptions.Admin/locations/quotas',
            location: request.params.location,
            properties: { allowCustomPortalBranding: false },
          },
        ],
      };
    },
  );

  // Plans.
  const PLANS =
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/providers/Microsoft.Subscriptions.Admin/plans';
  app.put<{ Params: Catalog; Body: Static<typeof PlanBody> }>(
    `${PLANS}/:name`,
    { config: adminConfig('plans'), schema: { body: PlanBody } },
    async (request, reply) => {
      const { plan, created } = await offers.putPlan(
        ctx,
        principalOf(request),
        ref(request.params),
        request.body.properties ?? {},
      );
      return reply.status(created ? 201 : 200).send(planView(plan, location(), 0));
    },
  );
  app.get<{ Params: Catalog }>(`${PLANS}/:name`, { config: adminConfig('plans') }, async (request) =>
    planView(await offers.getPlan(ctx, principalOf(request), ref(request.params)), location(), 0),
  );
  app.get<{ Params: Omit<Catalog, 'name'> }>(PLANS, { config: adminConfig('plans') }, async (request) => ({
    value: (
      await offers.listPlans(ctx, principalOf(request), request.params.subscriptionId, request.params.resourceGroupName)
    ).map((p) => planView(p, location(), 0)),
  }));
  app.get<{ Params: { subscriptionId: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Subscriptions.Admin/plans',
    { config: adminConfig('plans') },
    async (request) => ({
      value: (await offers.listPlans(ctx, principalOf(request), request.params.subscriptionId)).map((p) =>
        planView(p, location(), 0),
      ),
    }),
  );
  app.delete<{ Params: Catalog }>(`${PLANS}/:name`, { config: adminConfig('plans') }, async (request, reply) =>
    reply.status((await offers.deletePlan(ctx, principalOf(request), ref(request.params))) ? 200 : 204).send(),
  );

  // Offers.
  const OFFERS =
    '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.Subscriptions.Admin/offers';
  app.put<{ Params: Catalog; Body: Static<typeof OfferBody> }>(
    `${OFFERS}/:name`,
    { config: adminConfig('offers'), schema: { body: OfferBody } },
    async (request, reply) => {
      const { offer, created } = await offers.putOffer(
        ctx,
        principalOf(request),
        ref(request.params),
        request.body.properties ?? {},
      );
      return reply.status(created ? 201 : 200).send((await offerViews([offer]))[0]);
    },
  );
  app.get<{ Params: Catalog }>(
    `${OFFERS}/:name`,
    { config: adminConfig('offers') },
    async (request) => (await offerViews([await offers.getOffer(ctx, principalOf(request), ref(request.params))]))[0],
  );
  app.get<{ Params: Omit<Catalog, 'name'> }>(OFFERS, { config: adminConfig('offers') }, async (request) => ({
    value: await offerViews(
      await offers.listOffers(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        request.params.resourceGroupName,
      ),
    ),
  }));
  app.get<{ Params: { subscriptionId: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Subscriptions.Admin/offers',
    { config: adminConfig('offers') },
    async (request) => ({
      value: await offerViews(await offers.listOffers(ctx, principalOf(request), request.params.subscriptionId)),
    }),
  );
  app.delete<{ Params: Catalog }>(`${OFFERS}/:name`, { config: adminConfig('offers') }, async (request, reply) =>
    reply.status((await offers.deleteOffer(ctx, principalOf(request), ref(request.params))) ? 200 : 204).send(),
  );
  for (const [action, link] of [
    ['link', true],
    ['unlink', false],
  ] as const) {
    app.post<{ Params: Catalog; Body: { planName?: string } | null }>(
      `${OFFERS}/:name/${action}`,
      {
        config: adminConfig('offers'),
        schema: {
          body: Type.Union([
            Type.Null(),
            Type.Object({
              planName: Type.Optional(Type.String()),
              planLinkType: Type.Optional(Type.String()),
              maxAcquisitionCount: Type.Optional(Type.Integer()),
            }),
          ]),
        },
      },
      async (request) => {
        const { offer } = await offers.linkPlan(
          ctx,
          principalOf(request),
          ref(request.params),
          request.body?.planName ?? '',
          link,
        );
        return (await offerViews([offer]))[0];
      },
    );
  }

  // Subscriptions, as the operator sees them.
  const ADMIN_SUBS = '/subscriptions/:subscriptionId/providers/Microsoft.Subscriptions.Admin/subscriptions';
  type S = { subscriptionId: string; targetSubscriptionId: string };
  const adminView = async (s: Awaited<ReturnType<typeof offers.getAdminSubscription>>) =>
    adminSubscriptionView(
      s,
      ctx.providerSubscriptionId()!,
      s.offer_id ? await offersStore.offerByName(ctx.db, offerNameOf(s.offer_id) ?? '') : undefined,
    );
  app.get<{ Params: { subscriptionId: string } }>(
    ADMIN_SUBS,
    { config: adminConfig('subscriptions') },
    async (request) => {
      const page = pageOf(request);
      const rows = await offers.listAdminSubscriptions(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        page.offset,
        page.limit + 1,
      );
      return pagedList(request, baseUrl(), page, await Promise.all(rows.map(adminView)));
    },
  );
  app.get<{ Params: S }>(
    `${ADMIN_SUBS}/:targetSubscriptionId`,
    { config: adminConfig('subscriptions') },
    async (request) =>
      adminView(
        await offers.getAdminSubscription(
          ctx,
          principalOf(request),
          request.params.subscriptionId,
          request.params.targetSubscriptionId,
        ),
      ),
  );
  app.put<{ Params: S; Body: Static<typeof AdminSubscriptionBody> }>(
    `${ADMIN_SUBS}/:targetSubscriptionId`,
    { config: adminConfig('subscriptions'), schema: { body: AdminSubscriptionBody } },
    async (request, reply) => {
      const { subscription, created } = await offers.putAdminSubscription(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        request.params.targetSubscriptionId,
        request.body.properties ?? {},
      );
      return reply.status(created ? 201 : 200).send(await adminView(subscription));
    },
  );
  app.delete<{ Params: S }>(
    `${ADMIN_SUBS}/:targetSubscriptionId`,
    { config: adminConfig('subscriptions') },
    async (request, reply) =>
      reply
        .status(
          (await offers.deleteAdminSubscription(
            ctx,
            principalOf(request),
            request.params.subscriptionId,
            request.params.targetSubscriptionId,
          ))
            ? 200
            : 204,
        )
        .send(),
  );
}

export function registerTenantSubscriptionRoutes(app: FastifyInstance, ctx: offers.OffersContext): void {
  // Microsoft.Subscriptions, the tenant's provider, though its paths name none.
  const config = { apiVersions: SUBSCRIPTIONS_API, resourceType: 'Microsoft.Subscriptions/offers' };
  const delegatedConfig = {
    apiVersions: SUBSCRIPTIONS_API,
    resourceType: 'Microsoft.Subscriptions/delegatedProviders/offers',
  };
  // Public offers are for every admitted tenant to read.
  const publicOffers = (request: FastifyRequest) => {
    noteRightsChecked(principalOf(request));
    return offersStore.listOffers(ctx.db, { state: 'Public' });
  };

  app.get('/offers', { config }, async (request) => ({ value: (await publicOffers(request)).map(tenantOfferView) }));
  app.get<{ Params: { provider: string } }>(
    '/delegatedProviders/:provider/offers',
    { config: delegatedConfig },
    async (request) => ({ value: (await publicOffers(request)).map(tenantOfferView) }),
  );
  app.get<{ Params: { provider: string; offer: string } }>(
    '/delegatedProviders/:provider/offers/:offer',
    { config: delegatedConfig },
    async (request) => {
      const offer = (await publicOffers(request)).find((o) => o.name_key === request.params.offer.toLowerCase());
      if (!offer) throw offers.offersNotFound(request.params.offer);
      return tenantOfferView(offer);
    },
  );

  const subConfig = { apiVersions: SUBSCRIPTIONS_API, resourceType: 'Microsoft.Subscriptions/subscriptions' };
  app.put<{ Params: { subscriptionId: string }; Body: Static<typeof TenantSubscriptionBody> }>(
    '/subscriptions/:subscriptionId',
    { config: subConfig, schema: { body: TenantSubscriptionBody } },
    async (request, reply) => {
      const { subscription, created } = await offers.takeOffer(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        request.body,
      );
      return reply.status(created ? 201 : 200).send(tenantSubscriptionView(subscription));
    },
  );
  app.delete<{ Params: { subscriptionId: string } }>(
    '/subscriptions/:subscriptionId',
    { config: subConfig },
    async (request, reply) =>
      reply
        .status((await offers.cancelSubscription(ctx, principalOf(request), request.params.subscriptionId)) ? 200 : 204)
        .send(),
  );
}
