import { createHash } from 'node:crypto';
import {
  type ArmContext,
  authorize,
  authorizeListing,
  requireResourceGroup,
  requireSubscription,
  requireWritable,
} from '../../arm/service.ts';
import type { ResourceGroupsTable } from '../../arm/tables.ts';
import { TemplateError } from '../../arm/template/parse.ts';
import { planDeployment, type DeploymentPlan } from '../../arm/template/plan.ts';
import { armError, armErrors, type ArmErrorBody } from '../../core/errors.ts';
import { newGuid } from '../../core/ids.ts';
import type { Cursor } from '../../core/paging.ts';
import type { Principal } from '../../core/principal.ts';
import { runDeployment, type InProcessArm } from './run.ts';
import { deploymentsStore, runLockName, type DeploymentsDb } from './store.ts';
import type { DeploymentsTable } from './tables.ts';

// Template deployments of a resource group: checked (rights, mode, the whole template) before
// anything is written, then run in the background, resource by resource through the endpoint's own
// routes as the caller. The template and secure parameters' values are never stored.

export interface DeploymentsContext {
  arm: ArmContext;
  db: DeploymentsDb;
  /** Runs of this process in progress (each holds a database connection for its lock). */
  running: { count: number };
  /** Where a run that failed unexpectedly is logged. */
  logError(error: unknown, message: string): void;
}

export interface DeploymentRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export interface DeploymentRequest {
  template: unknown;
  parameters: Record<string, unknown>;
  mode: string;
}

/** The most runs one process holds at once: each keeps a pooled connection, and its resources need others. */
export const MAX_RUNNING = 4;

export const deploymentErrors = {
  invalidTemplate: (message: string) => armError('InvalidTemplate', message),
  active: (ref: DeploymentRef) =>
    armError(
      'DeploymentActive',
      `The deployment '${ref.name}' cannot be saved or deleted, because it is still active. Wait for it to finish.`,
    ),
  mode: (mode: string) =>
    armError(
      'InvalidDeploymentMode',
      `The deployment mode '${mode.slice(0, 32)}' is not supported: use 'Incremental' (a 'Complete' deployment, which deletes the group's other resources, is not offered here).`,
      'properties.mode',
    ),
  busy: () =>
    armError(
      'TooManyRequests',
      `This stack runs at most ${MAX_RUNNING} deployments at once. Retry after a few seconds.`,
      undefined,
      undefined,
      { 'retry-after': '5' },
    ),
  name: (name: string) =>
    armError(
      'InvalidDeploymentName',
      `The deployment name '${name.slice(0, 100)}' is invalid. It can only contain alphanumeric, underscore, parentheses, hyphen and period characters, and must be from 1 to 64 characters.`,
    ),
  notFound: (ref: DeploymentRef) =>
    armError(
      'DeploymentNotFound',
      `Deployment '${ref.name}' could not be found in resource group '${ref.resourceGroup}'.`,
    ),
};

export const deploymentScope = (ref: DeploymentRef) =>
  `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Resources/deployments/${ref.name}`;

/** ARM's hash of a template: a decimal number from the SHA-256 of its JSON. */
export const templateHash = (template: unknown): string =>
  BigInt(`0x${createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 15)}`).toString();

/** Whether a deployment's run has ended, one way or the other. */
export const isFinished = (row: Pick<DeploymentsTable, 'state'>): boolean =>
  row.state === 'Succeeded' || row.state === 'Failed';

/** The whole template made into a plan, or ARM's 400 InvalidTemplate saying what and where. */
function planOrRefuse(
  request: DeploymentRequest,
  principal: Principal,
  ref: DeploymentRef,
  group: ResourceGroupsTable,
): DeploymentPlan {
  if (request.mode.toLowerCase() !== 'incremental') throw deploymentErrors.mode(request.mode);
  try {
    return planDeployment(request.template, request.parameters, {
      subscriptionId: ref.subscriptionId,
      tenantId: principal.tenantId,
      resourceGroup: { name: group.name, location: group.location },
      deploymentName: ref.name,
    });
  } catch (e) {
    if (e instanceof TemplateError) throw deploymentErrors.invalidTemplate(e.message);
    throw e;
  }
}

