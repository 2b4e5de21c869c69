// A transaction that loses a race (PostgreSQL's deadlock victim) runs again instead of failing the
// request: two transactions that lock the same two rows in opposite orders both complete, each
// once, while plain Kysely transactions doing the same fail one of them with 40P01.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { ensureDatabase, openDatabase, withDatabase } from '../src/db/database.ts';
import { lostRace, transaction } from '../src/db/transactions.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PREFIX = `t_transactions_${Date.now()}`;

type Db = Kysely<{ pair: { id: number; v: number } }>;

/** A gate both sides pass only once both have reached it (each side's first run only). */
function gate(parties: number) {
  let arrived = 0;
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return async () => {
    arrived++;
    if (arrived === parties) open();
    await opened;
  };
}

describe('transactions that lose a race', () => {
  const url = withDatabase(testServerUrl(), PREFIX);
  let db: Db;
  let close: () => Promise<void>;

  before(async () => {
    await ensureDatabase(url);
    ({ db, close } = openDatabase(url, 4) as unknown as { db: Db; close: () => Promise<void> });
    await sql`create table pair (id int primary key, v int not null)`.execute(db);
  });
  after(async () => {
    await close?.();
    await dropDatabases(PREFIX);
  });

  /** Two transactions locking rows 1 and 2 in opposite orders, each past the gate after its first lock. */
  async function crossed(run: (work: (trx: Db) => Promise<void>) => Promise<void>) {
    await sql`truncate pair; insert into pair values (1, 0), (2, 0)`.execute(db);
    const both = gate(2);
    let runs = 0;
    const side = (first: number, second: number) => {
      let gated = false;
      return run(async (trx) => {
        runs++;
        await sql`update pair set v = v + 1 where id = ${first}`.execute(trx);
        if (!gated) {
          gated = true;
          await both();
        }
        await sql`update pair set v = v + 1 where id = ${second}`.execute(trx);
      });
    };
    const outcomes = await Promise.allSettled([side(1, 2), side(2, 1)]);
    const rows = (await sql<{ v: number }>`select v from pair order by id`.execute(db)).rows.map((r) => r.v);
    return { outcomes, rows, runs };
  }

  it('fails one of two crossed plain transactions with a deadlock (the fault happens)', async () => {
    const { outcomes, rows } = await crossed((work) => db.transaction().execute(work));
    const failed = outcomes.filter((o) => o.status === 'rejected');
    assert.equal(failed.length, 1);
    assert.ok(lostRace((failed[0] as PromiseRejectedResult).reason));
    assert.deepEqual(rows, [1, 1], 'only the survivor wrote');
  });

  it('runs the deadlock victim again: both complete, each written once', async () => {
    const { outcomes, rows, runs } = await crossed((work) => transaction(db, work));
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled'],
    );
    assert.deepEqual(rows, [2, 2]);
    assert.equal(runs, 3, 'the victim ran twice, the other once');
  });

  it('does not run again what failed for another reason', async () => {
    let runs = 0;
    await assert.rejects(
      transaction(db, async (trx) => {
        runs++;
        await sql`insert into pair values (1, 0)`.execute(trx);
      }),
      (e: { code?: string }) => e.code === '23505',
    );
    assert.equal(runs, 1);
  });
});
