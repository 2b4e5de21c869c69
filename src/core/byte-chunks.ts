// Text written out as bytes in chunks of a fixed size, each encoded straight into its buffer.
// Joining an export's rows into strings of some hundred kB instead cost the export more than
// making the rows: each such string is fresh memory (V8's large objects), while buffers of this
// size come back from the allocator (bench `export`).

const CHUNK = 64 * 1024;

export class ByteChunks {
  private buffer = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private readonly full: Buffer[] = [];

  /** Adds `text`, UTF-8 encoded. */
  add(text: string): void {
    const most = text.length * 3; // UTF-8 takes at most 3 bytes for a UTF-16 unit
    if (this.buffer.length - this.used < most) {
      this.close();
      if (most > this.buffer.length) this.buffer = Buffer.allocUnsafe(most);
    }
    this.used += this.buffer.write(text, this.used);
  }

  /** Adds bytes as they are. */
  bytes(bytes: Buffer): void {
    if (this.buffer.length - this.used < bytes.length) {
      this.close();
      if (bytes.length > this.buffer.length) this.buffer = Buffer.allocUnsafe(bytes.length);
    }
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  /** The chunks made so far, the last one possibly not full; they are the caller's from now on. */
  take(): Buffer[] {
    this.close();
    return this.full.splice(0);
  }

  private close(): void {
    if (this.used === 0) return;
    this.full.push(this.buffer.subarray(0, this.used));
    this.buffer = Buffer.allocUnsafe(CHUNK);
    this.used = 0;
  }
}
