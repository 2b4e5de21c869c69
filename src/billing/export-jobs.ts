import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type pg from 'pg';
import { HOUR_MS } from '../core/clock.ts';
import type { DueWork } from '../core/scheduler.ts';
import { exportSnapshot } from '../db/database.ts';
import type { BillingContext } from './context.ts';
import { type ClaimedExportJob, type ExportJobDb, exportJobStore } from './export-job-store.ts';
import { ROW_FORMATS } from './export-columns.ts';
import {
  type ExportFormat,
  type ExportSelection,
  exportRows,
  hasTaxRows,
  invoiceNames,
  invoicesOf,
  LINE_RANGE,
  prepareExport,
  SELECTED_INVOICES,
  selectionParameters,
  takesTaxRow,
  writeLines,
  writeTaxRow,
} from './exports.ts';
import { jsonArray } from './export-columns.ts';
import { namesInSnapshot } from './export-names.ts';
import type { ExportManifestRecord } from './tables.ts';

// Asynchronous exports: a worker loop in each hub process claims a requested export (under a
// lease, `for update skip locked`, so several processes share the jobs and one killed midway
// leaves its job to another, which writes every file afresh), writes it from one snapshot into
// files of at most `partRows` rows each (rows streamed through a digest into the file: rows, bytes
// and sha256 known as it goes), sums the exported amounts in SQL and records the manifest. Files
// are kept for `retentionHours` of the hub's clock, then removed by a scheduled step.

export interface ExportJobOptions {
  /** Where the files go (the hub's data folder's `exports`; shared by every hub process of one database). */
  dir: string;
  /** Rows per file. */
  partRows?: number;
  /** How long (hub clock) a finished export's files are kept. */
  retentionHours?: number;
  /** How often an idle worker looks for requested exports. */
  pollMs?: number;
  /** How long a claim holds without progress before another process may take the job over. */
  leaseMs?: number;
}

export type ExportJobContext = BillingContext & {
  db: BillingContext['db'] & ExportJobDb;
  exports: Required<ExportJobOptions>;
};

export const exportJobDefaults = (dir: string, o: Partial<ExportJobOptions> = {}): Required<ExportJobOptions> => ({
  dir,
  partRows: o.partRows ?? 1_000_000,
  retentionHours: o.retentionHours ?? 24,
  pollMs: o.pollMs ?? 1000,
  leaseMs: o.leaseMs ?? 60_000,
});

/** How often a running export records its progress and renews its lease, at most. */
const BEAT_MS = 1000;
/** Attempts before a job that keeps failing is given up. */
const MAX_ATTEMPTS = 3;

export const exportFileName = (n: number, format: ExportFormat) =>
  `part-${String(n).padStart(5, '0')}.${format === 'json' ? 'json' : 'csv'}`;
export const exportDir = (ctx: ExportJobContext, id: string) => path.join(ctx.exports.dir, id);
/** Where one attempt writes (and, for the attempt that finished, where the manifest's files are). */
export const attemptDir = (ctx: ExportJobContext, id: string, folder: string) => path.join(exportDir(ctx, id), folder);

/** The job is no longer this attempt's: another process took it over, or this one is stopping. */
class LeaseLost extends Error {}
class Stopping extends Error {}

/** One file being written: what goes into `head` is counted, hashed and written. */
function openPart(file: string, format: ExportFormat) {
  const head = new PassThrough();
  const digest = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      digest.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const written =
    format === 'json'
      ? pipeline(head, jsonArray(), meter, createWriteStream(file))
      : pipeline(head, meter, createWriteStream(file));
  written.catch(() => {}); // awaited in close(); a failure midway also fails the COPY writing into head
  return {
    head,
    async close() {
      head.end();
      await written;
      return { bytes, sha256: digest.digest('hex') };
    },
  };
}

/** The line number of the `nth` selected line of an invoice after `after`, if it has that many. */
async function nthLineAfter(client: pg.PoolClient, invoiceId: string, after: number, nth: number, s: ExportSelection) {
  const r = await client.query<{ line_no: number }>(
    `select line_no from invoice_lines where invoice_id = $1 and line_no > $2 and ($3::uuid is null or customer_id = $3)
     order by line_no offset $4 limit 1`,
    [invoiceId, after, s.customerId ?? null, nth - 1],
  );
  return r.rows[0]?.line_no;
}

