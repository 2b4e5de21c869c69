import type { NamedArmRow } from '../../arm/tables.ts';
import type { ArmErrorBody } from '../../core/errors.ts';

/** A template deployment of a resource group: what it deployed, never the template or a secure parameter's value. */
export interface DeploymentsTable extends NamedArmRow {
  state: 'Accepted' | 'Running' | 'Succeeded' | 'Failed';
  mode: string;
  template_hash: string;
  /** The parameters as a deployment shows them: `{name: {type, value}}`, secure ones without their value. */
  parameters: Record<string, { type: string; value?: unknown }>;
  outputs: Record<string, { type: string; value?: unknown }> | null;
  /** The ids of the resources it deployed. */
  output_resources: string[];
  error: ArmErrorBody | null;
  correlation_id: string;
  /** The current run, named by the long-running operation's status URL. */
  run_id: string;
  created_by: string;
  /** Domain time, as resources' times are. */
  started_at: Date;
  updated_at: Date;
  ended_at: Date | null;
  /** How long the run took, measured in real time. */
  duration_ms: number;
}

/** One resource of a run: ARM's deployment operation. */
export interface DeploymentOperationsTable {
  deployment_id: string;
  operation_id: string;
  seq: number;
  resource_id: string;
  resource_type: string;
  resource_name: string;
  state: 'Running' | 'Succeeded' | 'Failed';
  /** The provider's HTTP status, by name (`OK`, `Created`, `Conflict`). */
  status_code: string | null;
  error: ArmErrorBody | null;
  started_at: Date;
  ended_at: Date | null;
  duration_ms: number;
}

export interface DeploymentsTables {
  deployments: DeploymentsTable;
  deployment_operations: DeploymentOperationsTable;
}
