// The one reporter of `npm run bench`: each bench answers what it measured, and this prints it,
// as a readable block or (`--json`) as one JSON object per line.

export interface BenchResult {
  /** The bench's name, as `npm run bench -- <name>` selects it. */
  benchmark: string;
  /** What was measured, in words. */
  title: string;
  /** Our time (the median of the runs), in milliseconds. */
  ours_ms: number;
  /** The baseline's time in the same run, in milliseconds. */
  baseline_ms: number;
  /** What the baseline is. */
  baseline: string;
  /** The highest ratio (ours ÷ baseline time) the scale issue accepts; null where it sets none. */
  target: number | null;
  /** The sizes the bench ran with. */
  sizes: Record<string, number>;
  /** Anything else it measured (each run's times, rates, memory). */
  details: Record<string, unknown>;
}

const round = (ms: number) => Math.round(ms);

/** The middle of a bench's runs. */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function report(result: BenchResult, json: boolean): void {
  const ratio = Number((result.ours_ms / result.baseline_ms).toFixed(2));
  if (json) {
    const { benchmark, title, ours_ms, baseline_ms, baseline, target, sizes, details } = result;
    const line = {
      benchmark,
      ours_ms: round(ours_ms),
      baseline_ms: round(baseline_ms),
      ratio,
      target,
      sizes,
      title,
      baseline,
      details,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    return;
  }
  const sizes = Object.entries(result.sizes)
    .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
    .join(', ');
  const verdict =
    result.target === null
      ? 'no target'
      : ratio <= result.target
        ? `target ≤ ${result.target}×: met`
        : `target ≤ ${result.target}×: NOT met`;
  process.stdout.write(
    [
      `${result.benchmark}: ${result.title} (${sizes})`,
      `  ours      ${round(result.ours_ms).toLocaleString('en-US')} ms`,
      `  baseline  ${round(result.baseline_ms).toLocaleString('en-US')} ms (${result.baseline})`,
      `  ratio     ${ratio}× (${verdict})`,
      ...Object.entries(result.details).map(([k, v]) => `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`),
      '',
    ].join('\n'),
  );
}
