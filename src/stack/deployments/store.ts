import { type Kysely, sql } from 'kysely';
import { keyset, pageQuery, type Cursor } from '../../core/paging.ts';
import type { DeploymentOperationsTable, DeploymentsTable, DeploymentsTables } from './tables.ts';

// All SQL of template deployments and their operations.
export type DeploymentsDb = Kysely<DeploymentsTables>;

const json = (v: unknown) => sql<never>`${JSON.stringify(v)}::jsonb`;

/** The advisory lock that a deployment's run holds on its own connection: a name, so that two runs of one deployment never overlap. */
export const runLockName = (subscriptionId: string, resourceGroup: string, name: string) =>
  `stackledger deployment: ${subscriptionId}/${resourceGroup.toLowerCase()}/${name.toLowerCase()}`;

/** A group's deployments, newest first (index deployments_started, migration 1702). */
export const DEPLOYMENT_ORDER = keyset(
  'deployments',
  [
    ['started_at', 'time'],
    ['id', 'uuid'],
  ],
  (r: DeploymentsTable) => [r.started_at, r.id],
  'descending',
);
/** A deployment's operations in the order they ran (its primary key). */
export const OPERATION_ORDER = keyset(
  'deploymentOperations',
  [
    ['seq', 'int'],
    ['operation_id', 'uuid'],
  ],
  (r: DeploymentOperationsTable) => [r.seq, r.operation_id],
);

export const deploymentsStore = {
  get: (db: DeploymentsDb, subscriptionId: string, resourceGroup: string, name: string) =>
    db
      .selectFrom('deployments')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('resource_group_key', '=', resourceGroup.toLowerCase())
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst(),

  list: (db: DeploymentsDb, subscriptionId: string, resourceGroup: string, cursor: Cursor) =>
    pageQuery(
      db
        .selectFrom('deployments')
        .selectAll()
        .where('subscription_id', '=', subscriptionId)
        .where('resource_group_key', '=', resourceGroup.toLowerCase()),
      DEPLOYMENT_ORDER,
      cursor,
    ).execute(),

  /** Writes a deployment's new run: the row, and no operations yet (a run replaces the last one's). */
  startRun: async (db: DeploymentsDb, row: DeploymentsTable) => {
    await db.deleteFrom('deployment_operations').where('deployment_id', '=', row.id).execute();
    await db
      .insertInto('deployments')
      .values({
        ...row,
        parameters: json(row.parameters),
        outputs: json(row.outputs),
        output_resources: json(row.output_resources),
        error: json(row.error),
      })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          state: row.state,
          mode: row.mode,
          template_hash: row.template_hash,
          parameters: json(row.parameters),
          outputs: null,
          output_resources: json([]),
          error: null,
          correlation_id: row.correlation_id,
          run_id: row.run_id,
          created_by: row.created_by,
          started_at: row.started_at,
          updated_at: row.updated_at,
          ended_at: null,
          duration_ms: 0,
        }),
      )
      .execute();
  },

  setState: (db: DeploymentsDb, id: string, state: DeploymentsTable['state'], at: Date) =>
    db.updateTable('deployments').set({ state, updated_at: at }).where('id', '=', id).execute(),

  finish: (
    db: DeploymentsDb,
    id: string,
    end: Pick<DeploymentsTable, 'state' | 'outputs' | 'output_resources' | 'error' | 'ended_at' | 'duration_ms'>,
  ) =>
    db
      .updateTable('deployments')
      .set({
        state: end.state,
        outputs: json(end.outputs),
        output_resources: json(end.output_resources),
        error: json(end.error),
        ended_at: end.ended_at,
        updated_at: end.ended_at ?? undefined,
        duration_ms: end.duration_ms,
      })
      .where('id', '=', id)
      .execute(),

  delete: (db: DeploymentsDb, id: string) => db.deleteFrom('deployments').where('id', '=', id).execute(),

  deleteOfGroup: (db: DeploymentsDb, subscriptionId: string, resourceGroup: string) =>
    db
      .deleteFrom('deployments')
      .where('subscription_id', '=', subscriptionId)
      .where('resource_group_key', '=', resourceGroup.toLowerCase())
      .execute(),

  unfinished: (db: DeploymentsDb) =>
    db.selectFrom('deployments').selectAll().where('state', 'in', ['Accepted', 'Running']).execute(),

  insertOperation: (db: DeploymentsDb, op: DeploymentOperationsTable) =>
    db
      .insertInto('deployment_operations')
      .values({ ...op, error: json(op.error) })
      .execute(),

  finishOperation: (
    db: DeploymentsDb,
    deploymentId: string,
    operationId: string,
    end: Pick<DeploymentOperationsTable, 'state' | 'status_code' | 'error' | 'ended_at' | 'duration_ms'>,
  ) =>
    db
      .updateTable('deployment_operations')
      .set({ ...end, error: json(end.error) })
      .where('deployment_id', '=', deploymentId)
      .where('operation_id', '=', operationId)
      .execute(),

  /** Operations left running by a run that stopped: failed with the given error. */
  failRunningOperations: (db: DeploymentsDb, deploymentId: string, error: unknown, at: Date) =>
    db
      .updateTable('deployment_operations')
      .set({ state: 'Failed', status_code: 'InternalServerError', error: json(error), ended_at: at })
      .where('deployment_id', '=', deploymentId)
      .where('state', '=', 'Running')
      .execute(),

  operations: (db: DeploymentsDb, deploymentId: string, cursor: Cursor) =>
    pageQuery(
      db.selectFrom('deployment_operations').selectAll().where('deployment_id', '=', deploymentId),
      OPERATION_ORDER,
      cursor,
    ).execute(),

  operation: (db: DeploymentsDb, deploymentId: string, operationId: string) =>
    db
      .selectFrom('deployment_operations')
      .selectAll()
      .where('deployment_id', '=', deploymentId)
      .where('operation_id', '=', operationId)
      .executeTakeFirst(),

  /** Runs `work` holding the advisory lock `name` on a connection of its own, or answers false at once when another holds it. */
  withRunLock: async (db: DeploymentsDb, name: string, work: () => Promise<void>): Promise<boolean> =>
    db.connection().execute(async (conn) => {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(hashtext(${name})) as locked`.execute(
        conn,
      );
      if (!rows[0]?.locked) return false;
      try {
        await work();
      } finally {
        await sql`select pg_advisory_unlock(hashtext(${name}))`.execute(conn);
      }
      return true;
    }),
};
