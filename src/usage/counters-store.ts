import { type Kysely, sql } from 'kysely';
import type { UsageTables } from './tables.ts';

// The counters that statement triggers keep per source and usage month (migration 0507): what
// status and the ledger's whole check read, never a count over the usage tables.

export interface UsageCounts {
  records: string;
  received: string;
  attributed: string;
  conflicts: string;
  refusals: string;
}

export const countersStore = {
  /** The totals over every month still in the database. */
  async totals(db: Kysely<UsageTables>): Promise<UsageCounts> {
    const r = await sql<UsageCounts>`
      select coalesce(sum(records), 0)::text as records, coalesce(sum(received), 0)::text as received,
             coalesce(sum(attributed), 0)::text as attributed, coalesce(sum(conflicts), 0)::text as conflicts,
             coalesce(sum(refusals), 0)::text as refusals
      from usage_counters`.execute(db);
    return r.rows[0];
  },

  /** The months (first days) in which some source's received and attributed sums differ: where to look closer. */
  async unbalancedMonths(db: Kysely<UsageTables>): Promise<Date[]> {
    const r = await sql<{ month: Date }>`
      select distinct month::timestamp at time zone 'UTC' as month from usage_counters where received <> attributed order by 1`.execute(
      db,
    );
    return r.rows.map((x) => x.month);
  },

  /** Per source and month: for tests and operators comparing the counters with a recount. */
  async all(db: Kysely<UsageTables>) {
    const r = await sql<UsageCounts & { source: string; month: string }>`
      select source, to_char(month, 'YYYY-MM') as month, records::text, received::text, attributed::text, conflicts::text, refusals::text
      from usage_counters order by source, month`.execute(db);
    return r.rows;
  },
};
