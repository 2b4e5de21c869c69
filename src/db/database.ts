import {
  Kysely,
  PostgresDialect,
  sql,
  type Generated,
  type Migration,
  Migrator,
  type MigrationProvider,
  type RawBuilder,
} from 'kysely';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { PassThrough, type Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { DueWork } from '../core/scheduler.ts';
import { GENERIC_PLANS, preparingPool } from './prepared.ts';

// One query layer for every domain: Kysely over a pg.Pool. Bulk paths use pg directly (COPY).

// int8 and numeric stay strings (exact); timestamps become Date.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);
// Dates (billing days, price dates) stay 'YYYY-MM-DD': a Date would shift them by the local time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);

export function withDatabase(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * `url` with session settings added to those its `options` already names: pg takes a URL's
 * `options` over a pool's own, so a setting given beside the URL would be lost.
 */
export function withOptions(url: string, options: string): string {
  const u = new URL(url);
  const named = u.searchParams.get('options');
  u.searchParams.set('options', named ? `${named} ${options}` : options);
  return u.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** Creates the database named in `url` on its server if it does not exist yet. */
export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`create database "${name.replaceAll('"', '""')}"`);
      } catch (e) {
        // Created meanwhile by another process: PostgreSQL says so as 42P04, or, when both were
        // creating it at once, as the unique violation of its catalogue (23505).
        const code = (e as { code?: string }).code;
        if (code !== '42P04' && code !== '23505') throw e;
      }
    }
  } finally {
    await client.end();
  }
}

export interface Database<DB> {
  db: Kysely<DB>;
  pool: pg.Pool;
  close(): Promise<void>;
}

export function openDatabase<DB>(url: string, max = 10): Database<DB> {
  const pool = poolOf({ connectionString: url, max });
  // The connections of the statements prepared once and run on their generic plan (db/prepared.ts).
  const generic = poolOf({ connectionString: withOptions(url, GENERIC_PLANS), max: Math.max(1, Math.ceil(max / 2)) });
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: preparingPool(pool, generic) }) });
  return { db, pool, close: () => db.destroy() };
}

function poolOf(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(config);
  pool.on('error', () => {}); // a dropped idle connection is replaced on next use
  // A connection lost while it is lent (a COPY or a transaction in flight) fails its query, which
  // the caller hears of; pg also emits the error on the client, where pg-pool listens only while it
  // is idle, and an error event that no one hears ends the process.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * A value for a json or jsonb column, sent as JSON text: pg would send a JavaScript array as a
 * PostgreSQL array. Typed as the column's value, so Kysely checks it like any other.
 */
export function jsonValue<T>(value: T): RawBuilder<T> {
  return sql<T>`${JSON.stringify(value)}`;
}

/**
 * A database type's tables as Kysely's `withTables` takes them. `tx.withTables<TablesOf<AuditDb>>()`
 * types a domain's transaction with another domain's tables of the same database, the type alone
 * changing: where a domain hands its view of a transaction to another, instead of a cast.
 */
export type TablesOf<D> = D extends Kysely<infer T> ? { [K in keyof T]: T[K] } : never;

/** A subscriber's trigger functions, one per kind of statement. */
export interface StatementTriggerFunctions {
  inserted: string;
  updated: string;
  deleted: string;
}

/**
 * What an owner publishes, as migration DDL, for another domain to attach to its table: statement
 * triggers `${name}_inserted`, `_updated` and `_deleted` on `table`, each calling the subscriber's
 * function, which reads the statement's rows as `new_${rows}` (inserted, or updated: after) and
 * `old_${rows}` (updated: before, or deleted).
 */
export const statementTriggers = (table: string, rows: string, name: string, functions: StatementTriggerFunctions) => `
  create trigger ${name}_inserted after insert on ${table}
    referencing new table as new_${rows} for each statement execute function ${functions.inserted}();
  create trigger ${name}_updated after update on ${table}
    referencing old table as old_${rows} new table as new_${rows} for each statement execute function ${functions.updated}();
  create trigger ${name}_deleted after delete on ${table}
    referencing old table as old_${rows} for each statement execute function ${functions.deleted}();`;

/** A table whose `id` the database assigns (a bigserial or a default): inserts leave it out. */
export type WithGeneratedId<T extends { id: unknown }> = Omit<T, 'id'> & { id: Generated<T['id']> };

class StaticMigrations implements MigrationProvider {
  constructor(private readonly migrations: Record<string, Migration>) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return this.migrations;
  }
}

