import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { armErrors } from '../../core/errors.ts';
import { parseLenientJson } from '../../core/jsonc.ts';
import { acceptJsonBodies, principalOf, queryValue } from '../../http/arm.ts';
import { pagedList, pagedListRoute, pageOf } from '../../http/paging.ts';
import { DEPLOYMENT_ORDER, OPERATION_ORDER } from './store.ts';
import { scope } from '../../http/server.ts';
import type { InProcessArm } from './run.ts';
import * as deployments from './service.ts';
import { deploymentId, deploymentView, operationView, runStatusView } from './views.ts';

// Microsoft.Resources/deployments of a resource group, on a stack endpoint: PUT, GET, list, DELETE,
// validate, the operations, and the long-running operation's status.

type GroupParams = { subscriptionId: string; resourceGroupName: string };
type Params = GroupParams & { deploymentName: string };

/** The group's deployments, at ARM's path and at the older one without `/providers/Microsoft.Resources`, which clients still send (az's operation list). */
const GROUP_PATHS = [
  '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/providers/Microsoft.Resources/deployments',
  '/subscriptions/:subscriptionId/resourcegroups/:resourceGroupName/deployments',
];

const DeploymentBody = Type.Object({
  properties: Type.Object({
    template: Type.Optional(Type.Object({})),
    templateLink: Type.Optional(Type.Unknown()),
    parameters: Type.Optional(Type.Union([Type.Object({}), Type.Null()])),
    parametersLink: Type.Optional(Type.Unknown()),
    mode: Type.String({ minLength: 1 }),
  }),
});
type Body = {
  properties: {
    template?: Record<string, unknown>;
    templateLink?: unknown;
    parameters?: Record<string, unknown> | null;
    parametersLink?: unknown;
    mode: string;
  };
};

const ref = (p: Params): deployments.DeploymentRef => ({
  subscriptionId: p.subscriptionId,
  resourceGroup: p.resourceGroupName,
  name: p.deploymentName,
});

/** The request's template and parameters: inline only (a link would make the stack fetch from anywhere). */
function deploymentRequest(body: Body): deployments.DeploymentRequest {
  const p = body.properties;
  if (p.templateLink !== undefined || p.parametersLink !== undefined)
    throw deployments.deploymentErrors.invalidTemplate(
      "Linked templates and parameters ('templateLink', 'parametersLink') are not supported: send them inline in 'properties.template' and 'properties.parameters'.",
    );
  if (p.template === undefined)
    throw armErrors.invalidRequestContent(
      "The request content was invalid: 'properties.template' is required.",
      'properties.template',
    );
  return { template: p.template, parameters: p.parameters ?? {}, mode: p.mode };
}

