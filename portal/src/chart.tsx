import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { findMeter } from '../../src/core/meters.ts';
import { loadConfig } from './session.ts';
import { ErrorMessage, formatQuantity, formatTime, useLoad } from './ui.tsx';

// A usage chart: quantity per meter over time, one line per meter, with the totals as a table
// beside it (readable without the picture). The range ends at the hub's current time, which under
// a simulated clock is not the browser's.

export interface UsagePoint {
  /** Start of the hour or day, epoch milliseconds. */
  start: number;
  meterId: string;
  quantity: number;
}

export interface UsageRange {
  start: Date;
  end: Date;
  granularity: 'Hourly' | 'Daily';
}

const SPANS = {
  '48h': { label: 'Last 48 hours, hourly', granularity: 'Hourly', hours: 48 },
  '7d': { label: 'Last 7 days, hourly', granularity: 'Hourly', hours: 7 * 24 },
  '31d': { label: 'Last 31 days, daily', granularity: 'Daily', hours: 31 * 24 },
} as const;
type SpanId = keyof typeof SPANS;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function rangeOf(span: SpanId, now: Date): UsageRange {
  const { granularity, hours } = SPANS[span];
  const step = granularity === 'Hourly' ? HOUR : DAY;
  // The usage APIs take hour (or midnight) boundaries no later than now.
  const end = Math.floor(now.getTime() / step) * step;
  return { start: new Date(end - hours * HOUR), end: new Date(end), granularity };
}

const COLORS = ['#2563eb', '#d97706', '#059669', '#7c3aed', '#dc2626', '#0891b2', '#4b5563', '#be185d'];

export const meterName = (id: string) => findMeter(id)?.name ?? id;
const meterUnit = (id: string) => findMeter(id)?.unit ?? '';

function Plot({ range, points }: { range: UsageRange; points: UsagePoint[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const step = range.granularity === 'Hourly' ? HOUR : DAY;
    const times: number[] = [];
    for (let t = range.start.getTime(); t < range.end.getTime(); t += step) times.push(t);
    const meters = [...new Set(points.map((p) => p.meterId))];
    const series = meters.map((m) => {
      const values = times.map(() => 0);
      for (const p of points) {
        if (p.meterId !== m) continue;
        const i = Math.floor((p.start - range.start.getTime()) / step);
        if (i >= 0 && i < values.length) values[i] += p.quantity;
      }
      return values;
    });
    const size = () => ({ width: Math.max(260, el.clientWidth), height: el.clientWidth < 500 ? 220 : 300 });
    const plot = new uPlot(
      {
        ...size(),
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        series: [
          {},
          ...meters.map((m, i) => ({
            label: meterName(m),
            stroke: COLORS[i % COLORS.length],
            width: 2,
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatQuantity(v)),
          })),
        ],
        axes: [{}, { label: 'quantity', size: 60 }],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      },
      [times.map((t) => t / 1000), ...series],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize(size()));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [range, points]);
  return <div ref={box} class="plot" />;
}

export function UsageChart(props: {
  title: string;
  load: (range: UsageRange) => Promise<UsagePoint[]>;
  deps: unknown[];
}) {
  const [span, setSpan] = useState<SpanId>('48h');
  const state = useLoad(async () => {
    const config = await loadConfig();
    const range = rangeOf(span, new Date(config.clock.now));
    return { range, points: await props.load(range) };
  }, [span, ...props.deps]);
  const totals = new Map<string, number>();
  for (const p of state.data?.points ?? []) totals.set(p.meterId, (totals.get(p.meterId) ?? 0) + p.quantity);
  return (
    <figure class="chart" aria-label={props.title}>
      <figcaption>
        <span>{props.title}</span>
        <span class="chart-controls">
          <select aria-label="Time range" value={span} onChange={(e) => setSpan(e.currentTarget.value as SpanId)}>
            {Object.entries(SPANS).map(([id, s]) => (
              <option value={id}>{s.label}</option>
            ))}
          </select>
          <button type="button" class="secondary" onClick={state.reload}>
            Refresh
          </button>
        </span>
      </figcaption>
      <ErrorMessage error={state.error} title="Could not load usage" />
      {state.data && (
        <>
          <p class="muted">
            {formatTime(state.data.range.start.toISOString())} to {formatTime(state.data.range.end.toISOString())}
          </p>
          {state.data.points.length === 0 ? (
            <p class="muted empty-usage">No usage in this range yet. Hours are reported once they close.</p>
          ) : (
            <>
              <Plot range={state.data.range} points={state.data.points} />
              <table class="totals" aria-label="Usage totals">
                <thead>
                  <tr>
                    <th scope="col">Meter</th>
                    <th scope="col" class="num">
                      Total
                    </th>
                    <th scope="col">Unit</th>
                  </tr>
                </thead>
                <tbody>
                  {[...totals].map(([meter, total]) => (
                    <tr>
                      <td>{meterName(meter)}</td>
                      <td class="num">{formatQuantity(total)}</td>
                      <td>{meterUnit(meter)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </>
      )}
      {state.loading && !state.data && <p class="muted">Loading usage…</p>}
    </figure>
  );
}
