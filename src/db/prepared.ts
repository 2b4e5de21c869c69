import { createHash } from 'node:crypto';
import type { Kysely, PostgresPool, PostgresPoolClient, QueryResult, RawBuilder } from 'kysely';
import type pg from 'pg';

// A statement that a server asks again and again with other values, and that PostgreSQL takes
// long to plan beside its run (a usage page: partitions, CTEs; 2.6 ms of planning for 7.6 of
// execution), is prepared once per connection. PostgreSQL plans its first five runs for their
// values, then keeps one generic plan when that is estimated no dearer (plan_cache_mode auto); DDL
// on its tables (a partition attached or dropped) makes it plan again. A generic plan is chosen
// without the values, so a statement is run through here only once its generic plan has been seen
// to be its custom one (the usage page's: the same index walk, checked in usage-page-plans.test).
// Only those statements are prepared: every text would leave a plan on each connection for each
// shape of a batch insert.

/** At most this many texts are prepared (a few shapes per page; a bound against a caller's mistake). */
const MAX_PREPARED = 64;
const names = new Map<string, string>();

/** Runs `query` as a statement prepared on its connection (see above). */
export async function executePrepared<R, DB>(db: Kysely<DB>, query: RawBuilder<R>): Promise<QueryResult<R>> {
  const compiled = query.compile(db);
  if (!names.has(compiled.sql) && names.size < MAX_PREPARED)
    names.set(compiled.sql, `sl_${createHash('sha256').update(compiled.sql).digest('hex').slice(0, 32)}`);
  return db.executeQuery(compiled);
}

/** The pool as Kysely's dialect takes it, its clients sending the texts `executePrepared` names as named statements. */
export function preparingPool(pool: pg.Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      // pg's query is overloaded (a text and its values, or a cursor Kysely streams through).
      const query = (text: string | pg.Submittable, parameters?: unknown[]) => {
        const name = typeof text === 'string' ? names.get(text) : undefined;
        if (name) return client.query({ name, text: text as string, values: parameters });
        return typeof text === 'string' ? client.query(text, parameters) : client.query(text);
      };
      return {
        query: query as unknown as PostgresPoolClient['query'],
        release: (destroy?: boolean) => client.release(destroy),
      };
    },
    end: () => pool.end(),
  };
}
