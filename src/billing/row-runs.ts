import type { ByteChunks } from '../core/byte-chunks.ts';

// An export's rows written as bytes, most of a row copied from texts made once. A row's cells
// fall in runs (neighbouring cells) whose text is the same for every line of one kind (line type
// and meter) with the same value of one column (its customer, its day, its subscription…): each
// run's text is made and encoded once per such value and kept, and a row is those kept bytes,
// copied, with its line's own cells between them. Made as one string a row instead, a row's
// text cost more to flatten and encode than to make (bench `export`).

/**
 * What a cell's text depends on besides the row's context (its invoice and names): its line's
 * kind only (`'kind'`), its kind and the value `key` answers for its line, or the line itself.
 */
export type DependsOn<L> = 'kind' | 'line' | ((line: L) => unknown);

/** A cell of a row: its text (with what goes before it: a separator, a name) from a line and the row's context. */
export interface RowCell<L, C> {
  dependsOn: DependsOn<L>;
  text: (line: L, context: C) => string;
}

type Text<L, C> = (line: L, context: C) => string;

/** A run of cells written once per kind and value of `key` (none: per kind). */
interface Run<L, C> {
  key: ((line: L) => unknown) | undefined;
  cells: Text<L, C>[];
}

/** Runs' texts kept for one context, at most: past it they are dropped, and made again as lines ask. */
const KEPT = 50_000;

export class RowRuns<L, C> {
  private readonly runs: Run<L, C>[] = [];
  /** A row, in order: a run (its index) or a line's own cells' text. */
  private readonly parts: (number | Text<L, C>)[] = [];
  private context: C | undefined;
  /** Each kind's runs' texts by key, by line type and meter. */
  private readonly kinds = new Map<unknown, Map<unknown, Map<unknown, Buffer>[]>>();
  private kept = 0;

  constructor(cells: readonly RowCell<L, C>[]) {
    let run: Run<L, C> | undefined;
    let own: Text<L, C>[] = [];
    const endOwn = () => {
      if (own.length > 0) this.parts.push(joined(own));
      own = [];
    };
    for (const cell of cells) {
      if (cell.dependsOn === 'line') {
        own.push(cell.text);
        run = undefined;
        continue;
      }
      const key = cell.dependsOn === 'kind' ? undefined : cell.dependsOn;
      // A cell of the kind joins the run before it; a cell of a key, the run of its key before it, or one without a key.
      if (run !== undefined && (key === undefined || run.key === undefined || run.key === key)) {
        run.key ??= key;
        run.cells.push(cell.text);
        continue;
      }
      endOwn();
      run = { key, cells: [cell.text] };
      this.parts.push(this.runs.push(run) - 1);
    }
    endOwn();
  }

  /** Writes the row of `line` (whose kind is `type` and `meter`) into `out`; its texts are kept while `context` is the same object. */
  write(out: ByteChunks, line: L, context: C, type: unknown, meter: unknown): void {
    if (context !== this.context) {
      this.context = context;
      this.dropKept();
    }
    const kept = this.keptOf(type, meter);
    for (let p = 0; p < this.parts.length; p++) {
      const part = this.parts[p] as number | Text<L, C>;
      if (typeof part !== 'number') {
        out.add(part(line, context));
        continue;
      }
      const run = this.runs[part] as Run<L, C>;
      const texts = kept[part] as Map<unknown, Buffer>;
      const key = run.key === undefined ? undefined : run.key(line);
      let bytes = texts.get(key);
      if (bytes === undefined) {
        let text = '';
        for (const cell of run.cells) text += cell(line, context);
        bytes = Buffer.from(text);
        if (this.kept >= KEPT) this.dropKept();
        texts.set(key, bytes);
        this.kept++;
      }
      out.bytes(bytes);
    }
  }

  private keptOf(type: unknown, meter: unknown): Map<unknown, Buffer>[] {
    let byMeter = this.kinds.get(type);
    if (byMeter === undefined) {
      byMeter = new Map();
      this.kinds.set(type, byMeter);
    }
    let kept = byMeter.get(meter);
    if (kept === undefined) {
      kept = this.runs.map(() => new Map());
      byMeter.set(meter, kept);
    }
    return kept;
  }

  private dropKept(): void {
    this.kinds.clear();
    this.kept = 0;
  }
}

/** The texts of neighbouring cells as one. */
function joined<L, C>(texts: Text<L, C>[]): Text<L, C> {
  if (texts.length === 1) return texts[0] as Text<L, C>;
  return (line, context) => {
    let text = '';
    for (const t of texts) text += t(line, context);
    return text;
  };
}