/** The parameters as a deployment shows them: secure ones without their value, so none is stored. */
const shownParameters = (plan: DeploymentPlan) =>
  Object.fromEntries(
    plan.parameters.map((p) => [p.name, p.secure ? { type: p.type } : { type: p.type, value: p.value }]),
  );

async function checked(
  ctx: DeploymentsContext,
  principal: Principal,
  ref: DeploymentRef,
  action: string,
  request: DeploymentRequest,
) {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, action, deploymentScope(ref));
  if (!/^[-\w.()]{1,64}$/.test(ref.name)) throw deploymentErrors.name(ref.name);
  const group = await requireResourceGroup(ctx.arm, sub.subscription_id, ref.resourceGroup);
  return { sub, plan: planOrRefuse(request, principal, { ...ref, subscriptionId: sub.subscription_id }, group) };
}

/** POST …/validate: the template checked as a PUT would check it; nothing is written or deployed. */
export async function validateDeployment(
  ctx: DeploymentsContext,
  principal: Principal,
  ref: DeploymentRef,
  request: DeploymentRequest,
) {
  const { plan } = await checked(ctx, principal, ref, 'Microsoft.Resources/deployments/validate/action', request);
  return {
    templateHash: templateHash(request.template),
    parameters: shownParameters(plan),
    mode: 'Incremental',
    validatedResources: plan.resources.map((r) => ({ id: r.id })),
  };
}

/**
 * PUT: checks everything that can be checked before deploying, records the run (Accepted) and
 * answers once it is recorded; the resources are then deployed in the background, in order,
 * through `arm` (the endpoint's own routes, as the caller).
 */
