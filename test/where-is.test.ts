import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from './helpers/repo.ts';

// ARCHITECTURE.md's "Where is …" table names a file and a symbol per row: each must still exist,
// and the file must still define the symbol (a declaration, an object member, or a SQL function or view),
// so that the table cannot drift from the code.

const ROOT = REPO;
const architecture = readFileSync(path.join(ROOT, 'ARCHITECTURE.md'), 'utf8');

interface Row {
  what: string;
  file: string;
  symbol: string;
}

function whereIsRows(markdown: string): Row[] {
  const start = markdown.indexOf('## Where is');
  assert.ok(start >= 0, 'ARCHITECTURE.md has a "Where is …" section');
  const end = markdown.indexOf('\n## ', start + 1);
  const rows: Row[] = [];
  for (const line of markdown.slice(start, end).split('\n')) {
    const m = /^\|\s*(.+?)\s*\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|$/.exec(line);
    if (m) rows.push({ what: m[1], file: m[2], symbol: m[3] });
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
    it(`${row.what}: ${row.file} defines ${row.symbol}`, () => {
      const file = path.join(ROOT, row.file);
      assert.ok(existsSync(file), `${row.file} exists`);
      assert.ok(defines(readFileSync(file, 'utf8'), row.symbol), `${row.file} defines ${row.symbol}`);
    });
  }
});
