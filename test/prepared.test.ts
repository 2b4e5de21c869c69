// Statements prepared once per connection (src/db/prepared.ts): those `executePrepared` runs are
// named on connections of their own, which take the generic plan from the first run, and others
// are neither named nor planned generically; a partition attached or dropped after the plan was
// made is seen by the next run; a run whose values fail leaves the statement usable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.ts';
import { executePrepared } from '../src/db/prepared.ts';
import { scratchDatabase } from './helpers/scratch-database.ts';

const PREFIX = `prepared_${process.pid}`;

describe('statements prepared on their connection', () => {
  // One connection: what one run prepared, the next finds on the same session.
  const scratch = scratchDatabase(
    PREFIX,
    `create table events (month date not null, n int not null) partition by range (month);
     create table events_2026_05 partition of events for values from ('2026-05-01') to ('2026-06-01');
     insert into events values ('2026-05-01', 1), ('2026-05-02', 2);`,
    1,
  );
  const sumFrom = (from: string) =>
    sql<{ total: number | null }>`select sum(n)::int as total from events where month >= ${from}::date`;
  // Read on the prepared statements' own connection (one, for a pool of one), leaving out this read.
  const prepared = async () =>
    (
      await executePrepared(
        scratch.db(),
        sql<{ name: string; statement: string; generic_plans: string; custom_plans: string }>`
          select name, statement, generic_plans::text, custom_plans::text from pg_prepared_statements
          where statement not like '%pg_prepared_statements%'`,
      )
    ).rows;

  it('names the statements it runs, and only those, and runs them on their generic plan from the first', async () => {
    const db = scratch.db();
    for (let run = 0; run < 7; run++) assert.equal((await executePrepared(db, sumFrom('2026-05-01'))).rows[0].total, 3);
    await sumFrom('2026-05-02').execute(db); // the same text, not through executePrepared: still prepared (its text is named)
    await sql`select count(*) from events`.execute(db);
    const statements = await prepared();
    assert.equal(statements.length, 1, JSON.stringify(statements));
    const [s] = statements;
    assert.match(s.name, /^sl_[0-9a-f]{32}$/);
    assert.equal(s.statement, sumFrom('2026-05-01').compile(db).sql);
    assert.equal(s.custom_plans, '0');
    assert.equal(s.generic_plans, '8', JSON.stringify(s));
  });

  it('answers for partitions attached and dropped after its plan was made', async () => {
    const db = scratch.db();
    await sql`create table events_2026_06 partition of events for values from ('2026-06-01') to ('2026-07-01')`.execute(
      db,
    );
    await sql`insert into events values ('2026-06-01', 10)`.execute(db);
    assert.equal((await executePrepared(db, sumFrom('2026-05-01'))).rows[0].total, 13);
    await sql`drop table events_2026_05`.execute(db);
    assert.equal((await executePrepared(db, sumFrom('2026-05-01'))).rows[0].total, 10);
    assert.equal((await executePrepared(db, sumFrom('2026-07-01'))).rows[0].total, null);
    assert.equal((await prepared()).length, 1);
  });

  it('stays usable after a run whose values are refused', async () => {
    const db = scratch.db();
    await assert.rejects(executePrepared(db, sumFrom('not a date')), (e: { code?: string }) => e.code === '22007');
    assert.equal((await executePrepared(db, sumFrom('2026-06-01'))).rows[0].total, 10);
  });

  it('plans every other statement for its values, on connections of their own', async () => {
    const db = scratch.db();
    const mode = sql<{
      mode: string;
      pid: number;
    }>`select current_setting('plan_cache_mode') as mode, pg_backend_pid() as pid`;
    const [named] = (await executePrepared(db, mode)).rows;
    const [plain] = (await mode.execute(db)).rows;
    const [other] = (
      await sql<{ mode: string }>`select current_setting('plan_cache_mode') as mode, ${1}::int as n`.execute(db)
    ).rows;
    assert.equal(named.mode, 'force_generic_plan');
    // The same text run plainly is named too (by its text), so it goes where named texts go.
    assert.equal(plain.mode, 'force_generic_plan');
    assert.equal(other.mode, 'auto');
    // On one lent connection, a statement after a prepared one is planned for its values.
    await db.connection().execute(async (conn) => {
      assert.equal((await executePrepared(conn, mode)).rows[0].mode, 'force_generic_plan');
      const [after] = (await sql<{ mode: string }>`select current_setting('plan_cache_mode') as mode`.execute(conn))
        .rows;
      assert.equal(after.mode, 'auto');
    });
    // In a transaction, a named text runs on the transaction's connection, planned as PostgreSQL chooses.
    await db.transaction().execute(async (tx) => {
      const [inTx] = (await executePrepared(tx, mode)).rows;
      assert.equal(inTx.mode, 'auto');
      const [txPid] = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx)).rows;
      assert.equal(inTx.pid, txPid.pid);
    });
  });

  it('keeps the session settings a URL names beside the generic plans', async () => {
    const url = new URL(String(scratch.pool().options.connectionString));
    url.searchParams.set('options', '-c statement_timeout=4321');
    const other = openDatabase(url.toString(), 2);
    try {
      const settings = sql<{ mode: string; timeout: string }>`
        select current_setting('plan_cache_mode') as mode, current_setting('statement_timeout') as timeout`;
      assert.deepEqual(
        { ...(await executePrepared(other.db, settings)).rows[0] },
        { mode: 'force_generic_plan', timeout: '4321ms' },
      );
      const [plain] = (
        await sql<{ mode: string; timeout: string }>`
          select current_setting('plan_cache_mode') as mode, current_setting('statement_timeout') as timeout, ${1}::int as n`.execute(
          other.db,
        )
      ).rows;
      assert.deepEqual([plain.mode, plain.timeout], ['auto', '4321ms']);
    } finally {
      await other.close();
    }
  });
});
