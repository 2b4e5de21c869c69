// Independent reads of one request run at once, but answer as if they had run one after another:
// the first refusal in the order given wins, whichever settled first, so that a request wrong in
// two ways is always told the same thing.

/** Awaits every promise; throws the reason of the first (in argument order) that failed, else gives their values. */
export async function inOrder<T extends readonly unknown[]>(...work: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(work);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * Reads started before they are needed (the next range's, while this one is written): one that
 * fails before it is awaited is not an unhandled rejection (it fails where it is awaited), and
 * `settled` waits for all, so that their connection is given back idle.
 */
export class ReadAhead {
  readonly #pending: Promise<unknown>[] = [];

  read<T>(work: Promise<T>): Promise<T> {
    this.#pending.push(work.catch(() => undefined));
    return work;
  }

  async settled(): Promise<void> {
    await Promise.all(this.#pending);
  }
}
