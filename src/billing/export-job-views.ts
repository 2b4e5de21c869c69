import type { ExportJob } from './export-job-store.ts';

// What the asynchronous exports answer: the export (ARM's resource shape, its manifest once done)
// and its operation (ARM's async-operation shape: status, progress, and the manifest once done).

export interface ExportUrls {
  operation: string;
  location: string;
  file: (n: number) => string;
}

const ARM_STATUS = { Running: 'InProgress', Succeeded: 'Succeeded', Failed: 'Failed' } as const;

/** The manifest: every file with where to fetch it, its rows, bytes and sha256, and what the rows add up to. */
function manifestView(job: ExportJob, urls: ExportUrls) {
  if (!job.manifest) return undefined;
  return {
    files: job.manifest.files.map((f) => ({ url: urls.file(f.n), rows: f.rows, bytes: f.bytes, sha256: f.sha256 })),
    rows: job.manifest.rows,
    // In this order whatever order jsonb keeps the keys in.
    totals: (({ invoices, billedCost, subtotal, tax, total, currency }) => ({
      invoices,
      billedCost,
      subtotal,
      tax,
      total,
      currency,
    }))(job.manifest.totals),
  };
}

function progressView(job: ExportJob) {
  const done = Number(job.rows_done);
  const total = job.rows_total === null ? null : Number(job.rows_total);
  return {
    rowsExported: done,
    rowsTotal: total,
    percentComplete: job.status === 'Succeeded' ? 100 : total ? Math.min(99, Math.floor((done * 100) / total)) : 0,
  };
}

export function exportJobView(job: ExportJob, urls: ExportUrls) {
  return {
    id: `/providers/Stackledger.Billing/exports/${job.id}`,
    name: job.id,
    type: 'Stackledger.Billing/exports',
    properties: {
      period: job.period,
      format: job.format,
      of: job.export_of,
      ...(job.selection.customerId ? { customerId: job.selection.customerId } : {}),
      status: ARM_STATUS[job.status],
      ...progressView(job),
      createdAt: job.created_at.toISOString(),
      ...(job.finished_at ? { finishedAt: job.finished_at.toISOString() } : {}),
      ...(job.expires_at ? { expiresAt: job.expires_at.toISOString() } : {}),
      ...(job.manifest ? { manifest: manifestView(job, urls) } : {}),
      ...(job.error ? { error: job.error } : {}),
    },
  };
}

export function exportOperationView(job: ExportJob, urls: ExportUrls) {
  const { percentComplete, ...progress } = progressView(job);
  return {
    id: `/providers/Stackledger.Billing/exports/operations/${job.id}`,
    name: job.id,
    status: ARM_STATUS[job.status],
    startTime: job.created_at.toISOString(),
    ...(job.finished_at ? { endTime: job.finished_at.toISOString() } : {}),
    percentComplete,
    properties: { ...progress, ...(job.manifest ? { manifest: manifestView(job, urls) } : {}) },
    ...(job.error ? { error: job.error } : {}),
  };
}