/** The endpoint's own routes called in-process as the request's caller, with its correlation id. */
function asCaller(app: FastifyInstance, request: FastifyRequest, correlationId: string): InProcessArm {
  const authorization = request.headers.authorization ?? '';
  return async (method, path, body) => {
    const answer = await app.inject({
      method,
      url: path,
      headers: {
        authorization,
        'x-ms-correlation-request-id': correlationId,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    let parsed: unknown = null;
    try {
      parsed = answer.body ? JSON.parse(answer.body) : null;
    } catch {
      parsed = null;
    }
    return { status: answer.statusCode, headers: answer.headers, body: parsed };
  };
}

export function registerDeploymentRoutes(
  endpoint: FastifyInstance,
  ctx: deployments.DeploymentsContext,
  baseUrl: () => string,
): void {
  // A context of their own, to read bodies as Resource Manager does: az sends its template spliced in
  // as written (an unquoted `template:` key, comments), and Json.NET takes that.
  void endpoint.register(
    scope((app) => {
      acceptJsonBodies(app, parseLenientJson);
      for (const group of GROUP_PATHS) routes(app, endpoint, ctx, baseUrl, group);
    }),
  );
}

function routes(
  app: FastifyInstance,
  endpoint: FastifyInstance,
  ctx: deployments.DeploymentsContext,
  baseUrl: () => string,
  groupPath: string,
): void {
  const ONE = `${groupPath}/:deploymentName`;
  const config = { apiVersions: API_VERSIONS.deployments, resourceType: 'Microsoft.Resources/deployments' };

  app.put<{ Params: Params; Body: Body }>(ONE, { config, schema: { body: DeploymentBody } }, async (request, reply) => {
    const correlation = request.headers['x-ms-correlation-request-id'];
    const correlationId = typeof correlation === 'string' && correlation.length <= 64 ? correlation : request.id;
    const { row, created } = await deployments.putDeployment(
      ctx,
      principalOf(request),
      ref(request.params),
      deploymentRequest(request.body),
      correlationId,
      asCaller(endpoint, request, correlationId),
    );
    const api = encodeURIComponent(queryValue(request, 'api-version') ?? '');
    return reply
      .status(created ? 201 : 200)
      .headers({
        'azure-asyncoperation': `${baseUrl()}${deploymentId(row)}/operationStatuses/${row.run_id}?api-version=${api}`,
        'retry-after': '1',
      })
      .send(deploymentView(row));
  });

  app.post<{ Params: Params; Body: Body }>(
    `${ONE}/validate`,
    { config, schema: { body: DeploymentBody } },
    async (request) => {
      const result = await deployments.validateDeployment(
        ctx,
        principalOf(request),
        ref(request.params),
        deploymentRequest(request.body),
      );
      return {
        id: deploymentId({
          subscription_id: request.params.subscriptionId,
          resource_group: request.params.resourceGroupName,
          name: request.params.deploymentName,
        }),
        name: request.params.deploymentName,
        type: 'Microsoft.Resources/deployments',
        properties: { provisioningState: 'Succeeded', ...result },
      };
    },
  );

  app.get<{ Params: Params }>(ONE, { config }, async (request) =>
    deploymentView(await deployments.getDeployment(ctx, principalOf(request), ref(request.params))),
  );

  app.get<{ Params: GroupParams }>(
    groupPath,
    { config },
    pagedListRoute(
      DEPLOYMENT_ORDER,
      baseUrl,
      (request: FastifyRequest<{ Params: GroupParams }>, cursor) =>
        deployments.listDeployments(
          ctx,
          principalOf(request),
          request.params.subscriptionId,
          request.params.resourceGroupName,
          cursor,
        ),
      deploymentView,
    ),
  );

  // ARM answers 202 and then 204 once the record is gone; it goes at once here.
  app.delete<{ Params: Params }>(ONE, { config }, async (request, reply) => {
    await deployments.deleteDeployment(ctx, principalOf(request), ref(request.params));
    return reply.status(204).send();
  });

  app.get<{ Params: Params }>(`${ONE}/operations`, { config }, async (request) => {
    const page = pageOf(request, OPERATION_ORDER);
    const { row, operations } = await deployments.listOperations(ctx, principalOf(request), ref(request.params), page);
    return pagedList(request, baseUrl(), page, operations, (op) => operationView(row, op));
  });

  app.get<{ Params: Params & { operationId: string } }>(
    `${ONE}/operations/:operationId`,
    { config },
    async (request) => {
      const { row, op } = await deployments.getOperation(
        ctx,
        principalOf(request),
        ref(request.params),
        request.params.operationId,
      );
      return operationView(row, op);
    },
  );

  app.get<{ Params: Params & { runId: string } }>(
    `${ONE}/operationStatuses/:runId`,
    { config },
    async (request, reply) => {
      const row = await deployments.getDeployment(ctx, principalOf(request), ref(request.params));
      if (row.run_id !== request.params.runId.toLowerCase())
        throw armErrors.resourceNotFound('Microsoft.Resources/deployments/operationStatuses', request.params.runId);
      // While it runs, when to ask again: without it Azure's SDKs (az among them) wait their default 30 s.
      if (!deployments.isFinished(row)) reply.header('retry-after', '1');
      return runStatusView(row);
    },
  );
}
