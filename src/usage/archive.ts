import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import { mayPerform, type ArmContext } from '../arm/service.ts';
import { usageNotYetBilledQuery, whyNotBilled } from '../billing/closure-store.ts';
import { ROOT_SCOPE } from '../core/arm-id.ts';
import type { Clock } from '../core/clock.ts';
import { copyOutToGzipFile, holdingLock } from '../db/database.ts';
import { armError } from '../core/errors.ts';
import { PERIOD_PATTERN } from '../core/periods.ts';
import type { Principal } from '../core/principal.ts';
import { dailyStore } from './daily-store.ts';
import { type ArchiveRow, archiveClientSql, archiveStore, type MonthStart, partitionsOf } from './archive-store.ts';
import type { UsageTables } from './tables.ts';

// Archiving closed, invoiced months of usage: each month's records and attributions leave the
// database as a gzipped CSV file (with its sha256 and totals, recorded in `usage_archives`), and
// its partitions are dropped. Usage queries over an archived month answer where its archive is.

export interface ArchiveContext {
  db: Kysely<UsageTables>;
  /** For COPY, on a client of the archive's own. */
  pool: pg.Pool;
  clock: Clock;
  /** Where archive files are written (undefined: this hub archives nothing). */
  archiveDir?: string;
}

export const archiveErrors = {
  invalidMonth: (text: string) =>
    armError('InvalidArchiveMonth', `'${text}' is not a month such as 2026-01 (before=YYYY-MM).`, 'before'),
  noFolder: () => armError('ArchiveFolderNotConfigured', 'This hub has no folder for usage archives: none is written.'),
  notArchivable: (month: string, why: string) =>
    armError('MonthNotArchivable', `The usage of ${month} cannot be archived: ${why}.`, 'before'),
  /** What a usage query over archived months answers; the file's path is only for system administrators. */
  archived: (archives: ArchiveRow[], showFiles: boolean) => {
    const where = (a: ArchiveRow) => `${a.month} (archive '${a.name}'${showFiles ? ` at ${a.file}` : ''})`;
    return armError(
      'UsageArchived',
      `The usage of ${archives.map(where).join(', ')} was archived and is no longer in the database; ask for a range after it, or read the archive.`,
    );
  },
};

const monthLabel = (month: MonthStart) => month.slice(0, 7);
const nextMonth = (month: MonthStart) => {
  const d = new Date(`${month}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + 1);
  return d.toISOString().slice(0, 10);
};

const bounds = (month: MonthStart): [Date, Date] => [
  new Date(`${month}T00:00:00Z`),
  new Date(`${nextMonth(month)}T00:00:00Z`),
];

/** The first day of the month of `t` (UTC). */
export const monthOf = (t: Date): MonthStart => `${t.toISOString().slice(0, 7)}-01`;

/** Who is told where an archive file lies: those who may read the hub's usage system-wide. */
export const ARCHIVE_READ = 'Stackledger.System/usage/read';

/**
 * The one rule of every read of the hub's usage (UsageAggregates by reported time; the partner
 * center's utilizations, a deployment's summary and `usage verify` over a range, by usage time):
 * a range [from, to) that reaches an archived month's records answers 410 UsageArchived naming
 * each archive, rather than the partial answer the database still holds. The file's path only to
 * a system administrator.
 */
export async function refuseArchivedUsage(
  ctx: { db: Kysely<UsageTables>; arm: ArmContext },
  caller: Principal,
  range: { from: Date; to: Date; by: 'hour' | 'reported' },
): Promise<void> {
  const archives = await archiveStore.overlapping(ctx.db, range);
  if (archives.length === 0) return;
  throw archiveErrors.archived(archives, await mayPerform(ctx.arm, caller, ARCHIVE_READ, ROOT_SCOPE));
}

/**
 * Archives one month in one transaction: refused while billing is not done with it; otherwise its
 * file is written, the archive recorded and the month's partitions, aggregates and counters dropped.
 */
async function archiveMonth(ctx: ArchiveContext, dir: string, month: MonthStart, by: string): Promise<ArchiveRow> {
  await archiveStore.createMonth(ctx.db, month);
  const p = partitionsOf(month);
  const name = `usage-${monthLabel(month)}.csv.gz`;
  const file = path.join(dir, name);
  const partial = `${file}.partial`;
  const client = await ctx.pool.connect();
  try {
    await client.query('begin');
    // The month alone (every writer of its records holds it shared), no table lock.
    await client.query(archiveClientSql.holdMonth(month));
    // Under the month's lock, so that no attribution of it is left pending to be folded after it is gone.
    const folded = await dailyStore.foldOn(client);
    const check = usageNotYetBilledQuery(folded, ...bounds(month)).compile(ctx.db);
    const why = whyNotBilled((await client.query(check.sql, [...check.parameters])).rows);
    if (why) throw archiveErrors.notArchivable(monthLabel(month), why);
    const { sha256 } = await copyOutToGzipFile(client, archiveClientSql.copy(p), partial);
    const totals = await archiveClientSql.totals(client, p);
    const archive = { month, file, name, ...totals, sha256, archived_at: ctx.clock.now(), archived_by: by };
    await archiveClientSql.takeOut(client, p, archive);
    await rename(partial, file);
    await client.query('commit');
    return { ...archive, month: monthLabel(month) };
  } catch (e) {
    await client.query('rollback').catch(() => {});
    await rm(partial, { force: true });
    throw e;
  } finally {
    client.release();
  }
}

/**
 * `usage archive --before YYYY-MM`: every month strictly before it that still holds usage, oldest
 * first, each in its own transaction. Any month billing is not done with refuses the whole run
 * before anything is archived (and each month is checked again under its lock). Months archived
 * before are not touched again.
 */
export async function archiveBefore(ctx: ArchiveContext, caller: Principal, before: string) {
  if (!PERIOD_PATTERN.test(before)) throw archiveErrors.invalidMonth(before);
  const dir = ctx.archiveDir;
  if (!dir) throw archiveErrors.noFolder();
  // One run at a time (of any process): a second finds the months the first archived gone.
  return holdingLock(ctx.db, 'stackledger: usage archive', async () => {
    const months = await archiveStore.monthsBefore(ctx.db, `${before}-01`);
    const folded = await dailyStore.fold(ctx.db);
    for (const month of months) {
      const why = whyNotBilled((await usageNotYetBilledQuery(folded, ...bounds(month)).execute(ctx.db)).rows);
      if (why) throw archiveErrors.notArchivable(monthLabel(month), why);
    }
    await mkdir(dir, { recursive: true });
    const archived: ArchiveRow[] = [];
    for (const month of months) archived.push(await archiveMonth(ctx, dir, month, caller.objectId));
    return { before, value: archived.map(archiveView) };
  });
}

export async function listArchives(ctx: { db: Kysely<UsageTables> }) {
  return { value: (await archiveStore.list(ctx.db)).map(archiveView) };
}

export const archiveView = (a: ArchiveRow) => ({
  month: a.month,
  name: a.name,
  file: a.file,
  records: Number(a.records),
  attributions: Number(a.attributions),
  quantities: a.quantities,
  sha256: a.sha256,
  archivedAt: new Date(a.archived_at).toISOString(),
  archivedBy: a.archived_by,
  /** When its first and last records or attributions came (null when it did not keep it). */
  firstReportedAt: a.first_reported_at && new Date(a.first_reported_at).toISOString(),
  lastReportedAt: a.last_reported_at && new Date(a.last_reported_at).toISOString(),
});
