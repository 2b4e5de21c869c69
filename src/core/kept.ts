// A function's answers kept by argument, for the few arguments a hot loop asks again and again
// (an export's dates, a usage page's hours): bounded, and emptied whole when full, since the
// arguments move on together (the next invoice's, the next page's).

/** `compute`, its answers kept for up to `bound` arguments. */
export function keptByArgument<K, V>(compute: (key: K) => V, bound: number): (key: K) => V {
  const values = new Map<K, V>();
  return (key) => {
    let value = values.get(key);
    if (value === undefined) {
      value = compute(key);
      if (values.size >= bound) values.clear();
      values.set(key, value);
    }
    return value;
  };
}
