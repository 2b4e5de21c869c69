import type { DeploymentOperationsTable, DeploymentsTable } from './tables.ts';

// Deployments and their operations as ARM shows them (Microsoft.Resources 2019-10-01 and later).

/** An ISO 8601 duration of milliseconds: `PT1.234S`. */
export const isoDuration = (ms: number): string => `PT${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')}S`;

export const deploymentId = (row: Pick<DeploymentsTable, 'subscription_id' | 'resource_group' | 'name'>) =>
  `/subscriptions/${row.subscription_id}/resourceGroups/${row.resource_group}/providers/Microsoft.Resources/deployments/${row.name}`;

/** The providers and types of the resources a deployment made, as `properties.providers` lists them. */
function providersOf(ids: string[]) {
  const types = new Map<string, Set<string>>();
  for (const id of ids) {
    const m = /\/providers\/([^/]+)\/(.+)$/.exec(id);
    if (!m) continue;
    const type = m[2]
      .split('/')
      .filter((_, i) => i % 2 === 0)
      .join('/');
    const set = types.get(m[1]) ?? new Set<string>();
    set.add(type);
    types.set(m[1], set);
  }
  return [...types].map(([namespace, set]) => ({
    namespace,
    resourceTypes: [...set].map((resourceType) => ({ resourceType, locations: [] as string[] })),
  }));
}

export function deploymentView(row: DeploymentsTable) {
  return {
    id: deploymentId(row),
    name: row.name,
    type: 'Microsoft.Resources/deployments',
    properties: {
      templateHash: row.template_hash,
      parameters: row.parameters,
      mode: row.mode,
      provisioningState: row.state,
      timestamp: (row.ended_at ?? row.updated_at).toISOString(),
      duration: isoDuration(row.duration_ms),
      correlationId: row.correlation_id,
      providers: providersOf(row.output_resources),
      dependencies: [],
      ...(row.outputs ? { outputs: row.outputs } : {}),
      outputResources: row.output_resources.map((id) => ({ id })),
      ...(row.error ? { error: row.error } : {}),
    },
  };
}

export function operationView(row: DeploymentsTable, op: DeploymentOperationsTable) {
  return {
    id: `${deploymentId(row)}/operations/${op.operation_id}`,
    operationId: op.operation_id,
    properties: {
      provisioningOperation: 'Create',
      provisioningState: op.state,
      timestamp: (op.ended_at ?? op.started_at).toISOString(),
      duration: isoDuration(op.duration_ms),
      trackingId: op.operation_id,
      ...(op.status_code ? { statusCode: op.status_code } : {}),
      ...(op.error ? { statusMessage: { status: 'Failed', error: op.error } } : {}),
      targetResource: { id: op.resource_id, resourceType: op.resource_type, resourceName: op.resource_name },
    },
  };
}

/** The long-running operation's status: ARM's `{status, error?}`. */
export function runStatusView(row: DeploymentsTable) {
  return {
    status: row.state,
    ...(row.error ? { error: row.error } : {}),
  };
}
