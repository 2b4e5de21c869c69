import { InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { parseInstant } from '../core/clock.ts';

// What every command shares: the data folder and --json options, tables for people, JSON for
// scripts, and a progress bar for long work.

export const DEFAULT_DATA = './.stackledger';

export const dataOption = () =>
  new Option('--data <dir>', 'the data folder of the system (its bootstrap.json)').default(DEFAULT_DATA);
export const jsonOption = () => new Option('--json', 'print JSON for scripts');

/** JSON for scripts, or the human rendering. */
export function print(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : human()) + '\n');
}

export type Cell = string | number | boolean | null | undefined;

/** A plain table (no colours, so that it reads the same in a file). */
export function table(head: string[], rows: Cell[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  t.push(...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : c))));
  return t.toString();
}

/** Rows, or a sentence when there are none. */
export function tableOrNone(head: string[], rows: Cell[][], none: string): string {
  return rows.length === 0 ? none : table(head, rows);
}

export function parseTime(v: string): Date {
  const t = parseInstant(v);
  if (!t) throw new InvalidArgumentError('expected an ISO 8601 time, such as 2026-01-01T00:00:00Z');
  return t;
}

export interface Progress {
  update(done: number, label?: string): void;
  stop(): void;
}

/** A progress bar on standard error; drawn only on a terminal, so logs and pipes stay clean. */
export function progressBar(total: number, unit: string): Progress {
  const bar = new SingleBar({
    stream: process.stderr,
    format: `{bar} {percentage}% | {value}/{total} ${unit} | {label}`,
    hideCursor: true,
    clearOnComplete: false,
  });
  bar.start(total, 0, { label: '' });
  return {
    update: (done, label = '') => bar.update(done, { label }),
    stop: () => bar.stop(),
  };
}
