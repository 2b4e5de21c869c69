import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, PostgresDialect, type QueryExecutorProvider, sql } from 'kysely';
import type pg from 'pg';
import type { SettingsTable } from '../../arm/tables.ts';
import { armError } from '../../core/errors.ts';
import { copyOutToGzipFile, setLocal } from '../../db/database.ts';
import { meteringStore, type MeteringDb } from './store.ts';
import type { MeteringTables, OutboxArchivesTable } from './tables.ts';

// The outbox by month: partitions made ahead of the clock, and the archive of delivered months.
// A month is archived when the hub has all of it: its records go to a gzip CSV in the stack's data
// folder, the archive is recorded, and the month's partition is detached and dropped, in one
// transaction under the closing lock (no hour closes, and no late report lands, meanwhile).

/** Partitions are made for the current month and this many after it. */
const MONTHS_AHEAD = 2;

const monthStart = (year: number, month: number) => new Date(Date.UTC(year, month, 1));
const nextMonth = (m: Date) => monthStart(m.getUTCFullYear(), m.getUTCMonth() + 1);
/** A month as the API writes it: YYYY-MM. */
export const monthLabel = (m: Date) => m.toISOString().slice(0, 7);

/**
 * Makes the partitions of the current month and the next ones (idempotent; moves rows out of
 * DEFAULT). `made`: the months this process has made or found made, asked no more (the archive
 * drops only closed months before the clock's, so a month found here stays).
 */
export async function ensureUsagePartitions(db: MeteringDb, now: Date, made = new Set<string>()): Promise<void> {
  for (let i = 0; i <= MONTHS_AHEAD; i++) {
    const month = monthStart(now.getUTCFullYear(), now.getUTCMonth() + i);
    if (made.has(monthLabel(month))) continue;
    await sql`select ensure_usage_month(${month}::timestamptz)`.execute(db);
    made.add(monthLabel(month));
  }
}

export interface UsageArchive {
  month: string;
  file: string;
  rows: number;
  sha256: string;
  archivedAt: string;
}

const archiveView = (a: OutboxArchivesTable): UsageArchive => ({
  month: monthLabel(a.month),
  file: a.file,
  rows: Number(a.rows),
  sha256: a.sha256,
  archivedAt: a.archived_at.toISOString(),
});

/**
 * 410 UsageArchived when a range of usage hours, or of reported times, reaches an archived month.
 * On any database of the stack (chargeback's too): the archives are read by raw SQL.
 */
export async function refuseArchived(
  db: QueryExecutorProvider,
  range: { from: Date; to: Date; by: 'hour' | 'reported' },
): Promise<void> {
  const { from, to } = range;
  const overlaps =
    range.by === 'hour'
      ? sql`month < ${to}::timestamptz and month + interval '1 month' > ${from}::timestamptz`
      : sql`first_reported_at < ${to}::timestamptz and last_reported_at >= ${from}::timestamptz`;
  const archive = (
    await sql<OutboxArchivesTable>`select * from outbox_archives where ${overlaps} order by month limit 1`.execute(db)
  ).rows[0];
  // Tenants ask too: the archive's name, not where the stack keeps it nor what else it holds.
  if (archive)
    throw armError(
      'UsageArchived',
      `The usage of ${monthLabel(archive.month)} was archived by the operator (${path.basename(archive.file)}); it is no longer answered here.`,
    );
}

/** 400 unless `text` is a month, YYYY-MM. */
export function parseMonth(text: unknown, target: string): Date {
  const m = typeof text === 'string' ? /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text) : null;
  if (!m) throw armError('InvalidParameter', `'${String(text)}' is not a month (YYYY-MM).`, target);
  return monthStart(Number(m[1]), Number(m[2]) - 1);
}

/** Why a month cannot be archived yet, or undefined when it can (in the archiving transaction). */
async function refusal(db: MeteringDb, quarantine: ArchiveQuarantine, month: Date): Promise<string | undefined> {
  const end = nextMonth(month);
  const closed = await meteringStore.closedUntil(db);
  if (!closed || closed < end) return 'not all of its hours are closed yet';
  const dirty = await db
    .selectFrom('metering_dirty_hours')
    .select('hour')
    .where('hour', '>=', month)
    .where('hour', '<', end)
    .executeTakeFirst();
  if (dirty) return `its hour ${dirty.hour.toISOString()} is to be closed again (a late report)`;
  const q = await quarantine.pending(db, month, end);
  if (q.held > 0) return `${q.held} of its records are held in the bridge's quarantine`;
  if (q.dropped > 0) return `${q.dropped} of its records were dropped from the bridge's quarantine and never delivered`;
  const counts = await db
    .selectFrom('usage_record_counts')
    .select('undelivered')
    .where('month', '=', month)
    .executeTakeFirst();
  if (counts && Number(counts.undelivered) > 0)
    return `${counts.undelivered} of its records are not yet acknowledged by the hub`;
  return undefined;
}

