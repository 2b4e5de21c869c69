// Buffers a process keeps and lends again, for bytes it makes in the megabytes again and again (a
// usage page's answer): on this machine memory touched for the first time costs ~18 µs a page,
// ~4 ms a megabyte, more than writing the bytes into it. A borrower that never gives a buffer back
// (its request failed midway, say) only costs the next one a new buffer.

export class KeptBuffers {
  readonly #spare: Buffer[] = [];

  /** At most `most` buffers stay, none larger than `largest` bytes. */
  constructor(
    private readonly most: number,
    private readonly largest: number,
  ) {}

  /** A buffer of at least `size` bytes, the caller's until it gives it back. */
  borrow(size: number): Buffer {
    const i = this.#spare.findIndex((b) => b.length >= size);
    if (i >= 0) return this.#spare.splice(i, 1)[0];
    return Buffer.allocUnsafeSlow(Math.max(1 << 20, 2 ** Math.ceil(Math.log2(size))));
  }

  /** `buffer` may be lent again; the caller holds no part of it any more. */
  giveBack(buffer: Buffer): void {
    if (this.#spare.length < this.most && buffer.length <= this.largest) this.#spare.push(buffer);
  }
}
