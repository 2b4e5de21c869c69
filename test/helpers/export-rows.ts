import fc from 'fast-check';
import {
  type ExportInvoice,
  type ExportLine,
  type LineRows,
  NO_LINE,
  ROW_FORMATS,
} from '../../src/billing/export-columns.ts';
import type { ExportFormat } from '../../src/billing/exports.ts';
import type { Names } from '../../src/billing/views.ts';
import { ByteChunks } from '../../src/core/byte-chunks.ts';

/**
 * The rows an export of `format` writes, one writer for each invoice and names, kept as an export
 * keeps it: rows of several invoices asked in any order are written as each one's rows would be.
 */
export function exportRows(format: ExportFormat): (line: ExportLine, invoice: ExportInvoice, names: Names) => string {
  const writers = new Map<ExportInvoice, Map<Names, LineRows>>();
  return (line, invoice, names) => {
    const byNames = writers.get(invoice) ?? new Map<Names, LineRows>();
    writers.set(invoice, byNames);
    const rows = byNames.get(names) ?? ROW_FORMATS[format].rows(invoice, names);
    byNames.set(names, rows);
    const out = new ByteChunks();
    rows(line, out);
    return Buffer.concat(out.take()).toString();
  };
}

/**
 * Lines each of whose columns is taken from one of a small pool's lines: lines that share a kind,
 * a customer, a day or a subscription and differ in the rest come often (what rows keep by kind
 * and value must not leak into another line's row).
 */
export function mixedLines(line: fc.Arbitrary<ExportLine>, maxLength: number): fc.Arbitrary<ExportLine[]> {
  const columns = Object.keys(NO_LINE) as (keyof ExportLine)[];
  const picks = fc.array(fc.nat(2), { minLength: columns.length, maxLength: columns.length });
  return fc
    .tuple(fc.array(line, { minLength: 3, maxLength: 3 }), fc.array(picks, { minLength: 1, maxLength }))
    .map(([pool, rows]) =>
      rows.map((from) => Object.fromEntries(columns.map((c, k) => [c, pool[from[k] as number]?.[c]])) as ExportLine),
    );
}