/** The rows the export holds (`exportRows`) and what they and their invoices add up to, in SQL, from the export's snapshot. */
async function totalsOf(client: pg.PoolClient, s: ExportSelection, withTax: boolean) {
  const r = await client.query<ExportManifestRecord['totals'] & { rows: string }>(
    `with i as (select * from invoices where ${SELECTED_INVOICES}),
          l as (select l.amount from ${exportRows(withTax)} l join i on i.id = l.invoice_id where ($6::uuid is null or l.customer_id = $6))
     select (select count(*) from l)::text as rows, (select count(*) from i)::int as invoices,
            (select coalesce(sum(amount), 0) from l)::text as "billedCost",
            (select coalesce(sum(subtotal), 0) from i)::text as subtotal, (select coalesce(sum(tax), 0) from i)::text as tax,
            (select coalesce(sum(total), 0) from i)::text as total, coalesce((select min(currency) from i), 'USD') as currency`,
    [...selectionParameters(s), s.customerId ?? null],
  );
  const { rows, ...totals } = r.rows[0];
  return { rows: Number(rows), totals };
}

/** Writes a claimed job's files afresh and answers its manifest. */
async function writeExport(
  ctx: ExportJobContext,
  job: ClaimedExportJob,
  stopping: () => boolean,
): Promise<ExportManifestRecord> {
  const selection = job.selection as ExportSelection;
  const format = job.format as ExportFormat;
  // Each attempt writes a folder of its own (named by its lease), so one that lost its lease and
  // has not noticed yet cannot write into its successor's files; what earlier attempts left goes.
  await rm(exportDir(ctx, job.id), { recursive: true, force: true });
  const dir = attemptDir(ctx, job.id, job.lease_id);
  await mkdir(dir, { recursive: true });
  const withTax = hasTaxRows(format);
  const client = await ctx.pool.connect();
  let failed: Error | undefined;
  let names: ReturnType<typeof namesInSnapshot> | undefined;
  try {
    await client.query('begin transaction isolation level repeatable read, read only');
    await prepareExport(client);
    const { rows, totals } = await totalsOf(client, selection, withTax);
    // Names a row asks for while a COPY holds the connection are read in the export's snapshot on another.
    names = namesInSnapshot(ctx.pool, ctx.db, await exportSnapshot(client));
    const files: ExportManifestRecord['files'] = [];
    let part: ReturnType<typeof openPart> | undefined;
    let partRows = 0;
    let done = 0;
    let lastBeat = 0;
    // Progress (and the lease) is written at most every BEAT_MS: a commit per range would cost more than the range.
    const beat = async (now = false) => {
      if (stopping()) throw new Stopping();
      if (!now && Date.now() - lastBeat < Math.min(BEAT_MS, ctx.exports.leaseMs / 3)) return;
      lastBeat = Date.now();
      if (!(await exportJobStore.progress(ctx.db, job, done, rows, ctx.exports.leaseMs))) throw new LeaseLost();
    };
    await beat(true);
    /** The file being written: a new one (with its header) when none is. */
    const openFile = () => {
      if (!part) {
        part = openPart(path.join(dir, exportFileName(files.length + 1, format)), format);
        part.head.write(ROW_FORMATS[format].header);
      }
      return part.head;
    };
    const wrote = async (n: number) => {
      partRows += n;
      done += n;
      await beat();
    };
    const closePart = async () => {
      if (!part) return;
      files.push({ n: files.length + 1, rows: partRows, ...(await part.close()) });
      part = undefined;
      partRows = 0;
    };
    for await (const invoice of invoicesOf(client, ctx.db, selection)) {
      const invoiceNamesOf = await invoiceNames(client, ctx.db, invoice, names.ask);
      const rowsOf = ROW_FORMATS[format].rows(invoice, invoiceNamesOf.map);
      for (let after = 0; after < invoice.lastLine;) {
        // Up to the line that fills the file (when the rest of the invoice may not fit), in ranges
        // as the streamed export reads them.
        const room = ctx.exports.partRows - partRows;
        const fills =
          invoice.lastLine - after > room ? await nthLineAfter(client, invoice.id, after, room, selection) : undefined;
        const to = Math.min(fills ?? invoice.lastLine, after + LINE_RANGE);
        const range = { after, to, customerId: selection.customerId };
        await wrote(await writeLines(client, format, invoice, invoiceNamesOf, rowsOf, range, openFile()));
        after = to;
        if (partRows >= ctx.exports.partRows) await closePart();
      }
      // a file is opened for the tax row only when there is one
      if (withTax && takesTaxRow(invoice, selection.customerId)) {
        await wrote(await writeTaxRow(client, invoice, selection.customerId, openFile()));
        if (partRows >= ctx.exports.partRows) await closePart();
      }
    }
    if (files.length === 0) openFile(); // no row at all: one file, the header alone
    if (part && partRows === 0 && files.length > 0) {
      await part.close(); // an empty remainder after a full file: not a file of its own
      await rm(path.join(dir, exportFileName(files.length + 1, format)), { force: true });
      part = undefined;
    }
    await closePart();
    await client.query('commit');
    const written = files.reduce((sum, f) => sum + f.rows, 0);
    if (written !== rows) throw new Error(`the export wrote ${written} rows of ${rows}`);
    return { folder: job.lease_id, files, rows, totals };
  } catch (e) {
    failed = e instanceof Error ? e : new Error(String(e));
    throw e;
  } finally {
    await names?.close();
    // After a failure a COPY may still run on the connection: close it rather than reuse it.
    client.release(failed);
  }
}