/** A Kysely over one connection, kept open: the archive's SQL and its COPY run in one transaction. */
function onConnection(client: pg.PoolClient): MeteringDb {
  const connection = { query: client.query.bind(client), release: () => {} };
  return new Kysely<MeteringTables & { settings: SettingsTable }>({
    dialect: new PostgresDialect({ pool: { connect: async () => connection, end: async () => {} } }),
  });
}

const FIRST = 'stackledger.archive_from';
const NEXT = 'stackledger.archive_to';
const MONTH_RECORDS = `select resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri,
  location, tags, reported_at, delivered_at from usage_records
  where hour >= current_setting('${FIRST}')::timestamptz and hour < current_setting('${NEXT}')::timestamptz
  order by hour, resource_id, meter_id, revision`;

/** Writes the month's records as a gzip CSV to `file` (through a temporary name); answers rows and sha256. */
async function writeMonth(client: pg.PoolClient, month: Date, file: string): Promise<{ rows: number; sha256: string }> {
  await setLocal(client, { [FIRST]: month.toISOString(), [NEXT]: nextMonth(month).toISOString() });
  const partial = `${file}.partial`;
  const written = await copyOutToGzipFile(
    client,
    `copy (${MONTH_RECORDS}) to stdout with (format csv, header)`,
    partial,
  );
  await rename(partial, file);
  return written;
}

/** The bridge's quarantine as the archive asks it (the bridge's own, handed in: metering does not import it). */
export interface ArchiveQuarantine {
  /** How many records of the usage hours [from, to) are held, or dropped (never to be delivered). */
  pending(db: MeteringDb, from: Date, to: Date): Promise<{ held: number; dropped: number }>;
  /** Forgets the entries of the usage hours [from, to) as their records leave (released ones, delivered since). */
  forget(db: MeteringDb, from: Date, to: Date): Promise<void>;
}

export interface ArchiveDeps {
  pool: pg.Pool;
  /** Where the archives go: a folder of the stack's data folder. */
  dir: string;
  quarantine: ArchiveQuarantine;
}

/**
 * Archives every month before `before` that still has records in the outbox, or refuses them all
 * (409 MonthNotArchivable naming the first month that cannot go, and why) and changes nothing.
 * Answers every archive before `before`, those of earlier calls too: archiving again is a no-op.
 */
export async function archiveMonths(deps: ArchiveDeps, before: Date, by: string, now: Date): Promise<UsageArchive[]> {
  await mkdir(deps.dir, { recursive: true, mode: 0o700 });
  const client = await deps.pool.connect();
  try {
    await onConnection(client)
      .transaction()
      .execute(async (db) => {
        await meteringStore.lockClosing(db);
        const months = (
          await db
            .selectFrom('usage_record_counts')
            .select('month')
            .where('month', '<', before)
            .where('month', 'not in', db.selectFrom('outbox_archives').select('month'))
            .orderBy('month')
            .execute()
        ).map((r) => r.month);
        for (const month of months) {
          const why = await refusal(db, deps.quarantine, month);
          if (why)
            throw armError(
              'MonthNotArchivable',
              `The usage of ${monthLabel(month)} cannot be archived: ${why}.`,
              'before',
            );
        }
        for (const month of months) {
          // A month still in DEFAULT gets its partition first, so that it leaves by a detach.
          await sql`select ensure_usage_month(${month}::timestamptz)`.execute(db);
          const reported = await sql<{ first: Date | null; last: Date | null }>`
            select min(reported_at) as first, max(reported_at) as last from usage_records
            where hour >= ${month}::timestamptz and hour < ${nextMonth(month)}::timestamptz
          `.execute(db);
          const file = path.join(deps.dir, `usage-${monthLabel(month)}.csv.gz`);
          const written = await writeMonth(client, month, file);
          await db
            .insertInto('outbox_archives')
            .values({
              month,
              file,
              rows: String(written.rows),
              sha256: written.sha256,
              first_reported_at: reported.rows[0].first,
              last_reported_at: reported.rows[0].last,
              archived_at: now,
              archived_by: by,
            })
            .execute();
          await deps.quarantine.forget(db, month, nextMonth(month));
          const partition = `usage_records_${monthLabel(month).replace('-', '_')}`;
          await sql`alter table usage_records detach partition ${sql.table(partition)}`.execute(db);
          await sql`drop table ${sql.table(partition)}`.execute(db);
          await db.deleteFrom('usage_record_counts').where('month', '=', month).execute();
        }
      });
  } finally {
    client.release();
  }
  return (await listArchives(deps.pool, before)).map(archiveView);
}

async function listArchives(pool: pg.Pool, before: Date): Promise<OutboxArchivesTable[]> {
  const r = await pool.query<OutboxArchivesTable>('select * from outbox_archives where month < $1 order by month', [
    before,
  ]);
  return r.rows;
}
