import { createHash } from 'node:crypto';
import type { Kysely, PostgresPool, PostgresPoolClient, QueryResult, RawBuilder } from 'kysely';
import type pg from 'pg';

// A statement that a server asks again and again with other values, and that PostgreSQL takes
// long to plan beside its run (a usage page: partitions, CTEs; 1.5 ms of planning for 3.7 of
// execution at 50M records), is prepared once per connection and run on its generic plan, planned
// once without the values. The connections that run these statements are a pool of their own,
// whose sessions take the generic plan from the first run (plan_cache_mode force_generic_plan):
// left to choose (auto), PostgreSQL estimated the page's generic plan dearer at 50M records and
// planned every run for its values, though the generic plan ran as fast. Every other statement
// stays on the main pool, planned for its values. DDL on a statement's tables (a partition
// attached or dropped) makes it plan again. A generic plan is made without the values, so a
// statement is run through here only once its generic plan has been seen to be its custom one (the
// usage page's: the same index walk, checked in usage-page-plans.test). Only those statements are
// prepared: every text would leave a plan on each connection for each shape of a batch insert.

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

/** The session setting of the connections that run prepared statements (see above). */
export const GENERIC_PLANS = '-c plan_cache_mode=force_generic_plan';

/**
 * The pool as Kysely's dialect takes it. A text `executePrepared` named, sent first on a connection
 * Kysely lends (outside a transaction, Kysely lends one per statement; a transaction's first is its
 * `begin`), runs as a named statement on a connection of `generic`, whose sessions keep generic
 * plans; the main pool's connection goes back at once. Every other statement runs on `pool`.
 */
export function preparingPool(pool: pg.Pool, generic: pg.Pool): PostgresPool {
  /** A text as pg sends it: by its name when `executePrepared` named it. */
  const statement = (text: string, values?: unknown[]): pg.QueryConfig => {
    const name = names.get(text);
    return name ? { name, text, values } : { text, values };
  };
  return {
    async connect(): Promise<PostgresPoolClient> {
      let client: pg.PoolClient | undefined = await pool.connect();
      let first = true;
      // pg's query is overloaded (a text and its values, or a cursor Kysely streams through).
      const query = (text: string | pg.Submittable, parameters?: unknown[]) => {
        const alone = first;
        first = false;
        if (typeof text !== 'string') {
          // A cursor after a prepared statement would have no connection of its own.
          if (client === undefined) throw new Error('a cursor after a prepared statement on one connection');
          return client.query(text);
        }
        if (alone && names.has(text)) {
          client!.release();
          client = undefined;
          return generic.query(statement(text, parameters));
        }
        if (client !== undefined) return client.query(statement(text, parameters));
        // A statement after a prepared one on the same lent connection: its own connection of the main pool.
        return pool.connect().then((c) => {
          client = c;
          return c.query(statement(text, parameters));
        });
      };
      return {
        query: query as unknown as PostgresPoolClient['query'],
        release: (destroy?: boolean) => client?.release(destroy),
      };
    },
    end: async () => {
      await Promise.all([pool.end(), generic.end()]);
    },
  };
}
