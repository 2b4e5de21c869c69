import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

// Rows of a query read as fast as PostgreSQL writes them: `COPY (…) TO STDOUT WITH (FORMAT
// binary)` of a query whose every column is text, read here. In the binary format a text value is
// its bytes behind a length (-1 for null): nothing to unquote or unescape, and null is not ''.
// Written by hand: the npm readers of this format decode through streams of single values, and
// csv-parse (with csv-stringify) ran at 3.5× the database's time on an export; this reader keeps up
// with it (bench `export`). The format: PostgreSQL's "COPY", section "Binary Format".

/** One row: its columns' text, null where the value is null. */
export type TextRow = (string | null)[];

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER = SIGNATURE.length + 8; // the signature, the flags and the header extension's length
const NOT_ASCII = /[^ -~\t\n\r]/; // anything but printable ASCII and whitespace (which decode the same either way)

/** Reads the binary COPY format's rows from its chunks, as they come. */
export class BinaryTextRowReader {
  private pending: Buffer = Buffer.alloc(0);
  private headerRead = false;
  private ended = false;

  /**
   * `asciiColumns`: the columns whose text is ASCII whatever the row (numbers, uuids and dates
   * as text), read without looking for other characters.
   */
  constructor(private readonly asciiColumns: readonly boolean[] = []) {}

  /** The rows that `chunk` completes (a row cut by the chunk's end waits for the next one). */
  push(chunk: Buffer): TextRow[] {
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    if (!this.headerRead) {
      if (buf.length < HEADER) return this.keep(buf, 0);
      if (!buf.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('not a binary COPY');
      const extension = buf.readInt32BE(SIGNATURE.length + 4);
      if (buf.length < HEADER + extension) return this.keep(buf, 0);
      at = HEADER + extension;
      this.headerRead = true;
    }
    const rows: TextRow[] = [];
    // The chunk is read once as bytes (latin1: a character a byte), and each value is a slice of
    // it unless it holds other than ASCII (decoding utf8 value by value cost more). A slice holds
    // the chunk's whole text: what a reader keeps past its rows, it keeps as `ownText` (kept.ts).
    const bytes = buf.toString('latin1');
    while (!this.ended && buf.length - at >= 2) {
      const fields = buf.readInt16BE(at);
      if (fields === -1) {
        this.ended = true;
        at += 2;
        break;
      }
      const row = this.row(buf, at + 2, fields, bytes);
      if (!row) break;
      rows.push(row.values);
      at = row.next;
    }
    this.keep(buf, at);
    return rows;
  }

  /** Whether the trailer came, and nothing after it. */
  get complete(): boolean {
    return this.ended && this.pending.length === 0;
  }

  private row(buf: Buffer, from: number, fields: number, bytes: string): { values: TextRow; next: number } | undefined {
    const values: TextRow = new Array(fields);
    let at = from;
    for (let f = 0; f < fields; f++) {
      if (buf.length - at < 4) return undefined;
      const length = buf.readInt32BE(at);
      at += 4;
      if (length < 0) {
        values[f] = null;
        continue;
      }
      if (buf.length - at < length) return undefined;
      const value = bytes.slice(at, at + length);
      values[f] = this.asciiColumns[f] || !NOT_ASCII.test(value) ? value : buf.toString('utf8', at, at + length);
      at += length;
    }
    return { values, next: at };
  }

  private keep(buf: Buffer, from: number): TextRow[] {
    this.pending = from >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(from));
    return [];
  }
}

/**
 * The rows of `query` (every column text: cast what is not), in batches as the database sends
 * them. The COPY is sent at once, whenever the rows are read: started ahead of its reading (on a
 * connection of its own), the database sends them while what comes before is still being read.
 * COPY takes no bind parameters: `query` reads its inputs another way (settings, or literals the
 * caller has checked). `asciiColumns` as `BinaryTextRowReader` takes them.
 */
export function copyTextRows(
  client: pg.ClientBase,
  query: string,
  asciiColumns: readonly boolean[] = [],
): AsyncGenerator<TextRow[]> {
  const copy = client.query(copyTo(`copy (${query}) to stdout with (format binary)`));
  // A failure before its reading starts (its connection closed) is kept in the stream, which it
  // ends: the reading fails with it, rather than the process or a reading that waits for ever.
  copy.on('error', (e) => copy.destroy(e));
  return readTextRows(copy, asciiColumns);
}

async function* readTextRows(
  copy: AsyncIterable<unknown>,
  asciiColumns: readonly boolean[],
): AsyncGenerator<TextRow[]> {
  const reader = new BinaryTextRowReader(asciiColumns);
  for await (const chunk of copy) {
    const rows = reader.push(chunk as Buffer);
    if (rows.length > 0) yield rows;
  }
  if (!reader.complete) throw new Error('the binary COPY ended before its trailer');
}
