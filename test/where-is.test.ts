import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from './helpers/repo.ts';

// ARCHITECTURE.md's "Where is …" table names a file and its symbols per row: each must still exist,
// and the file must still define each symbol (a declaration, an object member, or a SQL function or view),
// so that the table cannot drift from the code.

const ROOT = REPO;
const architecture = readFileSync(path.join(ROOT, 'ARCHITECTURE.md'), 'utf8');

interface Row {
  what: string;
  file: string;
  symbols: string[];
}

function whereIsRows(markdown: string): Row[] {
  const start = markdown.indexOf('## Where is');
  assert.ok(start >= 0, 'ARCHITECTURE.md has a "Where is …" section');
  const end = markdown.indexOf('\n## ', start + 1);
  const rows: Row[] = [];
  // Every row of the table after its header and rule names one file and its symbols: a row in
  // another shape would drop out of the check unseen.
  const lines = markdown
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .slice(2);
  for (const line of lines) {
    const m = /^\|\s*(.+?)\s*\|\s*`([^`]+)`\s*\|\s*(`[^`]+`(?:,\s*`[^`]+`)*)\s*\|$/.exec(line);
    assert.ok(m, `a row of "Where is …" names one file and its symbols: ${line}`);
    rows.push({ what: m[1], file: m[2], symbols: [...m[3].matchAll(/`([^`]+)`/g)].map((s) => s[1]) });
  }
  return rows;
}

/** Whether `source` defines `symbol`: as a declaration, an object member, a method, or a SQL function or view. */
export function defines(source: string, symbol: string): boolean {
  const s = symbol.replace(/[$]/g, '\\$');
  return [
    new RegExp(`\\b(function|const|let|class|interface|type|enum)\\s+${s}\\b`),
    new RegExp(`^\\s*(async\\s+)?${s}\\s*(<[^>]*>)?\\(`, 'm'),
    new RegExp(`^\\s*${s}\\s*:`, 'm'),
    new RegExp(`create\\s+(or\\s+replace\\s+)?function\\s+${s}\\s*\\(`, 'i'),
    new RegExp(`create\\s+(or\\s+replace\\s+)?view\\s+${s}\\b`, 'i'),
  ].some((re) => re.test(source));
}

describe('ARCHITECTURE.md "Where is …"', () => {
  const rows = whereIsRows(architecture);

  it('lists the places a newcomer looks for first', () => {
    assert.ok(rows.length >= 15, `the table has ${rows.length} rows`);
    for (const topic of [
      'closing an hour',
      'registration error',
      'link rule',
      'rounding',
      'audience',
      'period close',
      'quarantine',
    ])
      assert.ok(
        rows.some((r) => r.what.includes(topic)),
        `a row about ${topic}`,
      );
  });

  it('tells a definition from a mention', () => {
    assert.ok(defines('export async function closeHour(db) {}', 'closeHour'));
    assert.ok(defines('export const store = {\n  closeHour: async (db) => 1,\n};', 'closeHour'));
    assert.ok(defines('class X {\n  async verify(token: string) {}\n}', 'verify'));
    assert.ok(defines('create function link_in_force(p uuid)', 'link_in_force'));
    assert.ok(!defines('// closeHour is called by the job\nawait meteringStore.closeHour(db);', 'closeHour'));
  });

  for (const row of rows) {
    it(`${row.what}: ${row.file} defines ${row.symbols.join(', ')}`, () => {
      const file = path.join(ROOT, row.file);
      assert.ok(existsSync(file), `${row.file} exists`);
      const text = readFileSync(file, 'utf8');
      for (const symbol of row.symbols) assert.ok(defines(text, symbol), `${row.file} defines ${symbol}`);
    });
  }
});
