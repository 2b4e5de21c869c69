import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ARM_BODY_ONLY_CODES, ARM_CODES } from '../src/core/errors/arm-codes.ts';
import { GRAPH_CODES } from '../src/core/errors/graph-codes.ts';
import { OAUTH_CODES } from '../src/core/errors/oauth-codes.ts';
import { PARTNER_CENTER_CODES } from '../src/core/errors/partner-codes.ts';
import { REPO } from './helpers/repo.ts';

// Each API family's error codes live in one table with their status, and errors are made only by
// the family's factory (src/core/errors.ts), which looks the status up there. No database: this
// test reads the tables and the sources.

const SRC = path.join(REPO, 'src');
const FACTORY = 'core/errors.ts';
const TABLES = 'core/errors/';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Comments name classes and codes in prose; only code counts. */
const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

const sources = sourceFiles(SRC).map((file) => ({
  file: path.relative(SRC, file).split(path.sep).join('/'),
  code: withoutComments(readFileSync(file, 'utf8')),
}));
const outsideTables = sources.filter((s) => !s.file.startsWith(TABLES));

const FAMILIES = {
  armError: ARM_CODES,
  partnerCenterError: PARTNER_CENTER_CODES,
  graphError: GRAPH_CODES,
  oauthError: OAUTH_CODES,
} as const;

/** Every `factory('Code'` in the sources, with where it is. */
function literalCodes(factory: string): { file: string; code: string }[] {
  const call = new RegExp(`\\b${factory}\\(\\s*'([^']*)'`, 'g');
  return outsideTables.flatMap((s) => [...s.code.matchAll(call)].map((m) => ({ file: s.file, code: m[1] })));
}

/** The partner center's `partnerErrors.notFound('Customer', …)` answers `CustomerNotFound`. */
const partnerNotFoundCodes = () =>
  outsideTables.flatMap((s) =>
    [...s.code.matchAll(/\bpartnerErrors\.notFound\(\s*'(\w+)'/g)].map((m) => ({
      file: s.file,
      code: `${m[1]}NotFound`,
    })),
  );

describe('error codes', () => {
  it('every code of every table has a 4xx or 5xx status', () => {
    const statuses: [string, number][] = [
      ...Object.entries(ARM_CODES).map(([c, s]): [string, number] => [`ARM ${c}`, s]),
      ...Object.entries(PARTNER_CENTER_CODES).map(([c, s]): [string, number] => [`partner center ${c}`, s]),
      ...Object.entries(GRAPH_CODES).map(([c, s]): [string, number] => [`graph ${c}`, s]),
      ...Object.entries(OAUTH_CODES).map(([c, e]): [string, number] => [`OAuth ${c}`, e.status]),
    ];
    assert.ok(statuses.length > 150);
    const bad = statuses.filter(([, s]) => !(Number.isInteger(s) && s >= 400 && s <= 599));
    assert.deepEqual(bad, []);
  });

  it("OAuth's table is keyed by AADSTS codes and names OAuth's error for each", () => {
    for (const [code, entry] of Object.entries(OAUTH_CODES)) {
      assert.match(code, /^AADSTS\d+$/);
      assert.match(entry.error, /^[a-z_]+$/, code);
    }
  });

  it('a body-only ARM code is not also one with a status', () => {
    for (const code of ARM_BODY_ONLY_CODES) assert.ok(!(code in ARM_CODES), code);
  });

  it('no source file outside the factory constructs the error classes', () => {
    const direct = sources
      .filter((s) => s.file !== FACTORY && /\bnew (?:ArmError|OAuthError)\s*\(/.test(s.code))
      .map((s) => s.file);
    assert.deepEqual(direct, []);
  });

  it('every code a factory is called with is in its family table', () => {
    const unknown: string[] = [];
    let seen = 0;
    for (const [factory, table] of Object.entries(FAMILIES)) {
      const uses =
        factory === 'partnerCenterError'
          ? [...literalCodes(factory), ...partnerNotFoundCodes()]
          : literalCodes(factory);
      seen += uses.length;
      for (const u of uses) if (!(u.code in table)) unknown.push(`${u.file}: ${factory}('${u.code}')`);
    }
    assert.ok(seen > 200, `only ${seen} factory calls found: is the scan still reading the sources?`);
    assert.deepEqual(unknown, []);
  });

  it('every code put in an error body by hand is in the ARM table or its body-only list', () => {
    const known = new Set<string>([...Object.keys(ARM_CODES), ...ARM_BODY_ONLY_CODES]);
    const unknown = outsideTables.flatMap((s) =>
      [...s.code.matchAll(/\bcode: '([A-Z]\w*)'/g)].filter((m) => !known.has(m[1])).map((m) => `${s.file}: ${m[1]}`),
    );
    assert.deepEqual(unknown, []);
  });

  it('every code in a table is used somewhere in the sources', () => {
    const everything = outsideTables.map((s) => s.code).join('\n');
    const notFoundSubjects = new Set(partnerNotFoundCodes().map((u) => u.code));
    const unused = [
      ...Object.keys(ARM_CODES),
      ...ARM_BODY_ONLY_CODES,
      ...Object.keys(GRAPH_CODES),
      ...Object.keys(OAUTH_CODES),
      ...Object.keys(PARTNER_CENTER_CODES).filter((c) => !notFoundSubjects.has(c)),
    ].filter((code) => !everything.includes(`'${code}'`));
    assert.deepEqual(unused, []);
  });
});
