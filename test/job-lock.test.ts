// A job that one process at a time does (`oneProcessAtATime`): while another process holds the
// job's lock, a job that has something due waits for it and then runs; jobs that can tell they are
// idle at that time (`DueWork.idleAt`) neither wait nor take the lock.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import type { DueWork } from '../src/core/scheduler.ts';
import { ensureDatabase, oneProcessAtATime, openDatabase, withDatabase } from '../src/db/database.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PREFIX = `t_job_lock_${Date.now()}`;
const NOW = new Date('2026-03-01T00:00:00Z');

/** A job that counts its runs and says it is idle as `idle` says (no `idleAt` when undefined). */
function job(name: string, idle?: boolean): DueWork & { runs: number } {
  const j = {
    name,
    runs: 0,
    runUntil: async () => {
      j.runs++;
    },
    ...(idle === undefined ? {} : { idleAt: async () => idle }),
  };
  return j;
}

describe('a job one process at a time', () => {
  const url = withDatabase(testServerUrl(), PREFIX);
  let db: Kysely<unknown>;
  let close: () => Promise<void>;
  /** Another process's connection, which holds a job's lock while a test asks. */
  let other: pg.Client;
  const holdLock = (name: string) => other.query('select pg_advisory_lock(hashtext($1))', [`stackledger job: ${name}`]);
  const releaseLock = (name: string) =>
    other.query('select pg_advisory_unlock(hashtext($1))', [`stackledger job: ${name}`]);
  /** Whether `p` settled within `ms` of waiting. */
  const settlesWithin = (p: Promise<unknown>, ms: number) =>
    Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

  before(async () => {
    await ensureDatabase(url);
    ({ db, close } = openDatabase<unknown>(url, 4));
    other = new pg.Client({ connectionString: url });
    await other.connect();
  });
  after(async () => {
    await other?.end();
    await close?.();
    await dropDatabases(PREFIX);
  });

  it('waits for the holder when a job has something due, then runs every job in order', async () => {
    const [a, b] = [job('a', false), job('b', true)];
    const both = oneProcessAtATime(db, a, b);
    await holdLock(both.name);
    const running = both.runUntil(NOW);
    assert.equal(await settlesWithin(running, 300), false, 'it ran while another process held the lock');
    assert.deepEqual([a.runs, b.runs], [0, 0]);
    await releaseLock(both.name);
    await running;
    assert.deepEqual([a.runs, b.runs], [1, 1]);
  });

  it('does not wait for the lock, nor run, when every job is idle', async () => {
    const [a, b] = [job('a', true), job('b', true)];
    const both = oneProcessAtATime(db, a, b);
    await holdLock(both.name);
    try {
      assert.equal(await settlesWithin(both.runUntil(NOW), 2000), true, 'it waited for the lock');
      assert.deepEqual([a.runs, b.runs], [0, 0]);
      // Nobody else waits on the lock either: this process never asked for it.
      const waiting = await sql<{ n: number }>`
        select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`.execute(db);
      assert.equal(waiting.rows[0].n, 0);
    } finally {
      await releaseLock(both.name);
    }
  });

  it('treats a job without idleAt as always having something due', async () => {
    const [a, b] = [job('a', true), job('b')];
    const both = oneProcessAtATime(db, a, b);
    await holdLock(both.name);
    const running = both.runUntil(NOW);
    assert.equal(await settlesWithin(running, 300), false);
    await releaseLock(both.name);
    await running;
    assert.deepEqual([a.runs, b.runs], [1, 1]);
  });
});