export async function putDeployment(
  ctx: DeploymentsContext,
  principal: Principal,
  ref: DeploymentRef,
  request: DeploymentRequest,
  correlationId: string,
  arm: InProcessArm,
): Promise<{ row: DeploymentsTable; created: boolean }> {
  const { sub, plan } = await checked(ctx, principal, ref, 'Microsoft.Resources/deployments/write', request);
  requireWritable(sub);
  const existing = await deploymentsStore.get(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  const now = ctx.arm.clock.now();
  const row: DeploymentsTable = {
    id: existing?.id ?? newGuid(),
    subscription_id: sub.subscription_id,
    resource_group: existing?.resource_group ?? ref.resourceGroup,
    resource_group_key: ref.resourceGroup.toLowerCase(),
    name: existing?.name ?? ref.name,
    name_key: ref.name.toLowerCase(),
    state: 'Accepted',
    mode: 'Incremental',
    template_hash: templateHash(request.template),
    parameters: shownParameters(plan),
    outputs: null,
    output_resources: [],
    error: null,
    correlation_id: correlationId,
    run_id: newGuid(),
    created_by: principal.objectId,
    started_at: now,
    updated_at: now,
    ended_at: null,
    duration_ms: 0,
  };

  // The run holds a lock named after the deployment on a connection of its own, so that a second
  // PUT of the same deployment is refused while it runs, and a restart can tell a run that died.
  let accepted!: () => void;
  let refused!: (e: unknown) => void;
  const recorded = new Promise<void>((resolve, reject) => {
    accepted = resolve;
    refused = reject;
  });
  // Checked and counted with no wait in between, so that twins at once cannot both pass.
  if (ctx.running.count >= MAX_RUNNING) throw deploymentErrors.busy();
  ctx.running.count++;
  deploymentsStore
    .withRunLock(ctx.db, runLockName(sub.subscription_id, ref.resourceGroup, ref.name), async () => {
      await deploymentsStore.startRun(ctx.db, row);
      accepted();
      try {
        await runDeployment(ctx, row, plan, arm);
      } catch (e) {
        ctx.logError(e, 'a deployment failed unexpectedly');
        await failRun(ctx, row.id, {
          code: 'InternalServerError',
          message: `The deployment stopped on an internal error. Correlation id '${correlationId}'.`,
        });
      }
    })
    .then((locked) => {
      if (!locked) refused(deploymentErrors.active(ref));
    })
    .catch((e: unknown) => {
      refused(e);
      ctx.logError(e, 'a deployment could not run');
    })
    .finally(() => {
      ctx.running.count--;
    });
  await recorded;
  return { row, created: !existing };
}

/** Ends a run that cannot go on: its running operations and itself Failed with `error`. */
async function failRun(ctx: DeploymentsContext, id: string, error: ArmErrorBody): Promise<void> {
  const now = ctx.arm.clock.now();
  await deploymentsStore.failRunningOperations(ctx.db, id, error, now);
  await deploymentsStore.finish(ctx.db, id, {
    state: 'Failed',
    outputs: null,
    output_resources: [],
    error: { code: 'DeploymentFailed', message: error.message, details: [error] },
    ended_at: now,
    duration_ms: 0,
  });
}

/**
 * At a stack's start: a deployment left Accepted or Running whose run lock nobody holds was cut
 * off by a stop or a crash. It is marked Failed (what it deployed stays; a PUT deploys the rest):
 * it cannot be resumed, because it ran as its caller, whose token is never stored.
 */
export async function failInterruptedDeployments(ctx: DeploymentsContext): Promise<number> {
  let failed = 0;
  for (const row of await deploymentsStore.unfinished(ctx.db)) {
    // A lock that another process holds is a run still going there: left alone.
    await deploymentsStore.withRunLock(
      ctx.db,
      runLockName(row.subscription_id, row.resource_group, row.name),
      async () => {
        const current = await deploymentsStore.get(ctx.db, row.subscription_id, row.resource_group, row.name);
        if (current?.run_id !== row.run_id || (current.state !== 'Accepted' && current.state !== 'Running')) return;
        await failRun(ctx, row.id, {
          code: 'DeploymentInterrupted',
          message:
            'The stack stopped while the deployment ran; the resources not yet deployed were not. Deploy it again to complete it.',
        });
        failed++;
      },
    );
  }
  return failed;
}

export async function getDeployment(ctx: DeploymentsContext, principal: Principal, ref: DeploymentRef) {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, 'Microsoft.Resources/deployments/read', deploymentScope(ref));
  const row = await deploymentsStore.get(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  if (!row) throw deploymentErrors.notFound(ref);
  return row;
}

export async function listDeployments(
  ctx: DeploymentsContext,
  principal: Principal,
  subscriptionId: string,
  resourceGroup: string,
  cursor: Cursor,
) {
  const sub = await authorizeListing(
    ctx.arm,
    principal,
    'Microsoft.Resources/deployments/read',
    subscriptionId,
    resourceGroup,
  );
  return deploymentsStore.list(ctx.db, sub.subscription_id, resourceGroup, cursor);
}

/** DELETE removes the deployment's record, never its resources (as ARM does); a running one is refused. */
export async function deleteDeployment(ctx: DeploymentsContext, principal: Principal, ref: DeploymentRef) {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, 'Microsoft.Resources/deployments/delete', deploymentScope(ref));
  requireWritable(sub);
  const row = await deploymentsStore.get(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  if (!row) return false;
  const done = await deploymentsStore.withRunLock(
    ctx.db,
    runLockName(sub.subscription_id, ref.resourceGroup, ref.name),
    async () => {
      await deploymentsStore.delete(ctx.db, row.id);
    },
  );
  if (!done) throw deploymentErrors.active(ref);
  return true;
}

export async function listOperations(
  ctx: DeploymentsContext,
  principal: Principal,
  ref: DeploymentRef,
  cursor: Cursor,
) {
  const row = await getDeployment(ctx, principal, ref);
  return { row, operations: await deploymentsStore.operations(ctx.db, row.id, cursor) };
}

export async function getOperation(
  ctx: DeploymentsContext,
  principal: Principal,
  ref: DeploymentRef,
  operationId: string,
) {
  const row = await getDeployment(ctx, principal, ref);
  const op = /^[0-9a-f-]{36}$/i.test(operationId)
    ? await deploymentsStore.operation(ctx.db, row.id, operationId.toLowerCase())
    : undefined;
  if (!op) throw armErrors.resourceNotFound('Microsoft.Resources/deployments/operations', operationId);
  return { row, op };
}
