import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely, Transaction } from 'kysely';

// Every transaction a use case opens goes through `transaction`: one that lost a race with
// another (PostgreSQL chose it as a deadlock's victim, or refused it a serializable snapshot) is
// rolled back and run again, so that two requests at the same moment answer as they would one
// after the other, never with a 500. The work must be the transaction's alone (its statements),
// which is what every use case's is: nothing outside the database happens inside it.

/** deadlock_detected and serialization_failure: the transaction was rolled back and may simply run again. */
const LOST_RACE = new Set(['40P01', '40001']);

/** Runs in all: the first and three more, each after a short random pause that grows. */
export const TRANSACTION_ATTEMPTS = 4;

/** Whether an error is a transaction's lost race (SQLSTATE 40P01 or 40001). */
export const lostRace = (e: unknown): boolean => LOST_RACE.has(String((e as { code?: unknown })?.code));

/**
 * Runs `work` in a new transaction, again when it loses a race (up to TRANSACTION_ATTEMPTS runs in
 * all). The transaction is typed as `db` is (a context's database is often several domains' views
 * of it at once), which it is: a transaction is a Kysely on the same tables.
 */
// biome-ignore lint/suspicious/noExplicitAny: any database's tables.
export async function transaction<D extends Kysely<any>, T>(db: D, work: (trx: D) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute((trx: Transaction<unknown>) => work(trx as unknown as D));
    } catch (e) {
      if (attempt >= TRANSACTION_ATTEMPTS || !lostRace(e)) throw e;
      // Apart, so that the two do not meet in the same place again.
      await sleep(Math.random() * 10 * 2 ** attempt);
    }
  }
}
