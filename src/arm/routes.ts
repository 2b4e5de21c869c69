import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { armError, armErrors } from '../core/errors.ts';
import { noteRightsChecked } from '../core/principal.ts';
import { checkTags, TagsField } from '../core/tags.ts';
import { principalOf, queryValue } from '../http/arm.ts';
import { pagedList, pagedListRoute, pageOf } from '../http/paging.ts';
import { ancestorScopeKeys, ROOT_SCOPE, scopeKey } from '../core/arm-id.ts';
import { TENANT_ORDER } from './context.ts';
import { BUILTIN_ROLES, findRole } from './roles.ts';
import * as arm from './service.ts';
import { armStore, RESOURCE_GROUP_ORDER, ROLE_ASSIGNMENT_ORDER, SUBSCRIPTION_ORDER } from './store.ts';
import { resourceGroupView, roleAssignmentView, roleDefinitionView, subscriptionView } from './views.ts';

// Routes of the ARM base, the same on every ARM endpoint: subscriptions, tenants, locations,
// resource groups, role assignments and definitions, and the cloud's metadata.

export interface MetadataEndpoints {
  galleryEndpoint: string;
  graphEndpoint: string;
  portalEndpoint: string;
  /** The authority clients sign in at: AD FS-style by default. */
  loginEndpoint: string;
  /** Stackledger's addition: the Azure AD-style login base, `{aadLoginEndpoint}/{tenant}/oauth2/token` (for the SDKs and a stack). */
  aadLoginEndpoint: string;
  audiences: string[];
}

export interface ArmBaseOptions {
  ctx: arm.ArmContext;
  baseUrl: () => string;
  metadata: () => MetadataEndpoints;
}

const ResourceGroupBody = Type.Object({
  location: Type.String({ minLength: 1 }),
  tags: TagsField,
  managedBy: Type.Optional(Type.String()),
  properties: Type.Optional(Type.Object({})),
});

const RoleAssignmentBody = Type.Object({
  properties: Type.Object({
    roleDefinitionId: Type.String({ minLength: 1 }),
    principalId: Type.String({ minLength: 1 }),
    principalType: Type.Optional(Type.String()),
  }),
});

type SubParams = { subscriptionId: string };
type RgParams = SubParams & { resourceGroupName: string };

const rgConfig = { apiVersions: API_VERSIONS.resourceGroups, resourceType: 'resourceGroups' };
const subConfig = { apiVersions: API_VERSIONS.subscriptions, resourceType: 'subscriptions' };
const authzConfig = (type: string) => ({ apiVersions: API_VERSIONS.authorization, resourceType: type });

