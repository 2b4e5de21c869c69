// Work that goes one at a time per key, in the order it asked, within this process: each key's work
// waits for the key's work before it, whether that succeeded or failed.

export class Turns {
  readonly #last = new Map<string, Promise<void>>();

  /** Runs `work` once every earlier work of `key` has ended; answers what it answers. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.#last.get(key) ?? Promise.resolve();
    const mine = before.then(work);
    const ended = mine.then(
      () => undefined,
      () => undefined,
    );
    this.#last.set(key, ended);
    try {
      return await mine;
    } finally {
      // The last in line leaves no entry behind.
      if (this.#last.get(key) === ended) this.#last.delete(key);
    }
  }
}
