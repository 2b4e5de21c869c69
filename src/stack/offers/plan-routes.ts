import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { principalOf } from '../../http/arm.ts';
import type { OffersContext } from './context.ts';
import * as plans from './plans.ts';
import { adminConfig, CATALOG_TEXT, catalogRef, type CatalogParams } from './route-shapes.ts';
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

export function registerPlanRoutes(app: FastifyInstance, ctx: OffersContext): void {
  const location = () => ctx.arm.locations()[0];
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
      return reply.status(created ? 201 : 200).send(planView(plan, location(), 0));
    },
  );
  app.get<{ Params: CatalogParams }>(`${PLANS}/:name`, { config: adminConfig('plans') }, async (request) =>
    planView(await plans.getPlan(ctx, principalOf(request), catalogRef(request.params)), location(), 0),
  );
  app.get<{ Params: Omit<CatalogParams, 'name'> }>(PLANS, { config: adminConfig('plans') }, async (request) => ({
    value: (
      await plans.listPlans(ctx, principalOf(request), request.params.subscriptionId, request.params.resourceGroupName)
    ).map((p) => planView(p, location(), 0)),
  }));
  app.get<{ Params: { subscriptionId: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Subscriptions.Admin/plans',
    { config: adminConfig('plans') },
    async (request) => ({
      value: (await plans.listPlans(ctx, principalOf(request), request.params.subscriptionId)).map((p) =>
        planView(p, location(), 0),
      ),
    }),
  );
  app.delete<{ Params: CatalogParams }>(`${PLANS}/:name`, { config: adminConfig('plans') }, async (request, reply) =>
    reply.status((await plans.deletePlan(ctx, principalOf(request), catalogRef(request.params))) ? 200 : 204).send(),
  );
}