export function registerArmBaseRoutes(app: FastifyInstance, opts: ArmBaseOptions): void {
  const { ctx } = opts;

  app.get(
    '/metadata/endpoints',
    { config: { anonymous: true, apiVersions: API_VERSIONS.metadata, resourceType: 'metadata' } },
    async () => {
      const m = opts.metadata();
      return {
        galleryEndpoint: m.galleryEndpoint,
        graphEndpoint: m.graphEndpoint,
        portalEndpoint: m.portalEndpoint,
        authentication: {
          loginEndpoint: m.loginEndpoint,
          aadLoginEndpoint: m.aadLoginEndpoint,
          audiences: m.audiences,
        },
      };
    },
  );

  // ---- subscriptions, tenants, locations
  app.get(
    '/subscriptions',
    { config: subConfig },
    pagedListRoute(
      SUBSCRIPTION_ORDER,
      opts.baseUrl,
      (request, cursor) => {
        const caller = principalOf(request);
        noteRightsChecked(caller); // the caller's own: where it holds a role
        return armStore.subscriptionsVisibleTo(ctx.db, [caller.objectId], cursor);
      },
      subscriptionView,
    ),
  );

  app.get<{ Params: SubParams }>('/subscriptions/:subscriptionId', { config: subConfig }, async (request) => {
    return subscriptionView(await arm.readableSubscription(ctx, principalOf(request), request.params.subscriptionId));
  });

  app.get<{ Params: SubParams }>('/subscriptions/:subscriptionId/locations', { config: subConfig }, async (request) => {
    const sub = await arm.readableSubscription(ctx, principalOf(request), request.params.subscriptionId);
    return {
      value: ctx.locations().map((name) => ({
        id: `/subscriptions/${sub.subscription_id}/locations/${name}`,
        name,
        displayName: name,
        regionalDisplayName: name,
        type: 'Region',
        metadata: { regionType: 'Physical', regionCategory: 'Recommended' },
      })),
    };
  });

  app.get(
    '/tenants',
    { config: { apiVersions: API_VERSIONS.subscriptions, resourceType: 'tenants' } },
    pagedListRoute(
      TENANT_ORDER,
      opts.baseUrl,
      (request, cursor) => {
        const caller = principalOf(request);
        noteRightsChecked(caller); // the caller's own directories
        return ctx.tenantsOf(caller, cursor);
      },
      (t) => ({
        id: `/tenants/${t.tenantId}`,
        tenantId: t.tenantId,
        tenantCategory: 'Home',
        ...(t.displayName ? { displayName: t.displayName } : {}),
        ...(t.defaultDomain ? { defaultDomain: t.defaultDomain, domains: [t.defaultDomain] } : {}),
      }),
    ),
  );

  // ---- resource groups
  app.get<{ Params: SubParams }>(
    '/subscriptions/:subscriptionId/resourcegroups',
    { config: rgConfig },
    pagedListRoute(
      RESOURCE_GROUP_ORDER,
      opts.baseUrl,
      (request: FastifyRequest<{ Params: SubParams }>, cursor) =>
        arm.listResourceGroups(ctx, principalOf(request), request.params.subscriptionId, cursor),
      resourceGroupView,
    ),
  );

  app.put<{ Params: RgParams; Body: Static<typeof ResourceGroupBody> }>(
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName',
    { config: rgConfig, schema: { body: ResourceGroupBody } },
    async (request, reply) => {
      const body = { ...request.body, tags: checkTags(request.body.tags) };
      const { group, created } = await arm.putResourceGroup(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        request.params.resourceGroupName,
        body,
      );
      return reply.status(created ? 201 : 200).send(resourceGroupView(group));
    },
  );

  app.patch<{ Params: RgParams; Body: { tags?: unknown } | null }>(
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName',
    { config: rgConfig, schema: { body: Type.Object({ tags: TagsField }) } },
    async (request) => {
      const tags = checkTags(request.body?.tags);
      const principal = principalOf(request);
      const current = await arm.getResourceGroup(
        ctx,
        principal,
        request.params.subscriptionId,
        request.params.resourceGroupName,
      );
      const { group } = await arm.putResourceGroup(ctx, principal, request.params.subscriptionId, current.name, {
        location: current.location,
        tags: tags ?? current.tags,
        managedBy: current.managed_by ?? undefined,
      });
      return resourceGroupView(group);
    },
  );

  app.get<{ Params: RgParams }>(
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName',
    { config: rgConfig },
    async (request) => {
      return resourceGroupView(
        await arm.getResourceGroup(
          ctx,
          principalOf(request),
          request.params.subscriptionId,
          request.params.resourceGroupName,
        ),
      );
    },
  );

  app.head<{ Params: RgParams }>(
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName',
    { config: rgConfig },
    async (request, reply) => {
      const found = await arm
        .getResourceGroup(ctx, principalOf(request), request.params.subscriptionId, request.params.resourceGroupName)
        .then(
          () => true,
          (e) => (e.code === 'ResourceGroupNotFound' ? false : Promise.reject(e)),
        );
      return reply.status(found ? 204 : 404).send();
    },
  );

  app.delete<{ Params: RgParams }>(
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName',
    { config: rgConfig },
    async (request, reply) => {
      const deleted = await arm.deleteResourceGroup(
        ctx,
        principalOf(request),
        request.params.subscriptionId,
        request.params.resourceGroupName,
      );
      return reply.status(deleted ? 200 : 204).send();
    },
  );

  // ---- role assignments and definitions, at the root scope `/`, subscription and resource group scope
  for (const scopePath of [
    '',
    '/subscriptions/:subscriptionId',
    '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName',
  ]) {
    type ScopeParams = { subscriptionId?: string; resourceGroupName?: string };
    const scopeOf = (p: ScopeParams) =>
      p.subscriptionId === undefined
        ? ROOT_SCOPE
        : p.resourceGroupName === undefined
          ? `/subscriptions/${p.subscriptionId}`
          : `/subscriptions/${p.subscriptionId}/resourceGroups/${p.resourceGroupName}`;
    const assignments = `${scopePath}/providers/Microsoft.Authorization/roleAssignments`;
    const definitions = `${scopePath}/providers/Microsoft.Authorization/roleDefinitions`;
    type P = ScopeParams & { name: string };

    const requireGroup = async (p: ScopeParams) => {
      if (p.subscriptionId === undefined || p.resourceGroupName === undefined) return;
      const sub = await arm.requireSubscription(ctx, p.subscriptionId);
      if (!(await armStore.getResourceGroup(ctx.db, sub.subscription_id, p.resourceGroupName)))
        throw armErrors.resourceGroupNotFound(p.resourceGroupName);
    };
    /** Who may read role definitions: at the root anyone signed in (they are the built-ins), else a reader of the subscription. */
    const definitionsSubscription = async (request: FastifyRequest<{ Params: P }>) => {
      const caller = principalOf(request);
      if (request.params.subscriptionId !== undefined)
        return (await arm.readableSubscription(ctx, caller, request.params.subscriptionId)).subscription_id;
      noteRightsChecked(caller); // the built-in roles are no secret
      return null;
    };

    app.put<{ Params: P; Body: Static<typeof RoleAssignmentBody> }>(
      `${assignments}/:name`,
      { config: authzConfig('roleAssignments'), schema: { body: RoleAssignmentBody } },
      async (request, reply) => {
        await requireGroup(request.params);
        const { assignment, created } = await arm.putRoleAssignment(
          ctx,
          principalOf(request),
          scopeOf(request.params),
          request.params.subscriptionId ?? null,
          request.params.name,
          request.body.properties,
        );
        return reply.status(created ? 201 : 200).send(roleAssignmentView(assignment));
      },
    );

    app.get<{ Params: P }>(`${assignments}/:name`, { config: authzConfig('roleAssignments') }, async (request) => {
      return roleAssignmentView(
        await arm.getRoleAssignment(
          ctx,
          principalOf(request),
          scopeOf(request.params),
          request.params.subscriptionId ?? null,
          request.params.name,
        ),
      );
    });

    app.delete<{ Params: P }>(
      `${assignments}/:name`,
      { config: authzConfig('roleAssignments') },
      async (request, reply) => {
        const row = await arm.deleteRoleAssignment(
          ctx,
          principalOf(request),
          scopeOf(request.params),
          request.params.subscriptionId ?? null,
          request.params.name,
        );
        return row ? reply.status(200).send(roleAssignmentView(row)) : reply.status(204).send();
      },
    );

    app.get<{ Params: P }>(assignments, { config: authzConfig('roleAssignments') }, async (request) => {
      const scope = scopeOf(request.params);
      const sub =
        request.params.subscriptionId === undefined
          ? null
          : await arm.requireSubscription(ctx, request.params.subscriptionId);
      await requireGroup(request.params);
      await arm.authorize(ctx, principalOf(request), 'Microsoft.Authorization/roleAssignments/read', scope);
      const filter = arm.parseAssignmentFilter(queryValue(request, '$filter'));
      const page = pageOf(request, ROLE_ASSIGNMENT_ORDER);
      const rows = sub
        ? await armStore.listRoleAssignments(
            ctx.db,
            sub.subscription_id,
            ancestorScopeKeys(scope),
            scopeKey(scope),
            filter,
            page,
          )
        : await armStore.rootAssignments(ctx.db, page, filter.principalId);
      return pagedList(request, opts.baseUrl(), page, rows, roleAssignmentView);
    });

    app.get<{ Params: P }>(definitions, { config: authzConfig('roleDefinitions') }, async (request) => {
      const subscriptionId = await definitionsSubscription(request);
      const filter = queryValue(request, '$filter');
      const byName = filter ? /^roleName\s+eq\s+'([^']+)'$/i.exec(filter.trim()) : null;
      if (filter && !byName)
        throw armError(
          'UnsupportedQuery',
          `The filter '${filter}' is not supported; use "roleName eq '{name}'".`,
          '$filter',
        );
      const roles = BUILTIN_ROLES.filter((r) => !byName || r.roleName.toLowerCase() === byName[1].toLowerCase());
      return { value: roles.map((r) => roleDefinitionView(subscriptionId, r)) };
    });

    app.get<{ Params: P }>(`${definitions}/:name`, { config: authzConfig('roleDefinitions') }, async (request) => {
      const subscriptionId = await definitionsSubscription(request);
      const role = findRole(request.params.name);
      if (!role)
        throw armError(
          'RoleDefinitionDoesNotExist',
          `The specified role definition with ID '${request.params.name}' does not exist.`,
        );
      return roleDefinitionView(subscriptionId, role);
    });
  }
}
