import type pg from 'pg';
import { ownText } from '../core/kept.ts';
import { openSnapshotTwin } from '../db/database.ts';
import type { TextRow } from '../db/copy-text-rows.ts';
import { type BillingDb, type NameRow, namesOf, namesQuery } from './store.ts';
import type { Names } from './views.ts';

// The names an export's rows write (customers' companies, partners' directories, subscriptions'
// display names), for one invoice: those of its buyer's scope read at once when the invoice
// begins (`buyerScopeNamesQuery`), and any other id a row names (a subscription since moved, or
// gone) asked when a row first names it. Each id has the name `namesQuery` gives it. Read for each
// range of lines instead, the names cost a distinct over the range's lines: a second read of the
// lines the COPY reads (bench `export`).

/** Asks the names of ids in the export's snapshot. */
export type AskNames = (ids: string[]) => Promise<NameRow[]>;

export class ExportNames {
  /** The names known so far, as the rows take them. */
  readonly map: Names;
  /** Ids asked that have no name. */
  private readonly missing = new Set<string>();

  constructor(
    scope: NameRow[],
    private readonly ask: AskNames,
  ) {
    this.map = namesOf(scope);
  }

  /** Learns the names of the ids that `rows` name in `columns` and that are not known yet. */
  async complete(rows: readonly TextRow[], columns: readonly number[]): Promise<void> {
    const unknown = new Set<string>();
    for (let k = 0; k < columns.length; k++) {
      const c = columns[k] as number;
      // An id most often is the row before's (lines are in subscription order): compared, not looked up.
      let before: string | null | undefined;
      for (const row of rows) {
        const id = row[c];
        if (id === before || id === null || id === undefined) continue;
        before = id;
        if (!this.map.has(id) && !this.missing.has(id)) unknown.add(id);
      }
    }
    if (unknown.size === 0) return;
    for (const [id, name] of namesOf(await this.ask([...unknown]))) this.map.set(id, name);
    for (const id of unknown) if (!this.map.has(id)) this.missing.add(ownText(id));
  }
}

/**
 * Asks names in a snapshot (`snapshot`, the export's: both of a streamed export's connections may
 * be in a COPY when a row names an id not known yet) on a connection opened when first needed.
 */
export function namesInSnapshot(
  pool: pg.Pool,
  db: BillingDb,
  snapshot: string,
): { ask: AskNames; close: () => Promise<void> } {
  let twin: Promise<pg.Client> | undefined;
  return {
    async ask(ids) {
      twin ??= openSnapshotTwin(pool, snapshot);
      const query = namesQuery(ids).compile(db);
      return (await (await twin).query<NameRow>(query.sql, [...query.parameters])).rows;
    },
    async close() {
      const opened = await twin?.catch(() => undefined);
      await opened?.end().catch(() => {});
    },
  };
}
