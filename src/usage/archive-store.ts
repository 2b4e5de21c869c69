import { type Kysely, sql } from 'kysely';
import type pg from 'pg';
import type { UsageArchivesTable, UsageTables } from './tables.ts';
import { transaction } from '../db/transactions.ts';
import { afterKey, keyOrder, keyset, type Cursor } from '../core/paging.ts';

// The SQL of usage's monthly partitions and archives: which months have partitions, creating a
// month's (the plpgsql `usage_create_month` of migrations 0507 and 0564), and taking an archived month out.

type Db = Kysely<UsageTables>;

/** PostgreSQL's lock_not_available (a lock_timeout ran out). */
const LOCK_NOT_AVAILABLE = '55P03';

/** A month as its first day, 'YYYY-MM-DD'. */
export type MonthStart = string;

/** The partitions' names of a month: the tables' names and the month, `_YYYY_MM`. */
export const partitionsOf = (month: MonthStart) => {
  const suffix = month.slice(0, 7).replace('-', '_');
  return {
    received: `usage_received_${suffix}`,
    attributed: `usage_attributed_${suffix}`,
    /** The month's usage hours, as SQL on `hour` (`month` is a first day, 'YYYY-MM-DD', never a caller's text). */
    hours: `hour >= '${month}'::timestamp at time zone 'UTC' and hour < ('${month}'::date + interval '1 month')::timestamp at time zone 'UTC'`,
  };
};

export type ArchiveRow = UsageArchivesTable;

/** A usage month as an advisory lock's second key: YYYYMM of its UTC month. */
const monthKey = (t: Date) => t.getUTCFullYear() * 100 + t.getUTCMonth() + 1;

/** The advisory locks of usage months: one class, the month (YYYYMM) its second key. */
const MONTH_LOCK_CLASS = `hashtext('stackledger: usage month')`;

/** Takes the locks of these months (see `holdMonthsSql`), in one order. */
const monthLock = (mode: 'shared' | 'exclusive', keys: number[]) =>
  `select pg_advisory_xact_lock${mode === 'shared' ? '_shared' : ''}(${MONTH_LOCK_CLASS}, k)
   from unnest('{${keys.join(',')}}'::int[]) k order by k`;

const ARCHIVED_UNTIL = `select (max(month) + interval '1 month')::timestamp at time zone 'UTC' as until from usage_archives`;

/**
 * Writers of a month's records and its archive meet on the month's advisory lock: a batch holds
 * the months of its hours shared until it commits, the archive holds its month alone. Where
 * archived usage ends is then read in a statement of its own (a fresh snapshot, after the lock),
 * so a batch cannot read it before an archive commits and store records of the archived month
 * after (into the default partition, never billed). Answers the statements' text; the months
 * are numbers made here, never a caller's text. `partition` answers the name of the
 * usage_received partition of the one month all the hours are in, or null (hours of several
 * months, or a month without a partition, whose records go to the default one); read after the
 * lock, it holds until commit, since the archive drops a month's partition only under its lock.
 */
export function holdMonthsSql(hours: readonly Date[]): { hold: string; archivedUntil: string; partition: string } {
  const keys = [...new Set(hours.map(monthKey))];
  const { received } = keys.length === 1 ? partitionsOf(`${hours[0].toISOString().slice(0, 7)}-01`) : {};
  const partition = received
    ? `select to_regclass('${received}')::text as partition`
    : 'select null::text as partition';
  return { hold: monthLock('shared', keys), archivedUntil: ARCHIVED_UNTIL, partition };
}

/** The positions of records of archived months: an hour before where archived usage ends. */
export function archivedRecords(hours: readonly Date[], archivedUntil: Date | undefined): number[] {
  if (!archivedUntil) return [];
  const until = archivedUntil.getTime();
  return hours.flatMap((hour, i) => (hour.getTime() < until ? [i] : []));
}

/** One row per attribution (`usage_attributions`: a record's first has no id of its own), with its record: what an archive file holds. */
export const ARCHIVE_COLUMNS = `r.id as record_id, r.source, r.cloud_id, r.registration_id, r.resource_id, r.resource_uri, r.meter_id,
  r.hour, r.revision, r.quantity as record_quantity, r.stack_subscription_id, r.tenant_id, r.location, r.tags, r.received_at, r.batch_id,
  a.id as attribution_id, a.billed_subscription_id, a.link_id, a.reason, a.quantity, a.attributed_at, a.reattribution_id`;

