import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { principalOf } from '../../http/arm.ts';
import { pagedListRoute } from '../../http/paging.ts';
import type { OffersContext } from './context.ts';
import * as plans from './plans.ts';
import { adminConfig, CATALOG_TEXT, catalogRef, type CatalogParams } from './route-shapes.ts';
import { PLAN_ORDER } from './store.ts';
import type { PlansTable } from './tables.ts';
import { planView } from './views.ts';

// Plans (admin endpoint).

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

export function registerPlanRoutes(app: FastifyInstance, ctx: OffersContext, baseUrl: () => string): void {
  const location = () => ctx.arm.locations()[0];
  const view = (p: PlansTable) => planView(p, location(), 0);
  const PLANS =
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/providers/Microsoft.Subscriptions.Admin/plans';
  app.put<{ Params: CatalogParams; Body: Static<typeof PlanBody> }>(
    `${PLANS}/:name`,
    { config: adminConfig('plans'), schema: { body: PlanBody } },
    async (request, reply) => {
      const { plan, created } = await plans.putPlan(
        ctx,
        principalOf(request),
        catalogRef(request.params),
        request.body.properties ?? {},
      );
      return reply.status(created ? 201 : 200).send(view(plan));
    },
  );
  app.get<{ Params: CatalogParams }>(`${PLANS}/:name`, { config: adminConfig('plans') }, async (request) =>
    view(await plans.getPlan(ctx, principalOf(request), catalogRef(request.params))),
  );
  type GroupParams = Omit<CatalogParams, 'name'>;
  app.get<{ Params: GroupParams }>(
    PLANS,
    { config: adminConfig('plans') },
    pagedListRoute(
      PLAN_ORDER,
      baseUrl,
      (request: FastifyRequest<{ Params: GroupParams }>, cursor) =>
        plans.listPlans(
          ctx,
          principalOf(request),
          request.params.subscriptionId,
          request.params.resourceGroupName,
          cursor,
        ),
      view,
    ),
  );
  app.get<{ Params: { subscriptionId: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Subscriptions.Admin/plans',
    { config: adminConfig('plans') },
    pagedListRoute(
      PLAN_ORDER,
      baseUrl,
      (request: FastifyRequest<{ Params: { subscriptionId: string } }>, cursor) =>
        plans.listPlans(ctx, principalOf(request), request.params.subscriptionId, undefined, cursor),
      view,
    ),
  );
  app.delete<{ Params: CatalogParams }>(`${PLANS}/:name`, { config: adminConfig('plans') }, async (request, reply) =>
    reply.status((await plans.deletePlan(ctx, principalOf(request), catalogRef(request.params))) ? 200 : 204).send(),
  );
}
