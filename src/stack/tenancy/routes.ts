import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { principalOf } from '../../http/arm.ts';
import { pagedListRoute } from '../../http/paging.ts';
import { DIRECTORY_TENANT_ORDER } from './store.ts';
import * as tenancy from './service.ts';
import type { DirectoryTenantsTable } from './tables.ts';

// Microsoft.Subscriptions.Admin/directoryTenants (api-version 2015-11-01) on the admin endpoint.

const config = { apiVersions: ['2015-11-01'], resourceType: 'directoryTenants' };
const Body = Type.Object({
  location: Type.Optional(Type.String()),
  properties: Type.Optional(Type.Object({ tenantId: Type.Optional(Type.String()) })),
});
const PATH =
  '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/providers/Microsoft.Subscriptions.Admin/directoryTenants';
type Params = { subscriptionId: string; resourceGroupName: string; tenant: string };

export function directoryTenantView(row: DirectoryTenantsTable, location: string) {
  return {
    id: `/subscriptions/${row.subscription_id}/resourceGroups/${row.resource_group}/providers/Microsoft.Subscriptions.Admin/directoryTenants/${row.name}`,
    name: row.name,
    type: 'Microsoft.Subscriptions.Admin/directoryTenants',
    location,
    // consentSeenAt (ours, not ARM's): when a user of the directory was last admitted, which needs
    // its consent; null until then, so the operator sees which directories still have a step to take.
    properties: { tenantId: row.tenant_id, consentSeenAt: row.consent_seen_at?.toISOString() ?? null },
  };
}

export function registerTenancyRoutes(
  app: FastifyInstance,
  ctx: tenancy.TenancyContext,
  admission: tenancy.Admission,
  baseUrl: () => string,
): void {
  const ref = (p: Params) => ({ subscriptionId: p.subscriptionId, resourceGroup: p.resourceGroupName, name: p.tenant });
  const location = () => ctx.arm.locations()[0];

  app.put<{ Params: Params; Body: Static<typeof Body> }>(
    `${PATH}/:tenant`,
    { config, schema: { body: Body } },
    async (request, reply) => {
      const { row, created } = await tenancy.onboardDirectory(
        ctx,
        principalOf(request),
        ref(request.params),
        request.body.properties?.tenantId,
      );
      return reply.status(created ? 201 : 200).send(directoryTenantView(row, location()));
    },
  );

  app.get<{ Params: Params }>(`${PATH}/:tenant`, { config }, async (request) =>
    directoryTenantView(await tenancy.getDirectoryTenant(ctx, principalOf(request), ref(request.params)), location()),
  );

  app.get<{ Params: Omit<Params, 'tenant'> }>(
    PATH,
    { config },
    pagedListRoute(
      DIRECTORY_TENANT_ORDER,
      baseUrl,
      (request: FastifyRequest<{ Params: Omit<Params, 'tenant'> }>, cursor) =>
        tenancy.listDirectoryTenants(
          ctx,
          principalOf(request),
          { subscriptionId: request.params.subscriptionId, resourceGroup: request.params.resourceGroupName },
          cursor,
        ),
      (r) => directoryTenantView(r, location()),
    ),
  );

  app.delete<{ Params: Params }>(`${PATH}/:tenant`, { config }, async (request, reply) => {
    const deleted = await tenancy.offboardDirectory(ctx, admission, principalOf(request), ref(request.params));
    return reply.status(deleted ? 200 : 204).send();
  });
}