const ARCHIVE_ROW =
  sql.raw(`to_char(month, 'YYYY-MM') as month, file, name, records::text, attributions::text, quantities, sha256,
  archived_at, archived_by, first_reported_at, last_reported_at`);

/**
 * GET usage/archives, oldest month first. The month as a UTC instant, exact in any session time
 * zone (a date compared with a timestamptz is not); one row a month, so no index need match.
 */
export const ARCHIVE_ORDER = keyset(
  'usageArchives',
  [[sql`(month::timestamp at time zone 'UTC')`, 'time']],
  (a: ArchiveRow) => [new Date(`${a.month}-01T00:00:00.000Z`)],
);

export const archiveStore = {
  /** Creates a month's partitions if missing (moving its rows out of the default ones); answers whether it did. */
  async createMonth(db: Db, month: MonthStart): Promise<boolean> {
    const r = await sql<{ created: boolean }>`select usage_create_month(${month}::date) as created`.execute(db);
    return r.rows[0].created;
  },

  /**
   * As `createMonth`, but gives up (answering 'busy') when a table lock is not had within
   * `waitMs`: creating a partition locks the parent table, which a transaction left open by a
   * writer holds; a job does not wait for it (the month is tried again at the next run).
   */
  async createMonthUnlessBusy(db: Db, month: MonthStart, waitMs: number): Promise<boolean | 'busy'> {
    try {
      return await transaction(db, async (trx) => {
        await sql`select set_config('lock_timeout', ${`${waitMs}ms`}, true)`.execute(trx);
        return archiveStore.createMonth(trx, month);
      });
    } catch (e) {
      if ((e as { code?: unknown }).code === LOCK_NOT_AVAILABLE) return 'busy';
      throw e;
    }
  },

  /**
   * The months before `before` that still hold usage: with partitions of their own, or with
   * counted records (in the default partitions) and not archived.
   */
  async monthsBefore(db: Db, before: MonthStart): Promise<MonthStart[]> {
    const r = await sql<{ month: string }>`
      select to_char(to_date(substr(c.relname, length('usage_received_') + 1), 'YYYY_MM'), 'YYYY-MM-DD') as month
      from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'usage_received'::regclass and c.relname ~ '^usage_received_[0-9]{4}_[0-9]{2}$'
        and to_date(substr(c.relname, length('usage_received_') + 1), 'YYYY_MM') < ${before}::date
      union
      select to_char(month, 'YYYY-MM-DD') from usage_counters
      where month < ${before}::date and month not in (select month from usage_archives)
      order by 1`.execute(db);
    return r.rows.map((x) => x.month);
  },

  /** A page of the archives (ARCHIVE_ORDER). */
  async page(db: Db, cursor: Cursor): Promise<ArchiveRow[]> {
    const r = await sql<ArchiveRow>`
      select ${ARCHIVE_ROW} from usage_archives
      where ${afterKey(ARCHIVE_ORDER, cursor.after)}
      order by ${keyOrder(ARCHIVE_ORDER)} limit ${cursor.limit + 1}`.execute(db);
    return r.rows;
  },

  async list(db: Db): Promise<ArchiveRow[]> {
    const r = await sql<ArchiveRow>`
      select ${ARCHIVE_ROW}
      from usage_archives order by month`.execute(db);
    return r.rows;
  },

  /**
   * The archives that a range of usage hours [from, to) reaches (by their months), or a range of
   * reported times (by when their records were received or attributed; by their months for
   * archives that did not keep it).
   */
  async overlapping(db: Db, range: { from: Date; to: Date; by: 'hour' | 'reported' }): Promise<ArchiveRow[]> {
    const { from, to } = range;
    const byMonth = sql`(month::timestamp at time zone 'UTC') < ${to}::timestamptz
      and ((month + interval '1 month')::timestamp at time zone 'UTC') > ${from}::timestamptz`;
    const reaches =
      range.by === 'hour'
        ? byMonth
        : sql`case when first_reported_at is null then ${byMonth}
                   else first_reported_at < ${to}::timestamptz and last_reported_at >= ${from}::timestamptz end`;
    const r = await sql<ArchiveRow>`select ${ARCHIVE_ROW} from usage_archives where ${reaches} order by month`.execute(
      db,
    );
    return r.rows;
  },

  /**
   * In a re-attribution's transaction: holds the months of [from, to) that hold usage (counted
   * records), as a batch holds its own, so none of them is archived while it writes.
   */
  async holdMonthsBetween(db: Db, from: Date, to: Date): Promise<void> {
    await sql`
      select pg_advisory_xact_lock_shared(${sql.raw(MONTH_LOCK_CLASS)}, (extract(year from m) * 100 + extract(month from m))::int)
      from (select m from generate_series(
              greatest(date_trunc('month', ${from}::timestamptz at time zone 'UTC'), (select min(month) from usage_counters)),
              least(${to}::timestamptz at time zone 'UTC', (select max(month) from usage_counters)),
              interval '1 month') m
            order by m) months`.execute(db);
  },

  /**
   * In a batch's transaction: holds the months of its hours (`holdMonthsSql`), then answers where
   * archived usage ends (undefined when nothing is archived).
   */
  async holdMonths(db: Db, hours: readonly Date[]): Promise<Date | undefined> {
    const q = holdMonthsSql(hours);
    await sql.raw(q.hold).execute(db);
    const r = await sql.raw<{ until: Date | null }>(q.archivedUntil).execute(db);
    return r.rows[0].until ?? undefined;
  },
};

