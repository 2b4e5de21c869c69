import { type Kysely, type Migration, type Selectable, sql } from 'kysely';
import { jsonValue } from '../db/database.ts';
import type { ExportJobsTable, ExportJobTables, ExportManifestRecord } from './tables.ts';

// All SQL of asynchronous exports: the jobs, their leases, progress and manifests. Leases are in
// the database's real time (a process's liveness), expiry in the hub's clock (retention).

export type ExportJobDb = Kysely<ExportJobTables>;

export const exportJobMigrations: Record<string, Migration> = {
  '0630_export_jobs': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table export_jobs (
          id uuid primary key,
          requested_by text not null,
          scope jsonb not null,
          selection jsonb not null,
          period text not null,
          format text not null,
          export_of text not null,
          status text not null check (status in ('Running', 'Succeeded', 'Failed')),
          rows_done bigint not null default 0,
          rows_total bigint,
          manifest jsonb,
          error jsonb,
          attempts int not null default 0,
          lease_id uuid,
          leased_until timestamptz,
          created_at timestamptz not null,
          finished_at timestamptz,
          expires_at timestamptz,
          files_removed boolean not null default false
        );
        create index export_jobs_running on export_jobs (created_at) where status = 'Running';
        create index export_jobs_kept on export_jobs (expires_at) where not files_removed;
      `.execute(db);
    },
  },
};

export type NewExportJob = Pick<
  ExportJobsTable,
  'id' | 'requested_by' | 'scope' | 'selection' | 'period' | 'format' | 'export_of' | 'created_at'
>;

export type ExportJob = Selectable<ExportJobsTable>;
/** A job this process holds: its row as claimed, with the lease its writes must match. */
export type ClaimedExportJob = ExportJob & { lease_id: string };

export const exportJobStore = {
  async insert(db: ExportJobDb, job: NewExportJob): Promise<void> {
    await db
      .insertInto('export_jobs')
      .values({ ...job, scope: jsonValue(job.scope), selection: jsonValue(job.selection), status: 'Running' })
      .execute();
  },

  async get(db: ExportJobDb, id: string): Promise<ExportJob | undefined> {
    return db.selectFrom('export_jobs').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /**
   * Takes the oldest running job that no live process holds (never leased, or its lease ran
   * out: its process died or hung) and holds it for `leaseMs`, skipping what another process is claiming.
   */
  async claim(db: ExportJobDb, leaseMs: number): Promise<ClaimedExportJob | undefined> {
    const r = await sql<ClaimedExportJob>`
      with due as (
        select id from export_jobs
        where status = 'Running' and (leased_until is null or leased_until < now())
        order by created_at limit 1
        for update skip locked
      )
      update export_jobs j set lease_id = gen_random_uuid(), leased_until = now() + ${leaseMs} * interval '1 millisecond',
        attempts = attempts + 1, rows_done = 0
      from due where j.id = due.id
      returning j.*`.execute(db);
    return r.rows[0];
  },

  /** Records progress and renews the lease; false when the lease is no longer this holder's. */
  async progress(db: ExportJobDb, job: ClaimedExportJob, rowsDone: number, rowsTotal: number, leaseMs: number) {
    const r = await sql`
      update export_jobs set rows_done = ${rowsDone}, rows_total = ${rowsTotal},
        leased_until = now() + ${leaseMs} * interval '1 millisecond'
      where id = ${job.id} and lease_id = ${job.lease_id} and status = 'Running'`.execute(db);
    return Number(r.numAffectedRows ?? 0) === 1;
  },

  /** The job is done: its manifest, kept until `expiresAt` (the hub's clock). False when the lease was lost. */
  async succeed(db: ExportJobDb, job: ClaimedExportJob, manifest: ExportManifestRecord, at: Date, expiresAt: Date) {
    const r = await db
      .updateTable('export_jobs')
      .set({
        status: 'Succeeded',
        manifest: jsonValue(manifest),
        rows_done: String(manifest.rows),
        rows_total: String(manifest.rows),
        finished_at: at,
        expires_at: expiresAt,
        lease_id: null,
        leased_until: null,
      })
      .where('id', '=', job.id)
      .where('lease_id', '=', job.lease_id)
      .where('status', '=', 'Running')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** The job failed for good (its files are removed by the caller). */
  async fail(db: ExportJobDb, job: ClaimedExportJob, error: { code: string; message: string }, at: Date) {
    await db
      .updateTable('export_jobs')
      .set({ status: 'Failed', error: jsonValue(error), finished_at: at, lease_id: null, leased_until: null })
      .where('id', '=', job.id)
      .where('lease_id', '=', job.lease_id)
      .execute();
  },

  /** Lets another attempt take the job at once (this one failed in a way that may pass). */
  async release(db: ExportJobDb, job: ClaimedExportJob) {
    await db
      .updateTable('export_jobs')
      .set({ lease_id: null, leased_until: null })
      .where('id', '=', job.id)
      .where('lease_id', '=', job.lease_id)
      .execute();
  },

  /** Jobs whose retention ended by `now` and whose files are still kept. */
  async expired(db: ExportJobDb, now: Date): Promise<string[]> {
    const rows = await db
      .selectFrom('export_jobs')
      .select('id')
      .where('files_removed', '=', false)
      .where('expires_at', '<=', now)
      .execute();
    return rows.map((r) => r.id);
  },

  async markRemoved(db: ExportJobDb, ids: string[]): Promise<void> {
    if (ids.length > 0)
      await db.updateTable('export_jobs').set({ files_removed: true }).where('id', 'in', ids).execute();
  },
};
