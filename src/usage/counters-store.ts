import { type Kysely, sql } from 'kysely';
import type { UsageTables } from './tables.ts';

// The counters that statement triggers append per source and usage month (migration 0507): what
// status and the ledger's whole check read, never a count over the usage tables. Each writing
// statement adds rows of its own; `compact` sums them up, so that reading stays small. The same
// for the hours received per source and day (0561), which usage pages read.

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
      select distinct month::timestamp at time zone 'UTC' as month from usage_counters
      group by source, month having sum(received) <> sum(attributed) order by 1`.execute(db);
    return r.rows.map((x) => x.month);
  },

  /** Per source and month: for tests and operators comparing the counters with a recount. */
  async all(db: Kysely<UsageTables>) {
    const r = await sql<UsageCounts & { source: string; month: string }>`
      select source, to_char(month, 'YYYY-MM') as month, sum(records)::text as records, sum(received)::text as received,
             sum(attributed)::text as attributed, sum(conflicts)::text as conflicts, sum(refusals)::text as refusals
      from usage_counters group by source, month order by source, month`.execute(db);
    return r.rows;
  },

  /**
   * Sums the rows of each source and month into one, in one statement: the rows of transactions
   * still open are not seen, and stay for the next time.
   */
  async compact(db: Kysely<UsageTables>): Promise<void> {
    await sql`
      with gone as (delete from usage_counters returning *)
      insert into usage_counters (source, month, records, received, attributed, conflicts, refusals)
      select source, month, sum(records), sum(received), sum(attributed), sum(conflicts), sum(refusals)
      from gone group by source, month`.execute(db);
    // The hours each source's records received on a day have (usage pages bound their walk by them).
    await sql`
      with gone as (delete from usage_received_days returning *)
      insert into usage_received_days (source, received_day, min_hour, max_hour)
      select source, received_day, min(min_hour), max(max_hour) from gone group by source, received_day`.execute(db);
  },
};
