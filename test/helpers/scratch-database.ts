// A database of the test server for one file's tests of the database helpers (src/db): made
// before them, with a small pool on it, and dropped after.
import { after, before } from 'node:test';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { type Database, ensureDatabase, openDatabase, withDatabase } from '../../src/db/database.ts';
import { dropDatabases, testServerUrl } from './system.ts';

/** Registers the hooks; `pool()` and `db()` are the database's pool and Kysely once the tests run. `setup`: SQL run first. */
export function scratchDatabase(
  prefix: string,
  setup: string,
  connections = 2,
): { pool: () => pg.Pool; db: () => Kysely<unknown> } {
  let db: Database<unknown> | undefined;
  before(async () => {
    const url = withDatabase(testServerUrl(), prefix);
    await ensureDatabase(url);
    db = openDatabase(url, connections);
    await db.pool.query(setup);
  });
  after(async () => {
    await db?.close();
    await dropDatabases(prefix);
  });
  return { pool: () => db!.pool, db: () => db!.db };
}
