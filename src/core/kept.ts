// A function's answers kept by argument, for the few arguments a hot loop asks again and again
// (an export's dates, a usage page's hours): bounded, and emptied whole when full, since the
// arguments move on together (the next invoice's, the next page's).

/**
 * `text` as a string of its own. A string cut from a longer one (a value read from a chunk of a
 * COPY's answer, `copy-text-rows.ts`) holds the whole of that one: kept past the chunk (the key of
 * a kept answer), it would keep 64 kB alive for every value kept. Only where a value is kept.
 */
export function ownText(text: string): string {
  // V8 copies what is cut shorter than 13 characters. A round trip through bytes copies a string
  // exactly: one byte a character where each fits in one (a string of one-byte characters again).
  if (text.length < 13) return text;
  const encoding = BEYOND_LATIN1.test(text) ? 'utf16le' : 'latin1';
  return Buffer.from(text, encoding).toString(encoding);
}
const BEYOND_LATIN1 = /[\u0100-\uffff]/;

/** A key to keep: a string as a string of its own (`ownText`), anything else as it is. */
export const ownKey = <K>(key: K): K => (typeof key === 'string' ? (ownText(key) as K) : key);

/**
 * A value kept for the two values it was made for last (each compared with ===): for a loop whose
 * rows mostly repeat the row before's (an export's lines, numbered by subscription, meter,
 * resource and day), where a look-up would hash its key anew for each row.
 */
export class KeptForLast<V> {
  private a: unknown;
  private b: unknown;
  private value: V | undefined;

  /** The value kept, if it was kept for `a` and `b`. */
  of(a: unknown, b: unknown): V | undefined {
    return a === this.a && b === this.b ? this.value : undefined;
  }

  /** Keeps `value` for `a` and `b`, and answers it. */
  keep(a: unknown, b: unknown, value: V): V {
    this.a = a;
    this.b = b;
    this.value = value;
    return value;
  }
}

/** `compute`, its answers kept for up to `bound` arguments. */
export function keptByArgument<K, V>(compute: (key: K) => V, bound: number): (key: K) => V {
  const values = new Map<K, V>();
  return (key) => {
    let value = values.get(key);
    if (value === undefined) {
      value = compute(key);
      if (values.size >= bound) values.clear();
      values.set(ownKey(key), value);
    }
    return value;
  };
}

/**
 * `compute`, its answer kept for the arguments it was asked last (each compared with ===): for a
 * loop that asks the same again and again in a row (an export line's fields that say one thing
 * twice, a usage page's runs of one meter or one hour). Up to three arguments, so that no call
 * makes an array.
 */
export function keptForLast<A, B, C, V>(compute: (a: A, b: B, c: C) => V): (a: A, b: B, c?: C) => V {
  let asked = false;
  let lastA: A | undefined;
  let lastB: B | undefined;
  let lastC: C | undefined;
  let kept: V | undefined;
  return (a, b, c) => {
    if (!asked || a !== lastA || b !== lastB || c !== lastC) {
      kept = compute(a, b, c as C);
      asked = true;
      lastA = a;
      lastB = b;
      lastC = c;
    }
    return kept as V;
  };
}
