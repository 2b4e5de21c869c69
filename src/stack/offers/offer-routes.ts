import { armStore } from '../../arm/store.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Cursor } from '../../core/paging.ts';
import { noteRightsChecked } from '../../core/principal.ts';
import { principalOf } from '../../http/arm.ts';
import { pagedList, pagedListRoute, pageOf } from '../../http/paging.ts';
import type { OffersContext } from './context.ts';
import * as offers from './offers.ts';
import { adminConfig, CATALOG_TEXT, catalogRef, SUBSCRIPTIONS_API, type CatalogParams } from './route-shapes.ts';
import { tenantOfferId } from './rules.ts';
import { OFFER_ORDER, offersStore } from './store.ts';
import type { OffersTable } from './tables.ts';
import { offerView, tenantOfferView } from './views.ts';

// Offers: the operator's (admin endpoint) and the public ones a tenant may take (tenant endpoint).

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

export function registerOfferRoutes(app: FastifyInstance, ctx: OffersContext, baseUrl: () => string): void {
  const location = () => ctx.arm.locations()[0];
  const offerViews = async (rows: OffersTable[]) => {
    const n = await armStore.liveSubscriptionCounts(
      ctx.arm.db,
      rows.map((o) => tenantOfferId(o.name)),
    );
    return rows.map((o) => offerView(o, location(), n.get(tenantOfferId(o.name)) ?? 0));
  };
  // A page of offers: the shown ones' subscriptions counted in one query.
  const offerPage = async (request: FastifyRequest, list: (cursor: Cursor) => Promise<OffersTable[]>) => {
    const page = pageOf(request, OFFER_ORDER);
    const rows = await list(page);
    const views = await offerViews(rows.slice(0, page.limit));
    return pagedList(request, baseUrl(), page, rows, (_row, i) => views[i]);
  };
  const OFFERS =
    '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.Subscriptions.Admin/offers';
  app.put<{ Params: CatalogParams; Body: Static<typeof OfferBody> }>(
    `${OFFERS}/:name`,
    { config: adminConfig('offers'), schema: { body: OfferBody } },
    async (request, reply) => {
      const { offer, created } = await offers.putOffer(
        ctx,
        principalOf(request),
        catalogRef(request.params),
        request.body.properties ?? {},
      );
      return reply.status(created ? 201 : 200).send((await offerViews([offer]))[0]);
    },
  );
  app.get<{ Params: CatalogParams }>(
    `${OFFERS}/:name`,
    { config: adminConfig('offers') },
    async (request) =>
      (await offerViews([await offers.getOffer(ctx, principalOf(request), catalogRef(request.params))]))[0],
  );
  app.get<{ Params: Omit<CatalogParams, 'name'> }>(OFFERS, { config: adminConfig('offers') }, async (request) =>
    offerPage(request, (cursor) =>
      offers.listOffers(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        request.params.resourceGroupName,
        cursor,
      ),
    ),
  );
  app.get<{ Params: { subscriptionId: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Subscriptions.Admin/offers',
    { config: adminConfig('offers') },
    async (request) =>
      offerPage(request, (cursor) =>
        offers.listOffers(ctx, principalOf(request), request.params.subscriptionId, undefined, cursor),
      ),
  );
  app.delete<{ Params: CatalogParams }>(`${OFFERS}/:name`, { config: adminConfig('offers') }, async (request, reply) =>
    reply.status((await offers.deleteOffer(ctx, principalOf(request), catalogRef(request.params))) ? 200 : 204).send(),
  );
  for (const [action, link] of [
    ['link', true],
    ['unlink', false],
  ] as const) {
    app.post<{ Params: CatalogParams; Body: { planName?: string } | null }>(
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
          catalogRef(request.params),
          request.body?.planName ?? '',
          link,
        );
        return (await offerViews([offer]))[0];
      },
    );
  }
}

/** Microsoft.Subscriptions, the tenant's provider, though its paths name none: the public offers. */
export function registerPublicOfferRoutes(app: FastifyInstance, ctx: OffersContext, baseUrl: () => string): void {
  const config = { apiVersions: SUBSCRIPTIONS_API, resourceType: 'Microsoft.Subscriptions/offers' };
  const delegatedConfig = {
    apiVersions: SUBSCRIPTIONS_API,
    resourceType: 'Microsoft.Subscriptions/delegatedProviders/offers',
  };
  // Public offers are for every admitted tenant to read.
  const publicOffers = pagedListRoute(
    OFFER_ORDER,
    baseUrl,
    (request, cursor) => {
      noteRightsChecked(principalOf(request));
      return offersStore.listOffers(ctx.db, { state: 'Public' }, cursor);
    },
    tenantOfferView,
  );

  app.get('/offers', { config }, publicOffers);
  app.get('/delegatedProviders/:provider/offers', { config: delegatedConfig }, publicOffers);
  app.get<{ Params: { provider: string; offer: string } }>(
    '/delegatedProviders/:provider/offers/:offer',
    { config: delegatedConfig },
    async (request) => {
      noteRightsChecked(principalOf(request));
      const offer = await offersStore.offerByName(ctx.db, request.params.offer);
      if (offer?.state !== 'Public') throw offers.offersNotFound(request.params.offer);
      return tenantOfferView(offer);
    },
  );
}
