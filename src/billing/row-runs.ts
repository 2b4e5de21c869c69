import type { ByteChunks } from '../core/byte-chunks.ts';
import { KeptForLast, ownKey, ownText } from '../core/kept.ts';

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

/**
 * A line's own text: its cells, and the kind's cells between them (an index of `kindCells`), which are
 * written into it, where copying them apart cost more than the few bytes they are.
 */
type OwnText<L, C> = (Text<L, C> | number)[];

/** A kind's kept texts: its runs' bytes by run and key, and its cells written into lines' own texts. */
interface KindTexts {
  byKey: Map<unknown, Buffer>[];
  own: (string | undefined)[];
}

/**
 * What an export keeps for each kind of line (its line type, then its meter), made when a kind
 * first comes (from `made`, a line of it).
 */
export class ByKind<T, A = void> {
  private readonly byType = new Map<unknown, Map<unknown, T>>();
  /** The kind asked last (most lines are of the kind of the line before: compared, not looked up). */
  private readonly last = new KeptForLast<T>();

  constructor(private readonly make: (made: A) => T) {}

  of(type: unknown, meter: unknown, made: A): T {
    return this.last.of(type, meter) ?? this.last.keep(type, meter, this.lookUp(type, meter, made));
  }

  private lookUp(type: unknown, meter: unknown, made: A): T {
    let byMeter = this.byType.get(type);
    if (byMeter === undefined) {
      byMeter = new Map();
      this.byType.set(ownKey(type), byMeter);
    }
    let kept = byMeter.get(meter);
    if (kept === undefined) {
      kept = this.make(made);
      byMeter.set(ownKey(meter), kept);
    }
    return kept;
  }
}

/** Runs' texts a writer keeps, at most: past it they are dropped, and made again as lines ask. */
const KEPT = 50_000;

/** How rows of cells are written: runs of cells, and lines' own texts between them. */
export class RowRuns<L, C> {
  readonly runs: Run<L, C>[] = [];
  /** The kind's cells written into lines' own texts, each a few neighbouring ones. */
  readonly kindCells: Text<L, C>[][] = [];
  /** A row, in order: a run (its index) or a line's own text. */
  readonly parts: (number | OwnText<L, C>)[] = [];

  constructor(cells: readonly RowCell<L, C>[]) {
    let run: Run<L, C> | undefined;
    let own: OwnText<L, C> | undefined;
    // The kind's cells after a line's own: written into it if another of its own follows, else the next run's.
    let kindAfterOwn: Text<L, C>[] = [];
    for (const cell of cells) {
      if (cell.dependsOn === 'line') {
        if (own === undefined) {
          own = [];
          this.parts.push(own);
        }
        if (kindAfterOwn.length > 0) own.push(this.kindCells.push(kindAfterOwn) - 1);
        own.push(cell.text);
        kindAfterOwn = [];
        run = undefined;
        continue;
      }
      const key = cell.dependsOn === 'kind' ? undefined : cell.dependsOn;
      if (run === undefined && own !== undefined && key === undefined) {
        kindAfterOwn.push(cell.text);
        continue;
      }
      // A cell of the kind joins the run before it; a cell of a key, the run of its key before it, or one without a key.
      if (run !== undefined && (key === undefined || run.key === undefined || run.key === key)) {
        run.key ??= key;
        run.cells.push(cell.text);
        continue;
      }
      run = { key, cells: [...kindAfterOwn, cell.text] };
      this.parts.push(this.runs.push(run) - 1);
      own = undefined;
      kindAfterOwn = [];
    }
    if (kindAfterOwn.length > 0) this.parts.push(this.runs.push({ key: undefined, cells: kindAfterOwn }) - 1);
  }

  /** A writer of rows in `context` (an invoice's, with its names), which keeps their texts. */
  writer(context: C): RowWriter<L, C> {
    return new RowWriter(this, context);
  }
}

/** Writes rows in one context, keeping their texts for the rows that follow. */
export class RowWriter<L, C> {
  /** Each kind's texts. */
  private kinds: ByKind<KindTexts>;
  private kept = 0;
  /** Each run's bytes for the kind and key of the row before (a row's are mostly those). */
  private readonly lastRuns: KeptForLast<Buffer>[];

  constructor(
    private readonly rows: RowRuns<L, C>,
    private readonly context: C,
  ) {
    this.kinds = this.keptTexts();
    this.lastRuns = rows.runs.map(() => new KeptForLast());
  }

  /** Writes the row of `line` (whose kind is `type` and `meter`) into `out`. */
  write(out: ByteChunks, line: L, type: unknown, meter: unknown): void {
    const { parts, runs } = this.rows;
    const kept = this.kinds.of(type, meter);
    for (let p = 0; p < parts.length; p++) {
      const part = parts[p] as number | OwnText<L, C>;
      if (typeof part !== 'number') {
        let text = '';
        for (let i = 0; i < part.length; i++) {
          const piece = part[i] as Text<L, C> | number;
          text += typeof piece === 'number' ? this.kindText(kept, piece, line) : piece(line, this.context);
        }
        out.add(text);
        continue;
      }
      const run = runs[part] as Run<L, C>;
      const key = run.key === undefined ? undefined : run.key(line);
      const last = this.lastRuns[part] as KeptForLast<Buffer>;
      let bytes = last.of(kept, key);
      if (bytes === undefined) {
        const texts = kept.byKey[part] as Map<unknown, Buffer>;
        bytes = texts.get(key);
        if (bytes === undefined) {
          bytes = Buffer.from(textOf(run.cells, line, this.context));
          if (this.kept >= KEPT) this.dropKept();
          texts.set(ownKey(key), bytes);
          this.kept++;
        }
        last.keep(kept, key, bytes);
      }
      out.bytes(bytes);
    }
  }

  /** The kind's cells `kindCells[index]`, as text, kept. */
  private kindText(kept: KindTexts, index: number, line: L): string {
    let text = kept.own[index];
    if (text === undefined) {
      text = ownText(textOf(this.rows.kindCells[index], line, this.context));
      kept.own[index] = text;
    }
    return text;
  }

  private keptTexts(): ByKind<KindTexts> {
    return new ByKind(() => ({ byKey: this.rows.runs.map(() => new Map()), own: [] }));
  }

  private dropKept(): void {
    this.kinds = this.keptTexts();
    this.kept = 0;
  }
}

/** The text of cells, one after the other. */
function textOf<L, C>(cells: Text<L, C>[] | undefined, line: L, context: C): string {
  let text = '';
  for (const cell of cells ?? []) text += cell(line, context);
  return text;
}
