import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TemplateScope } from '../../arm/template/functions.ts';
import { TemplateError } from '../../arm/template/parse.ts';
import { evaluateOutputs, requestBody, type DeploymentPlan, type PlannedResource } from '../../arm/template/plan.ts';
import type { ArmErrorBody } from '../../core/errors.ts';
import { newGuid } from '../../core/ids.ts';
import type { DeploymentsContext } from './service.ts';
import { deploymentsStore } from './store.ts';
import type { DeploymentsTable } from './tables.ts';

// A deployment's run: each resource of the plan, in order, PUT through the endpoint's own routes as
// the caller (so rights, quotas and validation apply exactly as to a direct call), its answer
// recorded as an operation; `reference()` answered from what was deployed or read; then the outputs.

export interface InProcessAnswer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: unknown;
}

/** A request to the endpoint's own routes, as the deployment's caller (a path with its query). */
export type InProcessArm = (method: 'GET' | 'PUT', path: string, body?: unknown) => Promise<InProcessAnswer>;

/** A resource that `reference()` needs and the run has not read yet: the run reads it, then evaluates again. */
class ResourceNeeded extends Error {
  constructor(
    readonly id: string,
    readonly apiVersion: string,
  ) {
    super(`reference to ${id}`);
  }
}

/** A resource's failure as its operation records it. */
class ResourceFailed extends Error {
  constructor(
    readonly status: number,
    readonly error: ArmErrorBody,
  ) {
    super(error.message);
  }
}

const key = (id: string) => id.toLowerCase();
const statusName = (status: number) => (STATUS_CODES[status] ?? String(status)).replaceAll(' ', '');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The path of a resource id with its segments escaped, and the api-version. */
export const resourcePath = (id: string, apiVersion: string) =>
  `${id.split('/').map(encodeURIComponent).join('/')}?api-version=${encodeURIComponent(apiVersion)}`;

/** A provider's refusal as an error body: its own ARM error, else its status. */
function errorOf(answer: InProcessAnswer): ArmErrorBody {
  const error = isObject(answer.body) && isObject(answer.body.error) ? answer.body.error : undefined;
  return {
    code: typeof error?.code === 'string' ? error.code : statusName(answer.status),
    message: typeof error?.message === 'string' ? error.message : `The resource provider answered ${answer.status}.`,
    ...(typeof error?.target === 'string' ? { target: error.target } : {}),
  };
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);
const stateOf = (body: unknown): string | undefined =>
  isObject(body) && isObject(body.properties) && typeof body.properties.provisioningState === 'string'
    ? body.properties.provisioningState
    : undefined;

/** Waits for a provider's long-running operation (a nested deployment's, say) through its status URL. */
async function settle(arm: InProcessArm, path: string, answer: InProcessAnswer): Promise<InProcessAnswer> {
  const state = stateOf(answer.body)?.toLowerCase();
  const statusUrl = answer.headers['azure-asyncoperation'];
  if (state === undefined || TERMINAL.has(state) || typeof statusUrl !== 'string') return answer;
  const url = new URL(statusUrl);
  for (let i = 0; i < 3000; i++) {
    const status = await arm('GET', `${url.pathname}${url.search}`);
    const value = isObject(status.body) && typeof status.body.status === 'string' ? status.body.status : undefined;
    if (status.status !== 200 || value === undefined) throw new ResourceFailed(status.status, errorOf(status));
    if (value.toLowerCase() === 'failed' || value.toLowerCase() === 'canceled') {
      const error = isObject(status.body) && isObject(status.body.error) ? status.body.error : {};
      throw new ResourceFailed(409, errorOf({ ...status, body: { error } }));
    }
    if (value.toLowerCase() === 'succeeded') return arm('GET', path);
    await sleep(100);
  }
  throw new ResourceFailed(504, { code: 'OperationTimedOut', message: 'The resource did not finish in time.' });
}

/** The scope for a run: the plan's, with `reference()` answered from what the run knows. */
function referenceScope(plan: DeploymentPlan, known: Map<string, Record<string, unknown>>): TemplateScope {
  const planned = (target: string): PlannedResource | undefined => {
    const t = key(target);
    return plan.resources.find((r) => key(r.id) === t || key(r.name) === t || key(`${r.type}/${r.name}`) === t);
  };
  return {
    ...plan.scope,
    reference(target, apiVersion, full) {
      const inTemplate = planned(target);
      const id = inTemplate?.id ?? (target.toLowerCase().startsWith('/subscriptions/') ? target : undefined);
      if (!id)
        throw new TemplateError(
          `The resource '${target}' is not defined in the template: reference() needs its resource id and api-version.`,
        );
      const resource = known.get(key(id));
      if (!resource) {
        const version = apiVersion ?? inTemplate?.apiVersion;
        if (!version)
          throw new TemplateError(`reference('${target}') needs an api-version for a resource outside the template.`);
        throw new ResourceNeeded(id, version);
      }
      return full ? resource : (resource.properties ?? {});
    },
  };
}

