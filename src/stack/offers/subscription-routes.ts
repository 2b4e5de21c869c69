import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { SubscriptionsTable } from '../../arm/tables.ts';
import { SUBSCRIPTION_ORDER } from '../../arm/store.ts';
import { principalOf } from '../../http/arm.ts';
import { pagedList, pageOf } from '../../http/paging.ts';
import type { OffersContext } from './context.ts';
import { adminConfig, SUBSCRIPTIONS_API } from './route-shapes.ts';
import { offerNameOf } from './rules.ts';
import { offersStore } from './store.ts';
import * as subscriptions from './subscriptions.ts';
import { adminSubscriptionView, tenantSubscriptionView } from './views.ts';

// Tenant subscriptions: as the operator sees them (admin endpoint) and as their tenant takes and
// cancels them (tenant endpoint).

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

export function registerAdminSubscriptionRoutes(app: FastifyInstance, ctx: OffersContext, baseUrl: () => string): void {
  const ADMIN_SUBS = '/subscriptions/:subscriptionId/providers/Microsoft.Subscriptions.Admin/subscriptions';
  type S = { subscriptionId: string; targetSubscriptionId: string };
  const adminView = async (s: SubscriptionsTable) =>
    adminSubscriptionView(
      s,
      ctx.providerSubscriptionId()!,
      s.offer_id ? await offersStore.offerByName(ctx.db, offerNameOf(s.offer_id) ?? '') : undefined,
    );
  app.get<{ Params: { subscriptionId: string } }>(
    ADMIN_SUBS,
    { config: adminConfig('subscriptions') },
    async (request) => {
      const page = pageOf(request, SUBSCRIPTION_ORDER);
      const rows = await subscriptions.listAdminSubscriptions(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        page,
      );
      const views = await Promise.all(rows.slice(0, page.limit).map(adminView));
      return pagedList(request, baseUrl(), page, rows, (_row, i) => views[i]);
    },
  );
  app.get<{ Params: S }>(
    `${ADMIN_SUBS}/:targetSubscriptionId`,
    { config: adminConfig('subscriptions') },
    async (request) =>
      adminView(
        await subscriptions.getAdminSubscription(
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
      const { subscription, created } = await subscriptions.putAdminSubscription(
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
          (await subscriptions.deleteAdminSubscription(
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

/** Microsoft.Subscriptions on the tenant endpoint: a tenant takes a public offer, or cancels. */
export function registerOwnSubscriptionRoutes(app: FastifyInstance, ctx: OffersContext): void {
  const subConfig = { apiVersions: SUBSCRIPTIONS_API, resourceType: 'Microsoft.Subscriptions/subscriptions' };
  app.put<{ Params: { subscriptionId: string }; Body: Static<typeof TenantSubscriptionBody> }>(
    '/subscriptions/:subscriptionId',
    { config: subConfig, schema: { body: TenantSubscriptionBody } },
    async (request, reply) => {
      const { subscription, created } = await subscriptions.takeOffer(
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
        .status(
          (await subscriptions.cancelSubscription(ctx, principalOf(request), request.params.subscriptionId))
            ? 200
            : 204,
        )
        .send(),
  );
}