/** Claims and runs one job; false when none was due. */
async function runOne(ctx: ExportJobContext, logger: Logger, stopping: () => boolean): Promise<boolean> {
  const job = await exportJobStore.claim(ctx.db, ctx.exports.leaseMs);
  if (!job) return false;
  try {
    const manifest = await writeExport(ctx, job, stopping);
    const now = ctx.clock.now();
    const expires = new Date(now.getTime() + ctx.exports.retentionHours * HOUR_MS);
    if (!(await exportJobStore.succeed(ctx.db, job, manifest, now, expires))) throw new LeaseLost();
  } catch (e) {
    if (e instanceof LeaseLost) {
      await rm(attemptDir(ctx, job.id, job.lease_id), { recursive: true, force: true });
      logger.warn({ exportId: job.id }, 'export taken over by another process; this attempt stops');
      return true;
    }
    if (e instanceof Stopping) {
      await exportJobStore.release(ctx.db, job); // another process (or this one, restarted) starts it again at once
      return false;
    }
    logger.error({ err: e, exportId: job.id, attempt: job.attempts }, 'export failed');
    if (job.attempts < MAX_ATTEMPTS) await exportJobStore.release(ctx.db, job);
    else {
      await rm(attemptDir(ctx, job.id, job.lease_id), { recursive: true, force: true });
      await exportJobStore.fail(
        ctx.db,
        job,
        { code: 'ExportFailed', message: 'The export failed; see the server log.' },
        ctx.clock.now(),
      );
    }
  }
  return true;
}

/** The worker loop of one hub process: runs requested exports one at a time. */
export function startExportWorker(ctx: ExportJobContext, logger: Logger) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const drain = async () => {
    while (!stopped && (await runOne(ctx, logger, () => stopped)));
  };
  const kick = () => {
    if (stopped || running !== undefined) return;
    if (timer) clearTimeout(timer);
    running = drain()
      .catch((e: unknown) => logger.warn({ err: e }, 'exports: could not look for requested work'))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(kick, ctx.exports.pollMs);
      });
  };
  timer = setTimeout(kick, ctx.exports.pollMs);
  return {
    /** Looks for requested exports now, rather than at the next poll. */
    wake: kick,
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

/** Removes the files of exports whose retention ended (by the hub's clock); the jobs stay, answering ExportExpired. */
export function exportRetentionWork(ctx: ExportJobContext): DueWork {
  return {
    name: 'export retention',
    async runUntil(now) {
      const ids = await exportJobStore.expired(ctx.db, now);
      for (const id of ids) await rm(exportDir(ctx, id), { recursive: true, force: true });
      await exportJobStore.markRemoved(ctx.db, ids);
    },
  };
}