/**
 * The statements of one month's archive on the archiving transaction's client (COPY needs a pg
 * client of its own): holding the month against its writers, copying and counting it, and taking
 * it out.
 */
export const archiveClientSql = {
  /**
   * The month alone: no record or attribution of it commits while it is archived (reads go on);
   * batches and re-attributions of it wait, then find it archived (`holdMonthsSql`).
   */
  holdMonth: (month: MonthStart) => monthLock('exclusive', [monthKey(new Date(`${month}T00:00:00Z`))]),

  copy: (p: ReturnType<typeof partitionsOf>) =>
    `copy (select ${ARCHIVE_COLUMNS} from (select * from usage_attributions where ${p.hours}) a
      join ${p.received} r on r.source = a.source and r.hour = a.hour and r.id = a.received_id order by r.hour, r.source, r.id, a.id nulls first) to stdout with (format csv, header)`,

  async totals(client: pg.PoolClient, p: ReturnType<typeof partitionsOf>) {
    // An attribution's time is its record's received time for the first, its own for the others.
    const counts = await client.query<{
      records: string;
      attributions: string;
      first_reported_at: Date | null;
      last_reported_at: Date | null;
    }>(
      `select (select count(*) from ${p.received})::text as records, a.*
       from (select count(*)::text as attributions, min(attributed_at) as first_reported_at, max(attributed_at) as last_reported_at
             from usage_attributions where ${p.hours}) a`,
    );
    const perMeter = await client.query<{ meter_id: string; quantity: string }>(
      `select meter_id::text, sum(quantity)::text as quantity from usage_attributions where ${p.hours} group by meter_id order by meter_id`,
    );
    return {
      ...counts.rows[0],
      quantities: Object.fromEntries(perMeter.rows.map((m) => [m.meter_id, m.quantity])),
    };
  },

  /** Records the archive, then drops the month: its partitions, its daily aggregates and counters. */
  async takeOut(
    client: pg.PoolClient,
    p: ReturnType<typeof partitionsOf>,
    archive: Omit<ArchiveRow, 'month'> & { month: MonthStart },
  ) {
    await client.query(
      `insert into usage_archives (month, file, name, records, attributions, quantities, sha256, archived_at, archived_by,
         first_reported_at, last_reported_at)
       values ($1::date, $2, $3, $4::bigint, $5::bigint, $6::jsonb, $7, $8, $9, $10, $11)`,
      [
        archive.month,
        archive.file,
        archive.name,
        archive.records,
        archive.attributions,
        JSON.stringify(archive.quantities),
        archive.sha256,
        archive.archived_at,
        archive.archived_by,
        archive.first_reported_at,
        archive.last_reported_at,
      ],
    );
    await client.query(
      `delete from usage_daily where usage_date >= $1::date and usage_date < ($1::date + interval '1 month')::date`,
      [archive.month],
    );
    await client.query('delete from usage_counters where month = $1::date', [archive.month]);
    // Attributions first: nothing refers to them.
    await client.query(`drop table ${p.attributed}`);
    await client.query(`drop table ${p.received}`);
  },
};
