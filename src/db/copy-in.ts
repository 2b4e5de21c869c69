import type pg from 'pg';

// `COPY … FROM STDIN` with every row known beforehand, sent with the command in one go: the
// command, the rows (a CopyData message per chunk) and CopyDone, without waiting for the server's
// CopyInResponse or for the socket to drain (pg-copy-streams waits for both, each a turn of the
// event loop; a busy process kept the database waiting at each). The protocol allows it: a server
// that refuses the command, or fails midway, answers with an error and ignores the copy messages
// that follow it until the next command (PostgreSQL's main loop drops CopyData and CopyDone when
// no COPY runs).

/** The part of pg's connection a submitted query gets (pg's own submittables use the same). */
interface Connection {
  query(text: string): void;
  endCopyFrom(): void;
  stream: { write(bytes: Buffer): boolean };
}

const COPY_DATA = 0x64; // 'd'

class CopyInAtOnce {
  #rows = 0;
  readonly done: Promise<number>;
  #settle!: (error: Error | undefined, rows: number) => void;

  constructor(
    private readonly text: string,
    private readonly chunks: readonly Buffer[],
  ) {
    this.done = new Promise((resolve, reject) => {
      this.#settle = (error, rows) => (error ? reject(error) : resolve(rows));
    });
  }

  submit(connection: Connection): void {
    connection.query(this.text);
    for (const chunk of this.chunks) {
      const header = Buffer.allocUnsafe(5);
      header[0] = COPY_DATA;
      header.writeUInt32BE(chunk.length + 4, 1);
      connection.stream.write(header);
      connection.stream.write(chunk);
    }
    connection.endCopyFrom();
  }

  /** The server is ready for the rows: they are on their way already. */
  handleCopyInResponse(): void {}

  handleCommandComplete(message: { text: string }): void {
    this.#rows = Number(/\d+$/.exec(message.text)?.[0] ?? 0);
  }

  /** The server refused (pg then gives its ReadyForQuery to the next query) or the connection broke. */
  handleError(error: Error): void {
    this.#settle(error, 0);
  }

  handleReadyForQuery(): void {
    this.#settle(undefined, this.#rows);
  }
}

/**
 * Runs `copy … from stdin` (`text`) on `client` with `chunks` as its whole input (COPY's text
 * format, a row may go on in the next chunk); answers how many rows it stored. A refusal by the
 * server rejects with its error, and the connection stays fit for use. The chunks may still be
 * being sent after a refusal: the caller must not write into them.
 */
export function copyInAtOnce(client: pg.PoolClient, text: string, chunks: readonly Buffer[]): Promise<number> {
  const copy = new CopyInAtOnce(text, chunks);
  client.query(copy as unknown as pg.Submittable);
  return copy.done;
}
