import { type RowInput, ROW_FORMATS } from '../../src/billing/export-columns.ts';
import type { ExportFormat } from '../../src/billing/exports.ts';
import { ByteChunks } from '../../src/core/byte-chunks.ts';

/** The text an export of `format` writes for a row. */
export function rowText(format: ExportFormat, input: RowInput): string {
  const out = new ByteChunks();
  ROW_FORMATS[format].write(input, out);
  return Buffer.concat(out.take()).toString();
}
