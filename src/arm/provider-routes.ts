import type { FastifyInstance } from 'fastify';
import { API_VERSIONS } from '../core/api-versions.ts';
import { armErrors } from '../core/errors.ts';
import { principalOf, queryValue } from '../http/arm.ts';
import { pagedList, pageOf } from '../http/paging.ts';
import type { RouteEntry } from '../http/server.ts';
import { ANY_TYPE_ORDER } from '../db/named-rows.ts';
import {
  findProvider,
  parseResourceFilter,
  providerCatalog,
  providerView,
  unknownRouteError,
  type ResourceLister,
} from './providers.ts';
import * as arm from './service.ts';

// Resource Manager's generic APIs, the same on every ARM endpoint: the resource providers (list,
// show, register) and the resource list of a subscription or a resource group.

export interface ProviderRoutesOptions {
  ctx: arm.ArmContext;
  baseUrl: () => string;
  /** The endpoint's own ARM routes (read when asked: every route is registered by then). */
  routes: () => RouteEntry[];
  /** What the role publishes of its resources. */
  resources: ResourceLister;
}

type SubParams = { subscriptionId: string };
type NamespaceParams = SubParams & { namespace: string };

const config = (resourceType: string) => ({ apiVersions: API_VERSIONS.providers, resourceType });

/** The endpoint's catalog, and ARM's answer for a path it does not serve: for `armEndpoint`'s `unknownRoute`. */
export function catalogOf(opts: Pick<ProviderRoutesOptions, 'ctx' | 'routes'>) {
  const catalog = () => providerCatalog(opts.routes(), opts.ctx.locations());
  return {
    catalog,
    unknownRoute: (path: string, apiVersion: string | undefined) => unknownRouteError(catalog(), path, apiVersion),
  };
}

export function registerProviderRoutes(app: FastifyInstance, opts: ProviderRoutesOptions): void {
  const { ctx } = opts;
  const { catalog } = catalogOf(opts);

  app.get<{ Params: SubParams }>(
    '/subscriptions/:subscriptionId/providers',
    { config: config('providers') },
    async (request) => {
      const sub = await arm.readableSubscription(ctx, principalOf(request), request.params.subscriptionId);
      return { value: catalog().map((p) => providerView(sub.subscription_id, p)) };
    },
  );

  app.get<{ Params: NamespaceParams }>(
    '/subscriptions/:subscriptionId/providers/:namespace',
    { config: config('providers') },
    async (request) => {
      const sub = await arm.readableSubscription(ctx, principalOf(request), request.params.subscriptionId);
      const provider = findProvider(catalog(), request.params.namespace);
      if (!provider) throw armErrors.invalidResourceNamespace(request.params.namespace);
      return providerView(sub.subscription_id, provider);
    },
  );

  // Every provider here is built in and always registered: registering is allowed to whoever may, and changes nothing.
  app.post<{ Params: NamespaceParams }>(
    '/subscriptions/:subscriptionId/providers/:namespace/register',
    { config: config('providers') },
    async (request) => {
      const sub = await arm.requireSubscription(ctx, request.params.subscriptionId);
      const provider = findProvider(catalog(), request.params.namespace);
      await arm.authorize(
        ctx,
        principalOf(request),
        `${provider?.namespace ?? request.params.namespace}/register/action`,
        `/subscriptions/${sub.subscription_id}`,
      );
      if (!provider) throw armErrors.invalidResourceNamespace(request.params.namespace);
      return providerView(sub.subscription_id, provider);
    },
  );

  app.get<{ Params: SubParams }>(
    '/subscriptions/:subscriptionId/resources',
    { config: config('resources') },
    async (request) => {
      const filter = parseResourceFilter(queryValue(request, '$filter'));
      const page = pageOf(request, ANY_TYPE_ORDER);
      const sub = await arm.requireSubscription(ctx, request.params.subscriptionId);
      await arm.authorize(
        ctx,
        principalOf(request),
        'Microsoft.Resources/subscriptions/resources/read',
        `/subscriptions/${sub.subscription_id}`,
      );
      const { resourceGroup, ...rest } = filter;
      const rows = await opts.resources(sub.subscription_id, resourceGroup, rest, page);
      return pagedList(request, opts.baseUrl(), page, rows, (r) => r);
    },
  );

  app.get<{ Params: SubParams & { resourceGroupName: string } }>(
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/resources',
    { config: config('resources') },
    async (request) => {
      const filter = parseResourceFilter(queryValue(request, '$filter'));
      const page = pageOf(request, ANY_TYPE_ORDER);
      const group = await arm.getResourceGroup(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        request.params.resourceGroupName,
      );
      const { resourceGroup, ...rest } = filter;
      const rows =
        resourceGroup === undefined || resourceGroup.toLowerCase() === group.name.toLowerCase()
          ? await opts.resources(group.subscription_id, group.name, rest, page)
          : [];
      return pagedList(request, opts.baseUrl(), page, rows, (r) => r);
    },
  );
}
