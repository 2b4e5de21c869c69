// A second connection on a transaction's snapshot (`withSnapshotTwin`, which exports read ahead
// on), against a real PostgreSQL server: it sees what the transaction sees, not what was committed
// since, however much later it starts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withSnapshotTwin } from '../src/db/database.ts';
import { scratchDatabase } from './helpers/scratch-database.ts';

const PREFIX = `t_snapshot_twin_${Date.now()}`;

describe("a connection on a transaction's snapshot", () => {
  const scratch = scratchDatabase(
    PREFIX,
    `create table names (id int primary key, name text not null); insert into names values (1, 'first')`,
  );

  it('reads as the transaction does, beside it, and is gone at the end', async () => {
    const pool = scratch.pool();
    const client = await pool.connect();
    try {
      await client.query('begin transaction isolation level repeatable read, read only');
      assert.equal((await client.query('select name from names where id = 1')).rows[0].name, 'first');
      // Committed after the transaction's snapshot, before the twin starts.
      await pool.query(`update names set name = 'renamed' where id = 1; insert into names values (2, 'new')`);
      const seen = await withSnapshotTwin(pool, client, async (twin) => {
        const [twins, own] = await Promise.all([
          twin.query('select pid from pg_stat_activity where pid = pg_backend_pid()'),
          client.query('select pg_backend_pid() as pid'),
        ]);
        assert.notEqual(twins.rows[0].pid, own.rows[0].pid, 'another connection');
        return (await twin.query('select id, name from names order by id')).rows;
      });
      assert.deepEqual(seen, [{ id: 1, name: 'first' }]);
      await client.query('commit');
    } finally {
      client.release();
    }
    assert.deepEqual(
      (await pool.query('select name from names order by id')).rows.map((r) => r.name),
      ['renamed', 'new'],
    );
    // Its connection was its own, and is closed (its server process may take a moment to go).
    let others = Infinity;
    for (let tries = 0; tries < 40 && others > 1; tries++) {
      if (tries > 0) await new Promise((r) => setTimeout(r, 50));
      const r = await pool.query(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`,
      );
      others = r.rows[0].n;
    }
    assert.ok(others <= 1, `${others} other connections: the pool's other one, and no more`);
  });
});
