import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import parseRange from 'range-parser';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { armError } from '../core/errors.ts';
import { isGuid, newGuid } from '../core/ids.ts';
import { principalOf, queryValue } from '../http/arm.ts';
import { type ExportJob, exportJobStore } from './export-job-store.ts';
import { attemptDir, exportFileName, type ExportJobContext } from './export-jobs.ts';
import { exportSelection, sameScope } from './export-rights.ts';
import type { ExportFormat } from './exports.ts';
import { exportJobView, exportOperationView, type ExportUrls } from './export-job-views.ts';

// Asynchronous exports on the hub's ARM endpoint: POST …/exports answers 202 with where to poll
// (`Azure-AsyncOperation`: the operation's status and progress; `Location`: the export, 202 until
// it is done, then its manifest), and each file of the manifest is served with range requests
// (`Range`, `If-Range` on its sha256 `ETag`), so an interrupted download resumes. Only callers of
// the scope the export was requested in see any of it; to everyone else it does not exist.

const P = '/providers/Stackledger.Billing';
const config = { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.Billing/exports' };
const RETRY_AFTER_SECONDS = '1';

const ExportBody = Type.Object({
  period: Type.String(),
  format: Type.Optional(Type.String()),
  of: Type.Optional(Type.String()),
  customerId: Type.Optional(Type.String()),
});

const notFound = (id: string) => armError('ExportNotFound', `The export '${id}' could not be found.`);

export function registerExportJobRoutes(
  app: FastifyInstance,
  ctx: ExportJobContext,
  wake: () => void,
  baseUrl: () => string,
): void {
  const urls = (request: FastifyRequest, id: string): ExportUrls => {
    const version = `api-version=${queryValue(request, 'api-version')}`;
    const base = `${baseUrl()}${P}/exports`;
    return {
      operation: `${base}/operations/${id}?${version}`,
      location: `${base}/${id}?${version}`,
      file: (n) => `${base}/${id}/files/${n}?${version}`,
    };
  };

  /** The export if the caller may read it (the scope it was requested in), kept and not expired. */
  const readable = async (request: FastifyRequest<{ Params: { id: string } }>): Promise<ExportJob> => {
    const id = request.params.id.toLowerCase();
    const job = isGuid(id) ? await exportJobStore.get(ctx.db, id) : undefined;
    if (!job || !(await sameScope(ctx, principalOf(request), job.scope))) throw notFound(request.params.id);
    if (job.expires_at && job.expires_at.getTime() <= ctx.clock.now().getTime())
      throw armError('ExportExpired', `The export '${job.id}' expired at ${job.expires_at.toISOString()}.`);
    return job;
  };

  app.post<{ Body: Static<typeof ExportBody> }>(
    `${P}/exports`,
    { config, schema: { body: ExportBody } },
    async (request, reply) => {
      const caller = principalOf(request);
      const of = request.body.of ?? 'provider';
      if (of !== 'provider' && of !== 'customers')
        throw armError(
          'InvalidStream',
          "of must be 'provider' (the provider's invoice to the partner) or 'customers' (the partner's invoices to its customers).",
          'of',
        );
      const { selection, scope, format } = await exportSelection(ctx, caller, {
        period: request.body.period,
        format: request.body.format,
        stream: of === 'provider' ? 'partner' : 'customer',
        customerId: request.body.customerId,
      });
      const id = newGuid();
      await exportJobStore.insert(ctx.db, {
        id,
        requested_by: caller.objectId,
        scope,
        selection,
        period: selection.period,
        format,
        export_of: of,
        created_at: ctx.clock.now(),
      });
      wake();
      const job = await exportJobStore.get(ctx.db, id);
      const u = urls(request, id);
      return reply
        .status(202)
        .headers({ 'azure-asyncoperation': u.operation, location: u.location, 'retry-after': RETRY_AFTER_SECONDS })
        .send(exportJobView(job!, u));
    },
  );

  app.get<{ Params: { id: string } }>(`${P}/exports/operations/:id`, { config }, async (request, reply) => {
    const job = await readable(request);
    if (job.status === 'Running') reply.header('retry-after', RETRY_AFTER_SECONDS);
    return exportOperationView(job, urls(request, job.id));
  });

  app.get<{ Params: { id: string } }>(`${P}/exports/:id`, { config }, async (request, reply) => {
    const job = await readable(request);
    const u = urls(request, job.id);
    if (job.status === 'Running')
      reply.status(202).headers({ location: u.location, 'retry-after': RETRY_AFTER_SECONDS });
    return exportJobView(job, u);
  });

  app.get<{ Params: { id: string; n: string } }>(`${P}/exports/:id/files/:n`, { config }, async (request, reply) => {
    const job = await readable(request);
    if (job.status !== 'Succeeded' || !job.manifest)
      throw armError('ExportNotReady', `The export '${job.id}' has no files yet: its status is ${job.status}.`);
    const n = /^\d{1,6}$/.test(request.params.n) ? Number(request.params.n) : 0;
    const file = job.manifest.files.find((f) => f.n === n);
    if (!file) throw armError('ExportNotFound', `The export '${job.id}' has no file ${request.params.n}.`);
    const where = path.join(
      attemptDir(ctx, job.id, job.manifest.folder),
      exportFileName(n, job.format as ExportFormat),
    );
    // Retention removes files only after the export expired, which `readable` refused already.
    if (!(await stat(where).catch(() => undefined)))
      throw armError('ExportExpired', `The files of the export '${job.id}' are no longer kept.`);
    return sendRange(request, reply, where, file, job.format as ExportFormat);
  });
}

/** A file whole (200) or the one range asked (206, unless `If-Range` names another version), or 416. */
function sendRange(
  request: FastifyRequest,
  reply: FastifyReply,
  file: string,
  f: { n: number; bytes: number; sha256: string },
  format: ExportFormat,
) {
  const etag = `"${f.sha256}"`;
  reply.headers({
    'accept-ranges': 'bytes',
    etag,
    'content-type': format === 'json' ? 'application/json; charset=utf-8' : 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="${path.basename(file)}"`,
  });
  const asked = request.headers.range;
  const ifRange = request.headers['if-range'];
  // A Range whose If-Range names another version (or a date: ours are not dated) gets the whole file.
  const ranges =
    asked && (ifRange === undefined || ifRange === etag) ? parseRange(f.bytes, asked, { combine: true }) : -2;
  if (ranges === -1)
    throw armError(
      'RangeNotSatisfiable',
      `The range '${asked}' is outside the file's ${f.bytes} bytes.`,
      'Range',
      undefined,
      {
        'content-range': `bytes */${f.bytes}`,
      },
    );
  // Malformed, not bytes, or several ranges: the whole file, as RFC 9110 allows.
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1 || f.bytes === 0) {
    reply.header('content-length', String(f.bytes));
    return reply.send(createReadStream(file));
  }
  const { start, end } = ranges[0];
  return reply
    .status(206)
    .headers({ 'content-range': `bytes ${start}-${end}/${f.bytes}`, 'content-length': String(end - start + 1) })
    .send(createReadStream(file, { start, end }));
}
