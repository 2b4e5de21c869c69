import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { checkTags, TagsField } from '../../core/tags.ts';
import { principalOf } from '../../http/arm.ts';
import { pagedListRoute, registerTypeLists } from '../../http/paging.ts';
import { lroHeaders } from '../resources/routes.ts';
import { networkInterfaces } from './network-interfaces.ts';
import { NETWORK } from './rules.ts';
import { networkSecurityGroups } from './security-groups.ts';
import * as network from './service.ts';
import { virtualNetworks } from './virtual-networks.ts';

// The tenant's Microsoft.Network routes: each type's PUT/GET/DELETE and lists, and its children's.
// Operations complete at once: PUT answers 201 or 200 with `Azure-AsyncOperation`, DELETE 202
// with `Location` too (204 when there was nothing), as the Network provider does.

export const NETWORK_TYPES: readonly network.NetworkType[] = [
  virtualNetworks,
  networkSecurityGroups,
  networkInterfaces,
];

type Ref = { subscriptionId: string; resourceGroupName: string; name: string };
type ChildRef = Ref & { childName: string };
const ref = (p: Ref): network.NetworkRef => ({
  subscriptionId: p.subscriptionId,
  resourceGroup: p.resourceGroupName,
  name: p.name,
});

const PutBody = Type.Object({
  location: Type.String({ minLength: 1 }),
  tags: TagsField,
  properties: Type.Optional(Type.Unknown()),
});
const ChildBody = Type.Object({ properties: Type.Optional(Type.Unknown()) });

export function registerNetworkRoutes(app: FastifyInstance, ctx: network.NetworkContext, baseUrl: () => string): void {
  const apiVersions = [...API_VERSIONS.network];
  const headers = (
    request: FastifyRequest<{ Params: Ref }>,
    location: string,
    operationId: string,
    withLocation: boolean,
  ) => lroHeaders(request, baseUrl(), request.params.subscriptionId, NETWORK, location, operationId, withLocation);
  const deleted = (request: FastifyRequest<{ Params: Ref }>, reply: FastifyReply, operationId: string | undefined) =>
    operationId
      ? reply
          .status(202)
          .headers(headers(request, ctx.arm.locations()[0], operationId, true))
          .send()
      : reply.status(204).send();

  for (const t of NETWORK_TYPES) {
    const config = { apiVersions, resourceType: t.type };
    const childConfig = { apiVersions, resourceType: `${t.type}/${t.children}` };
    const PATH = `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/${t.type}`;

    app.put<{ Params: Ref; Body: { location: string; tags?: unknown; properties?: unknown } }>(
      `${PATH}/:name`,
      { config, schema: { body: PutBody } },
      async (request, reply) => {
        const body = { ...request.body, tags: checkTags(request.body.tags) };
        const { row, view, created, operationId } = await network.putResource(
          ctx,
          t,
          principalOf(request),
          ref(request.params),
          body,
        );
        return reply
          .status(created ? 201 : 200)
          .headers(headers(request, row.location, operationId, false))
          .send(view);
      },
    );
    app.get<{ Params: Ref }>(`${PATH}/:name`, { config }, async (request) =>
      network.getResource(ctx, t, principalOf(request), ref(request.params)),
    );
    app.delete<{ Params: Ref }>(`${PATH}/:name`, { config }, async (request, reply) =>
      deleted(request, reply, await network.deleteResource(ctx, t, principalOf(request), ref(request.params))),
    );
    registerTypeLists(app, {
      type: t.type,
      config,
      keyset: network.LISTED_ORDER,
      baseUrl,
      list: (principal, subscriptionId, group, cursor) =>
        network.listResources(ctx, t, principal, subscriptionId, group, cursor),
      view: (listed) => listed.view,
    });

    // Children (subnets, security rules, IP configurations), written by rewriting their parent.
    app.get<{ Params: Ref }>(
      `${PATH}/:name/${t.children}`,
      { config: childConfig },
      pagedListRoute(
        network.LISTED_CHILD_ORDER,
        baseUrl,
        (request: FastifyRequest<{ Params: Ref }>, cursor) =>
          network.listChildren(ctx, t, principalOf(request), ref(request.params), cursor),
        (listed) => listed.view,
      ),
    );
    app.get<{ Params: ChildRef }>(`${PATH}/:name/${t.children}/:childName`, { config: childConfig }, async (request) =>
      network.getChild(ctx, t, principalOf(request), ref(request.params), request.params.childName),
    );
    app.put<{ Params: ChildRef; Body: { properties?: unknown } }>(
      `${PATH}/:name/${t.children}/:childName`,
      { config: childConfig, schema: { body: ChildBody } },
      async (request, reply) => {
        const { row, view, created, operationId } = await network.putChild(
          ctx,
          t,
          principalOf(request),
          ref(request.params),
          request.params.childName,
          request.body.properties,
        );
        return reply
          .status(created ? 201 : 200)
          .headers(headers(request, row.location, operationId, false))
          .send(view);
      },
    );
    app.delete<{ Params: ChildRef }>(
      `${PATH}/:name/${t.children}/:childName`,
      { config: childConfig },
      async (request, reply) =>
        deleted(
          request,
          reply,
          await network.deleteChild(ctx, t, principalOf(request), ref(request.params), request.params.childName),
        ),
    );
  }
}
