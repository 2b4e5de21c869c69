import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { readableSubscription } from '../../arm/service.ts';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { parseInstant } from '../../core/clock.ts';
import { armError, armErrors } from '../../core/errors.ts';
import { checkTags, TagsField } from '../../core/tags.ts';
import { principalOf, queryValue } from '../../http/arm.ts';
import { registerTypeLists } from '../../http/paging.ts';
import { NAMED_ROW_ORDER } from '../../db/named-rows.ts';
import { VM_SIZES } from './catalog.ts';
import type { ResourceBody } from './resource-type.ts';
import * as resources from './service.ts';
import { resourcesStore } from './store.ts';
import { registerStorageAccountRoutes } from './storage-account-routes.ts';
import { RESOURCE_TYPES } from './types/index.ts';
import { reportLatePowerState, virtualMachines, vmAction, type PowerState } from './types/virtual-machines.ts';
import { instanceView, resourceId, resourceView, vmSizeView } from './views.ts';

// Routes of the tenant resource providers, at the api-versions of the hybrid profiles
// 2019-03-01-hybrid and 2020-09-01-hybrid (and neighbours the SDKs send): the same routes for
// every type of types/index.ts, then the actions of virtual machines and storage accounts
// (storage-account-routes.ts).

type Ref = { subscriptionId: string; resourceGroupName: string; name: string };
/** A PATCH's body: the parts it changes (tags, sku, properties such as a VM's size). */
type PatchBody = { tags?: unknown; sku?: unknown; properties?: Record<string, unknown> };
const ref = (p: Ref) => ({ subscriptionId: p.subscriptionId, resourceGroup: p.resourceGroupName, name: p.name });

/** The long-running operation's headers: where to poll its status (and, with `withLocation`, its result). */
export function lroHeaders(
  request: FastifyRequest,
  baseUrl: string,
  subscriptionId: string,
  namespace: string,
  location: string,
  operationId: string,
  withLocation: boolean,
) {
  const api = queryValue(request, 'api-version');
  const base = `${baseUrl}/subscriptions/${subscriptionId}/providers/${namespace}/locations/${location}`;
  return {
    'azure-asyncoperation': `${base}/operations/${operationId}?api-version=${api}`,
    ...(withLocation ? { location: `${base}/operationResults/${operationId}?api-version=${api}` } : {}),
    'retry-after': '0',
  };
}