/** Evaluates with `reference()`: each resource it needs is read (GET, as the caller), then evaluation starts again. */
async function withReferences<T>(
  arm: InProcessArm,
  scope: TemplateScope,
  known: Map<string, Record<string, unknown>>,
  work: (scope: TemplateScope) => T,
): Promise<T> {
  for (let reads = 0; ; reads++) {
    try {
      return work(scope);
    } catch (e) {
      if (!(e instanceof ResourceNeeded) || reads >= 100) throw e;
      const answer = await arm('GET', resourcePath(e.id, e.apiVersion));
      if (answer.status !== 200 || !isObject(answer.body)) throw new ResourceFailed(answer.status, errorOf(answer));
      known.set(key(e.id), answer.body);
    }
  }
}

async function deployOne(
  arm: InProcessArm,
  r: PlannedResource,
  scope: TemplateScope,
  known: Map<string, Record<string, unknown>>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  let body: Record<string, unknown>;
  try {
    body = await withReferences(arm, scope, known, (s) => requestBody(r, s));
  } catch (e) {
    if (e instanceof TemplateError) throw new ResourceFailed(400, { code: 'InvalidTemplate', message: e.message });
    throw e;
  }
  const path = resourcePath(r.id, r.apiVersion);
  const answer = await settle(arm, path, await arm('PUT', path, body));
  if (answer.status >= 300 || !isObject(answer.body)) throw new ResourceFailed(answer.status, errorOf(answer));
  return { status: answer.status, body: answer.body };
}

const FAILED_MESSAGE =
  'At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.';

/** Runs a recorded deployment to its end: Succeeded with its outputs, or Failed with each failed resource's error. */
export async function runDeployment(
  ctx: DeploymentsContext,
  row: DeploymentsTable,
  plan: DeploymentPlan,
  arm: InProcessArm,
): Promise<void> {
  const clock = ctx.arm.clock;
  const began = performance.now();
  await deploymentsStore.setState(ctx.db, row.id, 'Running', clock.now());
  const known = new Map<string, Record<string, unknown>>();
  const scope = referenceScope(plan, known);
  const notDeployed = new Set<string>();
  const deployed: string[] = [];
  const errors: ArmErrorBody[] = [];
  for (const [seq, r] of plan.resources.entries()) {
    // What depends on a resource that failed is not tried, as ARM does.
    if (r.dependsOn.some((d) => notDeployed.has(key(d)))) {
      notDeployed.add(key(r.id));
      continue;
    }
    const operationId = newGuid();
    const start = performance.now();
    await deploymentsStore.insertOperation(ctx.db, {
      deployment_id: row.id,
      operation_id: operationId,
      seq,
      resource_id: r.id,
      resource_type: r.type,
      resource_name: r.name,
      state: 'Running',
      status_code: null,
      error: null,
      started_at: clock.now(),
      ended_at: null,
      duration_ms: 0,
    });
    let outcome: { state: 'Succeeded' | 'Failed'; status: number; error: ArmErrorBody | null };
    try {
      const done = await deployOne(arm, r, scope, known);
      known.set(key(r.id), done.body);
      deployed.push(r.id);
      outcome = { state: 'Succeeded', status: done.status, error: null };
    } catch (e) {
      if (!(e instanceof ResourceFailed)) throw e;
      notDeployed.add(key(r.id));
      errors.push({ ...e.error, target: r.id });
      outcome = { state: 'Failed', status: e.status, error: e.error };
    }
    await deploymentsStore.finishOperation(ctx.db, row.id, operationId, {
      state: outcome.state,
      status_code: statusName(outcome.status),
      error: outcome.error,
      ended_at: clock.now(),
      duration_ms: Math.round(performance.now() - start),
    });
  }

  let outputs: DeploymentsTable['outputs'] = null;
  if (errors.length === 0) {
    try {
      outputs = await withReferences(arm, scope, known, (s) => evaluateOutputs(plan.outputs, s));
    } catch (e) {
      if (e instanceof TemplateError) errors.push({ code: 'InvalidTemplate', message: e.message });
      else if (e instanceof ResourceFailed) errors.push(e.error);
      else throw e;
    }
  }
  await deploymentsStore.finish(ctx.db, row.id, {
    state: errors.length === 0 ? 'Succeeded' : 'Failed',
    outputs,
    output_resources: deployed,
    error: errors.length === 0 ? null : { code: 'DeploymentFailed', message: FAILED_MESSAGE, details: errors },
    ended_at: clock.now(),
    duration_ms: Math.round(performance.now() - began),
  });
}
