// A COPY started ahead of its reading (`copyTextRows`, which exports use to have the next range's
// lines on their way while one range is written), against a real PostgreSQL server: it is sent at
// once, its rows come whole when read, and a failure that comes before its reading fails the
// reading, not the process.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { copyTextRows } from '../src/db/copy-text-rows.ts';
import { scratchDatabase } from './helpers/scratch-database.ts';

const PREFIX = `t_copy_ahead_${Date.now()}`;

/** The server's state of a connection, by its process id. */
async function stateOf(pool: ReturnType<ReturnType<typeof scratchDatabase>['pool']>, pid: number) {
  const r = await pool.query('select state, query from pg_stat_activity where pid = $1', [pid]);
  return r.rows[0] as { state: string; query: string };
}

describe('a COPY started ahead of its reading', () => {
  // Two connections for the COPYs, a third to watch them.
  const scratch = scratchDatabase(PREFIX, 'select 1', 3);

  it('is sent at once, answers whole when read, and fails its reading when it fails before', async () => {
    const pool = scratch.pool();
    const [ahead, failing] = [await pool.connect(), await pool.connect()];
    try {
      const pids = await Promise.all(
        [ahead, failing].map(async (c) => (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number),
      );
      // ~60 MB: more than any socket's buffers hold, so the server is still sending when looked at.
      const rows = copyTextRows(ahead, 'select g::text, md5(g::text) from generate_series(1, 1000000) g', [true, true]);
      const failed = copyTextRows(failing, 'select (1 / (g - 3))::text from generate_series(1, 5) g');
      // Before either is read: the first is running (its rows fill the connection), the second has
      // failed (division by zero at its third row) and its connection is idle again.
      for (let tries = 0; tries < 100 && (await stateOf(pool, pids[1]!)).state !== 'idle'; tries++)
        await new Promise((r) => setTimeout(r, 20));
      const first = await stateOf(pool, pids[0]!);
      assert.equal(first.state, 'active');
      assert.match(first.query, /^copy \(select g::text/);
      assert.equal((await stateOf(pool, pids[1]!)).state, 'idle');
      await new Promise((r) => setTimeout(r, 100)); // its error reaches this process, unread

      let count = 0;
      let last: (string | null)[] | undefined;
      for await (const batch of rows) {
        count += batch.length;
        last = batch.at(-1);
      }
      assert.equal(count, 1000000);
      assert.deepEqual(last, ['1000000', createHash('md5').update('1000000').digest('hex')]);
      await assert.rejects(async () => {
        for await (const _ of failed);
      }, /division by zero/);
      // Both connections are fit for use after.
      assert.equal((await ahead.query('select 1 as one')).rows[0].one, 1);
      assert.equal((await failing.query('select 1 as one')).rows[0].one, 1);
    } finally {
      ahead.release();
      failing.release();
    }
  });

  it('leaves the process running when its connection closes before it is read', async () => {
    // As an export that fails midway closes its second connection with the next range's COPY sent.
    const pool = scratch.pool();
    const client = new pg.Client(pool.options);
    client.on('error', () => {});
    await client.connect();
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const unread = copyTextRows(client, 'select g::text from generate_series(1, 2000000) g');
    for (let tries = 0; tries < 100 && (await stateOf(pool, pid)).state !== 'active'; tries++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal((await stateOf(pool, pid)).state, 'active');
    await client.end();
    await new Promise((r) => setTimeout(r, 200)); // the connection's end reaches the COPY, unread
    await assert.rejects(async () => {
      for await (const _ of unread);
    }, /Connection terminated/);
    assert.equal((await pool.query('select 1 as one')).rows[0].one, 1);
  });
});