export function registerResourceRoutes(
  app: FastifyInstance,
  ctx: resources.ResourcesContext,
  baseUrl: () => string,
): void {
  for (const t of RESOURCE_TYPES) {
    const config = { apiVersions: [...t.apiVersions], resourceType: t.type };
    const PATH = `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/${t.type}`;

    const answers = t.answers ?? { created: 201, deleted: 202 };
    const put = async (request: FastifyRequest<{ Params: Ref }>, reply: FastifyReply, body: ResourceBody) => {
      const { resource, created, operationId } = await resources.putResource(
        ctx,
        t,
        principalOf(request),
        ref(request.params),
        body,
      );
      // A provider that answers 200 on a create is done when it answers: no operation to poll.
      if (answers.created === 200) return reply.status(200).send(resourceView(t, resource));
      return reply
        .status(created ? 201 : 200)
        .headers(
          lroHeaders(request, baseUrl(), resource.subscription_id, t.namespace, resource.location, operationId, false),
        )
        .send(resourceView(t, resource));
    };

    app.put<{ Params: Ref; Body: ResourceBody }>(
      `${PATH}/:name`,
      { config, schema: { body: Type.Object({ location: Type.String({ minLength: 1 }), tags: TagsField }) } },
      async (request, reply) =>
        put(request, reply, {
          ...request.body,
          tags: checkTags(request.body.tags),
          name: request.params.name,
        }),
    );

    // PATCH applies the given parts (tags, size) over what the resource is.
    app.patch<{ Params: Ref; Body: PatchBody | null }>(
      `${PATH}/:name`,
      { config, schema: { body: Type.Object({ tags: TagsField }) } },
      async (request, reply) => {
        const body: PatchBody = request.body ?? {};
        const tags = checkTags(body.tags);
        const current = resourceView(t, await resources.getResource(ctx, t, principalOf(request), ref(request.params)));
        const merged = {
          ...current,
          ...(tags ? { tags } : {}),
          ...(body.sku ? { sku: body.sku } : {}),
          properties: {
            ...current.properties,
            ...(body.properties ?? {}),
            hardwareProfile: body.properties?.hardwareProfile ?? current.properties?.hardwareProfile,
          },
        };
        return put(request, reply, merged);
      },
    );

    app.get<{ Params: Ref }>(`${PATH}/:name`, { config }, async (request) => {
      const row = await resources.getResource(ctx, t, principalOf(request), ref(request.params));
      const view = resourceView(t, row);
      if (t === virtualMachines && queryValue(request, '$expand') === 'instanceView')
        view.properties = { ...view.properties, instanceView: instanceView(row) };
      return view;
    });

    registerTypeLists(app, {
      type: t.type,
      config,
      keyset: NAMED_ROW_ORDER,
      baseUrl,
      list: (principal, subscriptionId, group, cursor) =>
        resources.listResources(ctx, t, principal, subscriptionId, group, cursor),
      view: (r) => resourceView(t, r),
    });

    app.delete<{ Params: Ref }>(`${PATH}/:name`, { config }, async (request, reply) => {
      const operationId = await resources.deleteResource(ctx, t, principalOf(request), ref(request.params));
      if (!operationId) return reply.status(204).send();
      if (answers.deleted === 200) return reply.status(200).send();
      return reply
        .status(202)
        .headers(
          lroHeaders(
            request,
            baseUrl(),
            request.params.subscriptionId,
            t.namespace,
            ctx.arm.locations()[0],
            operationId,
            true,
          ),
        )
        .send();
    });
  }

  // Virtual machine power actions, the instance view, and the size table.
  const vm = virtualMachines;
  const vmConfig = { apiVersions: [...vm.apiVersions], resourceType: vm.type };
  const VM = `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/${vm.type}/:name`;
  for (const action of ['start', 'powerOff', 'deallocate', 'restart'] as const) {
    app.post<{ Params: Ref }>(`${VM}/${action}`, { config: vmConfig }, async (request, reply) => {
      const operationId = await vmAction(ctx, principalOf(request), ref(request.params), action);
      return reply
        .status(202)
        .headers(
          lroHeaders(
            request,
            baseUrl(),
            request.params.subscriptionId,
            vm.namespace,
            ctx.arm.locations()[0],
            operationId,
            true,
          ),
        )
        .send();
    });
  }
  app.get<{ Params: Ref }>(`${VM}/instanceView`, { config: vmConfig }, async (request) =>
    instanceView(await resources.getResource(ctx, vm, principalOf(request), ref(request.params))),
  );
  app.get<{ Params: { subscriptionId: string; location: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Compute/locations/:location/vmSizes',
    { config: vmConfig },
    async (request) => {
      await readableSubscription(ctx.arm, principalOf(request), request.params.subscriptionId);
      return { value: VM_SIZES.map((s) => vmSizeView(s.name)) };
    },
  );

  registerStorageAccountRoutes(app, ctx);

  // Long-running operation status, for every namespace.
  for (const namespace of new Set(RESOURCE_TYPES.map((t) => t.namespace))) {
    type O = { subscriptionId: string; location: string; operationId: string };
    const opConfig = {
      apiVersions: RESOURCE_TYPES.filter((t) => t.namespace === namespace).flatMap((t) => t.apiVersions),
      resourceType: `${namespace}/locations/operations`,
    };
    const find = async (request: FastifyRequest<{ Params: O }>) => {
      const op = /^[0-9a-f-]{36}$/i.test(request.params.operationId)
        ? await resourcesStore.getOperation(ctx.db, request.params.operationId.toLowerCase())
        : undefined;
      if (!op || op.subscription_id !== request.params.subscriptionId.toLowerCase())
        throw armErrors.resourceNotFound(`${namespace}/locations/operations`, request.params.operationId);
      await readableSubscription(ctx.arm, principalOf(request), op.subscription_id);
      return op;
    };
    app.get<{ Params: O }>(
      `/subscriptions/:subscriptionId/providers/${namespace}/locations/:location/operations/:operationId`,
      { config: opConfig },
      async (request) => {
        const op = await find(request);
        return {
          name: op.id,
          status: op.status,
          startTime: op.started_at.toISOString(),
          endTime: op.ended_at?.toISOString(),
        };
      },
    );
    app.get<{ Params: O }>(
      `/subscriptions/:subscriptionId/providers/${namespace}/locations/:location/operationResults/:operationId`,
      { config: opConfig },
      async (request, reply) => {
        await find(request);
        return reply.status(204).send();
      },
    );
  }
}

/** The fabric's late reports of a VM's power state, for the operator (admin endpoint). */
export function registerLateReportRoutes(app: FastifyInstance, ctx: resources.ResourcesContext): void {
  app.post<{
    Params: { subscriptionId: string };
    Body: { resourceId: string; at: string; powerState: PowerState };
  }>(
    '/subscriptions/:subscriptionId/providers/Stackledger.System/lateStateReports',
    {
      config: { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.System/lateStateReports' },
      schema: {
        body: Type.Object({
          resourceId: Type.String({ minLength: 1 }),
          at: Type.String({ minLength: 1 }),
          powerState: Type.Union([Type.Literal('running'), Type.Literal('stopped'), Type.Literal('deallocated')]),
        }),
      },
    },
    async (request) => {
      const at = parseInstant(request.body.at);
      if (!at) throw armError('InvalidReportTime', `'${request.body.at}' is not an ISO 8601 time.`, 'at');
      const { resource, reopenedHours } = await reportLatePowerState(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        { ...request.body, at },
      );
      return {
        resourceId: resourceId(resource),
        at: at.toISOString(),
        powerState: request.body.powerState,
        reopenedHours,
      };
    },
  );
}
