import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from './helpers/repo.ts';

// Each domain owns the tables its `tables.ts` declares; another module uses them only through
// what the owner publishes (its store's functions, SQL functions, fragments). This test reads the
// declarations and every source file's SQL and Kysely calls, and names each module that touches a
// table of another domain. No database: it reads the sources.

const SRC = path.join(REPO, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

const files = sourceFiles(SRC);
const rel = (file: string) => path.relative(SRC, file).split(path.sep).join('/');

/** A domain is a folder with a `tables.ts`; its tables are the keys of the `…Tables` interfaces declared there. */
function declaredTables(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/export interface \w+Tables\b[^{]*\{([^}]*)\}/g))
    for (const k of m[1].matchAll(/^\s*(\w+)\??\s*:/gm)) out.push(k[1]);
  return out;
}

const domains = files
  .filter((f) => path.basename(f) === 'tables.ts')
  .map((f) => ({ folder: rel(path.dirname(f)), tables: declaredTables(readFileSync(f, 'utf8')) }));

const ownerOf = new Map<string, string>();
for (const d of domains)
  for (const t of d.tables) {
    assert.ok(!ownerOf.has(t), `table ${t} is declared by both ${ownerOf.get(t)} and ${d.folder}`);
    ownerOf.set(t, d.folder);
  }

/** The module a file belongs to: its deepest folder that is a domain, else its folder under src/. */
function moduleOf(file: string): string {
  const folders = rel(path.dirname(file)).split('/');
  for (let n = folders.length; n > 0; n--) {
    const candidate = folders.slice(0, n).join('/');
    if (domains.some((d) => d.folder === candidate)) return candidate;
  }
  return rel(path.dirname(file));
}

/** Comments name tables in prose; only code counts. */
const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

const KYSELY = /\b(?:selectFrom|insertInto|updateTable|deleteFrom|(?:inner|left|right|full|cross)Join)\(\s*['"`](\w+)/g;
const RAW_SQL = /\b(?:from|join|into|update|table)\s+(?:only\s+)?(\w+)/gi;
/** A trigger's table: `after insert or update on t`. */
const TRIGGER_ON = /\b(?:insert|update|delete|truncate)\s+on\s+(\w+)/gi;

/** Every (table) a file's code names in a query. */
function tablesTouched(text: string): Set<string> {
  const code = withoutComments(text);
  const out = new Set<string>();
  for (const m of code.matchAll(KYSELY)) out.add(m[1]);
  // Raw SQL: only inside template literals (sql`…`) and strings, where words after FROM/JOIN/… are table names.
  for (const literal of code.matchAll(/`(?:[^`\\]|\\.)*`/g))
    for (const re of [RAW_SQL, TRIGGER_ON]) for (const m of literal[0].matchAll(re)) out.add(m[1].toLowerCase());
  // `lock table a, b`: every name of the list.
  for (const m of code.matchAll(/lock table ([\w\s,]+?) in /gi)) for (const t of m[1].split(',')) out.add(t.trim());
  return new Set([...out].filter((t) => ownerOf.has(t)));
}

/**
 * Reaches that are known and pending, per file, each with why; nothing may be added. On the stack,
 * another engineer is moving `usage_records`, the resource states and the closing of hours into a
 * new `src/stack/metering/` domain, and rewriting the bridge, the stack's usage APIs and chargeback
 * over its store: until that lands, these files keep their reads where they are.
 */
const ALLOWED: Record<string, string[]> = {
  // Migrations that databases have already run, history rather than reaches that can move: 1101
  // adds the stack's owner column to ARM's subscriptions; 1201 created metering's resource_states
  // (with the resources they reference) before metering had a folder of its own.
  'stack/offers/migrations.ts': ['subscriptions'],
  'stack/resources/migrations.ts': ['resource_states'],
};

describe('table ownership', () => {
  it('finds the domains and their tables', () => {
    assert.equal(ownerOf.get('customer_subscription_links'), 'registration');
    assert.equal(ownerOf.get('usage_attributed'), 'usage');
    assert.equal(ownerOf.get('subscriptions'), 'arm');
    assert.ok(ownerOf.has('usage_records'), 'a stack table is owned by a stack domain');
  });

  it('sees a reach into another domain in Kysely and in raw SQL', () => {
    const probe = "db.selectFrom('invoices'); sql`select 1 from usage_received r join customers c on true`;";
    assert.deepEqual([...tablesTouched(probe)].sort(), ['customers', 'invoices', 'usage_received']);
    assert.deepEqual([...tablesTouched('// reads from invoices\nconst x = 1;')], []);
    assert.deepEqual(
      [...tablesTouched('sql`create trigger x after delete or truncate on prices for each statement`;')],
      ['prices'],
    );
  });

  it('no module touches a table of another domain', () => {
    const violations: string[] = [];
    for (const file of files) {
      const module = moduleOf(file);
      for (const table of tablesTouched(readFileSync(file, 'utf8'))) {
        const owner = ownerOf.get(table);
        if (owner === module || ALLOWED[rel(file)]?.includes(table)) continue;
        violations.push(`${rel(file)} (module ${module}) touches ${table}, owned by ${owner}`);
      }
    }
    assert.deepEqual(violations, []);
  });

  it('keeps no allow-list entry that is no longer needed', () => {
    for (const [file, tables] of Object.entries(ALLOWED)) {
      const full = path.join(SRC, file);
      const touched = files.includes(full) ? tablesTouched(readFileSync(full, 'utf8')) : new Set<string>();
      for (const table of tables)
        assert.ok(
          touched.has(table) && ownerOf.get(table) !== moduleOf(full),
          `${file} no longer reaches ${table}: remove it from ALLOWED`,
        );
    }
  });
});