export async function migrate<DB>(db: Kysely<DB>, migrations: Record<string, Migration>): Promise<void> {
  if (await haveRun(db, Object.keys(migrations))) return;
  // Each domain numbers its own migrations (identity 01xx, partner 02xx, …), so a domain's new one
  // sorts before others already run in an existing database: it still runs, at the next start.
  const migrator = new Migrator({ db, provider: new StaticMigrations(migrations), allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? error}`);
  }
}

/**
 * Whether every one of `names` has run: then a start needs no migrator (whose look at every table
 * of the database was most of the time a migrated database took to start). Kysely records a
 * migration's name in the transaction that runs it, so a name recorded is a migration done.
 */
async function haveRun<DB>(db: Kysely<DB>, names: string[]): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`select to_regclass('kysely_migration') is not null as found`.execute(
    db,
  );
  if (!rows[0].found) return false;
  const run = await sql<{ n: number }>`
    select count(*)::int as n from kysely_migration where name = any(${names}::text[])`.execute(db);
  return run.rows[0].n === names.length;
}

/** Whether `e` is PostgreSQL's unique violation, on one of `constraints` when they are named. */
export function isUniqueViolation(e: unknown, constraints?: readonly string[]): boolean {
  const err = e as { code?: unknown; constraint?: unknown } | null;
  return err?.code === '23505' && (!constraints || constraints.includes(String(err.constraint)));
}

/**
 * Runs `work`; when a concurrent twin won the race to a unique index of `constraints` (any, when
 * undefined), answers
 * what `instead` says: the conflict that the check before the insert gives one after another, or
 * the winner's row where the API promises an idempotent success.
 */
export async function onUniqueViolation<T>(
  constraints: readonly string[] | undefined,
  work: () => Promise<T>,
  instead: () => T | Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (isUniqueViolation(e, constraints)) return instead();
    throw e;
  }
}

/**
 * Runs an idempotent PUT (create or update); when a concurrent twin created the row first, runs it
 * once more, which now finds that row and answers as the update a repeat is.
 */
export function retryOnceOnUniqueViolation<T>(work: () => Promise<T>): Promise<T> {
  return onUniqueViolation(undefined, work, work);
}

/**
 * Runs `work` holding a session advisory lock named `name` on one connection of its own: other
 * processes of the same role on the same database wait for it. A process that dies lets go with its
 * connection, so no lock outlives its holder.
 */
export async function holdingLock<DB, T>(db: Kysely<DB>, name: string, work: () => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(hashtext(${name}))`.execute(conn);
    try {
      return await work();
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${name}))`.execute(conn);
    }
  });
}

/**
 * A job that one process at a time does, when several processes of a role share one database:
 * the others wait, then find it done (every step is idempotent), so the scheduler's promise that
 * work due by now is done when it returns holds in every process. Several jobs given together run
 * in order under one lock (one round trip to take it and one to give it back, not one per job);
 * they settle alike. When every job says it is idle (`DueWork.idleAt`), no lock is taken.
 */
export function oneProcessAtATime<DB>(db: Kysely<DB>, ...jobs: [DueWork, ...DueWork[]]): DueWork {
  if (jobs.some((j) => Boolean(j.settles) !== Boolean(jobs[0].settles)))
    throw new Error('jobs under one lock must settle alike');
  const name = jobs.map((j) => j.name).join(', ');
  return {
    name,
    ...(jobs[0].settles ? { settles: true } : {}),
    runUntil: async (now, since) => {
      // Jobs that can tell they have nothing due are not waited for, nor locked for.
      const idle = await Promise.all(jobs.map((j) => j.idleAt?.(now) ?? false));
      if (idle.every(Boolean)) return;
      await holdingLock(db, `stackledger job: ${name}`, async () => {
        for (const job of jobs) await job.runUntil(now, since);
      });
    },
  };
}

/**
 * A stream that `write` fills from a connection of its own, in one read-only repeatable-read
 * transaction (one snapshot however long it runs; `setLocal` gives it settings). `out` (a
 * pass-through unless given) is what the caller reads. The connection goes back to the pool at
 * the end; if the reader goes away or anything fails midway, it is closed instead (a COPY may
 * still be running on it) and the stream is destroyed.
 */
export function streamFromConnection(
  pool: pg.Pool,
  write: (client: pg.PoolClient, out: Writable) => Promise<void>,
  out: Transform = new PassThrough(),
): Readable {
  void (async () => {
    let client: pg.PoolClient | undefined;
    let finished = false;
    let released = false;
    const release = (error?: Error) => {
      if (client && !released) client.release(error);
      released = true;
    };
    try {
      client = await pool.connect();
      // The reader went away: close the connection, which ends whatever runs on it.
      out.once('close', () => finished || release(new Error('the reader went away')));
      if (out.destroyed) throw new Error('the reader went away');
      await client.query('begin transaction isolation level repeatable read, read only');
      await write(client, out);
      await client.query('commit');
      finished = true;
      release();
      out.end();
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      release(error);
      out.destroy(error);
    }
  })();
  return out;
}

/**
 * Runs `work` with a second connection that sees the snapshot of `client`'s transaction (a
 * repeatable-read one, open throughout): its reads, run beside `client`'s, answer as they would on
 * `client` (PostgreSQL's snapshot export, as pg_dump's parallel workers use it). A connection of
 * its own, not the pool's: holders of the pool's connections each waiting for a second one could
 * wait for ever. Closed at the end. `work` also gets the snapshot's id, for another such connection.
 */
export async function withSnapshotTwin<T>(
  pool: pg.Pool,
  client: pg.PoolClient,
  work: (twin: pg.ClientBase, snapshot: string) => Promise<T>,
): Promise<T> {
  const snapshot = await exportSnapshot(client);
  const twin = await openSnapshotTwin(pool, snapshot);
  try {
    const result = await work(twin, snapshot);
    await twin.query('commit');
    return result;
  } finally {
    await twin.end().catch(() => {});
  }
}

/** The id of the snapshot of `client`'s transaction (repeatable read), valid while it stays open. */
export async function exportSnapshot(client: pg.ClientBase): Promise<string> {
  const snapshot = (await client.query<{ id: string }>('select pg_export_snapshot() as id')).rows[0].id;
  if (!/^[0-9A-F-]+$/i.test(snapshot)) throw new Error('an unexpected snapshot id');
  return snapshot;
}

/** A connection of its own (not the pool's) in a read-only transaction on `snapshot`; the caller ends it. */
export async function openSnapshotTwin(pool: pg.Pool, snapshot: string): Promise<pg.Client> {
  const twin = new pg.Client(pool.options);
  twin.on('error', () => {}); // its queries fail, and their callers with them
  try {
    await twin.connect();
    await twin.query('begin transaction isolation level repeatable read, read only');
    await twin.query(`set transaction snapshot '${snapshot}'`);
    return twin;
  } catch (e) {
    await twin.end().catch(() => {});
    throw e;
  }
}

/** Sets `settings` for the rest of the transaction (COPY takes no bind parameters: its query reads them with `current_setting`). */
export async function setLocal(client: pg.ClientBase, settings: Record<string, string>): Promise<void> {
  await client.query('select set_config(name, value, true) from unnest($1::text[], $2::text[]) as s(name, value)', [
    Object.keys(settings),
    Object.values(settings),
  ]);
}

/**
 * Writes `chunk` into `out`, waiting while it is full; fails when the reader went away. Written out
 * rather than `pipeline(…, { end: false })`, which leaves its listeners on `out`: an export of a
 * thousand invoices is thousands of writers into one stream.
 */
export async function writeInto(out: Writable, chunk: string | Buffer): Promise<void> {
  if (out.destroyed) throw new Error('the reader went away');
  if (chunk.length > 0 && !out.write(chunk)) await drained(out);
}

/** Writes what `COPY … TO STDOUT` answers gzipped into a new private file; answers its rows and the file's sha256. */
export async function copyOutToGzipFile(
  client: pg.PoolClient,
  copy: string,
  file: string,
): Promise<{ rows: number; sha256: string }> {
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const source = client.query(copyTo(copy));
  await pipeline(source, createGzip(), hashing, createWriteStream(file, { mode: 0o600 }));
  return { rows: Number(source.rowCount), sha256: hash.digest('hex') };
}

/** Resolves when `out` takes writes again; rejects if it fails or closes first. */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', settle);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(new Error('the reader went away'));
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', settle);
  });
}
