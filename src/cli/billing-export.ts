import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError } from '../core/http-client.ts';
import type { Connection } from './client.ts';
import { progressBar, type Progress } from './output.ts';

// `stackledger billing export --async`: asks the hub for an export, follows its operation (a
// progress bar on a terminal, a line per change otherwise), then downloads every file of the
// manifest into a folder. A file is first written as `NAME.part`; a download cut short resumes
// where it stopped with a range request (`If-Range` on the file's sha256, so a changed file comes
// whole), and each file is checked against its sha256 before it takes its name.

export interface ManifestFile {
  url: string;
  rows: number;
  bytes: number;
  sha256: string;
}
export interface Manifest {
  files: ManifestFile[];
  rows: number;
  totals: { invoices: number; billedCost: string; subtotal: string; tax: string; total: string; currency: string };
}
interface Operation {
  status: 'InProgress' | 'Succeeded' | 'Failed';
  properties: { rowsExported: number; rowsTotal: number | null; manifest?: Manifest };
  error?: { code: string; message: string };
}

export interface AsyncExportRequest {
  period: string;
  format: string;
  of: string;
  customerId?: string;
}

/** Requests the export and waits for its manifest, reporting progress on stderr unless `quiet`. */
export async function requestExport(
  c: Connection,
  exportsUrl: string,
  body: AsyncExportRequest,
  quiet: boolean,
): Promise<Manifest> {
  const token = () => c.token(c.bootstrap.hub.arm);
  const posted = await c.http.send('POST', exportsUrl, { token: await token(), body });
  if (posted.status !== 202) throw new HttpError(posted.status, posted.body, exportsUrl);
  const operationUrl = String(posted.headers['azure-asyncoperation']);
  const showBar = !quiet && process.stderr.isTTY;
  let bar: Progress | undefined;
  let shown = '';
  try {
    for (;;) {
      const res = await c.http.send<Operation>('GET', operationUrl, { token: await token() });
      if (res.status !== 200) throw new HttpError(res.status, res.body, operationUrl);
      const op = res.body;
      const { rowsExported, rowsTotal } = op.properties;
      if (showBar) {
        // The bar starts once the worker has counted the rows (none: no bar).
        if (rowsTotal) bar ??= progressBar(rowsTotal, 'rows');
        bar?.update(rowsExported, op.status === 'Succeeded' ? 'done' : 'exporting');
      } else if (!quiet) {
        const line = `exported ${rowsExported}${rowsTotal === null ? '' : ` of ${rowsTotal}`} rows`;
        if (line !== shown) process.stderr.write(`${line}\n`);
        shown = line;
      }
      if (op.status === 'Succeeded' && op.properties.manifest) return op.properties.manifest;
      if (op.status === 'Failed') throw new HttpError(500, { error: op.error }, operationUrl);
      await sleep(Math.max(200, Number(res.headers['retry-after'] ?? 1) * 1000));
    }
  } finally {
    bar?.stop();
  }
}

async function sha256Of(file: string): Promise<string> {
  const digest = createHash('sha256');
  await pipeline(createReadStream(file), digest);
  return digest.digest('hex');
}

const sizeOf = async (file: string) => (await stat(file).catch(() => undefined))?.size;

/**
 * Downloads one file of a manifest to `target`, resuming `target.part` when it exists. Answers how
 * many bytes this call fetched.
 */
export async function downloadFile(c: Connection, f: ManifestFile, target: string): Promise<number> {
  if ((await sizeOf(target)) === f.bytes && (await sha256Of(target)) === f.sha256) return 0;
  const partial = `${target}.part`;
  const have = (await sizeOf(partial)) ?? 0;
  const resume = have > 0 && have < f.bytes;
  const res = await c.http.open('GET', f.url, {
    token: await c.token(c.bootstrap.hub.arm),
    headers: resume ? { range: `bytes=${have}-`, 'if-range': `"${f.sha256}"` } : {},
  });
  if (res.statusCode !== 200 && res.statusCode !== 206)
    throw new HttpError(res.statusCode, await res.body.json().catch(() => undefined), f.url);
  const append = res.statusCode === 206;
  let fetched = 0;
  res.body.on('data', (chunk: Buffer) => (fetched += chunk.length));
  await pipeline(res.body, createWriteStream(partial, { flags: append ? 'a' : 'w' }));
  const got = await sha256Of(partial);
  if (got !== f.sha256)
    throw new Error(
      `${path.basename(target)}: its sha256 is ${got}, the manifest says ${f.sha256}; delete it and run again.`,
    );
  await rename(partial, target);
  return fetched;
}

/** Every file of the manifest into `dir`, named `prefix-00001.ext` and so on. */
export async function downloadAll(c: Connection, manifest: Manifest, dir: string, prefix: string, ext: string) {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [i, f] of manifest.files.entries()) {
    const target = path.join(dir, `${prefix}-${String(i + 1).padStart(5, '0')}.${ext}`);
    await downloadFile(c, f, target);
    files.push(target);
  }
  return files;
}
