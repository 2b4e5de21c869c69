import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../../http/arm.ts';
import { pagedListRoute } from '../../http/paging.ts';
import { requireProviderScope, type OffersContext } from './context.ts';
import * as quotas from './quotas.ts';
import { adminConfig } from './route-shapes.ts';
import { QUOTA_KINDS } from './rules.ts';
import { QUOTA_ORDER } from './store.ts';
import { quotaView } from './views.ts';

// Quotas of the compute, storage and network providers, and the subscriptions provider's own (admin endpoint).

export function registerQuotaRoutes(app: FastifyInstance, ctx: OffersContext, baseUrl: () => string): void {
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
        const { quota, created } = await quotas.putQuota(
          ctx,
          principalOf(request),
          qref(request.params),
          request.body.properties,
        );
        return reply.status(created ? 201 : 200).send(quotaView(quota));
      },
    );
    app.get<{ Params: P }>(`${path}/:name`, { config }, async (request) =>
      quotaView(await quotas.getQuota(ctx, principalOf(request), qref(request.params))),
    );
    app.get<{ Params: Omit<P, 'name'> }>(
      path,
      { config },
      pagedListRoute(
        QUOTA_ORDER,
        baseUrl,
        (request: FastifyRequest<{ Params: Omit<P, 'name'> }>, cursor) =>
          quotas.listQuotas(ctx, principalOf(request), { ...request.params, provider: kind.provider }, cursor),
        quotaView,
      ),
    );
    app.delete<{ Params: P }>(`${path}/:name`, { config }, async (request, reply) =>
      reply.status((await quotas.deleteQuota(ctx, principalOf(request), qref(request.params))) ? 200 : 204).send(),
    );
  }
  app.get<{ Params: { subscriptionId: string; location: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Subscriptions.Admin/locations/:location/quotas',
    { config: adminConfig('locations/quotas') },
    async (request) => {
      const { subscriptionId } = request.params;
      await requireProviderScope(
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
}
