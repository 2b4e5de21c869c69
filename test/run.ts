// `npm test`: starts one PostgreSQL server for the whole run (the embedded one, unless
// STACKLEDGER_TEST_DATABASE_URL names a server), then runs every test file with node's test runner.
// Each test makes its own databases on that server.
//
// The files run compiled when `tsc -p tsconfig.test.json` (npm test's type check) has written
// .test-build/ after the last change to any source or test: through tsx, each file's process spent
// ~2.2 s and ~3.5 s of CPU loading the system, compiled ~1.3 s and ~1.9 s (tsx's hooks cost the
// same over plain JavaScript). Otherwise, after an edit, they run through tsx as they are.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedCluster } from '../src/db/embedded.ts';

async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await testFiles(full)));
    else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out.sort();
}

const root = path.resolve(import.meta.dirname, '..');
const only = process.argv.slice(2).map((f) => path.resolve(f));
const sources = only.length > 0 ? only : await testFiles(path.join(root, 'test'));

const BUILD = path.join(root, '.test-build');
/** The newest time any file under `dirs` was changed. */
async function newest(dirs: string[]): Promise<number> {
  let t = 0;
  for (const dir of dirs)
    for (const f of await readdir(dir, { recursive: true })) t = Math.max(t, (await stat(path.join(dir, f))).mtimeMs);
  return t;
}
/** A test file's compiled form, if it is newer than every source and test file. */
async function compiledFiles(files: string[]): Promise<string[] | undefined> {
  const changed = await newest(['src', 'test', 'bench'].map((d) => path.join(root, d)));
  const compiled: string[] = [];
  for (const f of files) {
    const js = path.join(BUILD, path.relative(root, f)).replace(/\.ts$/, '.js');
    const built = await stat(js).catch(() => undefined);
    if (!built || built.mtimeMs < changed) return undefined;
    compiled.push(js);
  }
  return compiled;
}
// The slowest files start first, so that none of them is left running alone at the end: in
// alphabetical order a four-at-a-time run took 852 s against 741 s of its files' durations summed
// and divided by four. Durations of one whole run (session 15), longest first; the rest follow in
// alphabetical order.
const SLOWEST = [
  'azure-cli', // 557 s
  'install', // 174 s
  'faults', // 160 s
  'crash', // 158 s
  'cli-flow', // 129 s
  'fuzz', // 113 s
  'portal-people', // 98 s
  'cli-up', // 92 s
  'portal', // 87 s
  'billing-export', // 73 s
  'clock', // 60 s
];
const rank = (f: string) => {
  const i = SLOWEST.indexOf(path.basename(f, '.test.ts'));
  return i < 0 ? SLOWEST.length : i;
};
sources.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const compiled = await compiledFiles(sources);
const files = compiled ?? sources;
// The compiled sources find the portal's build and the installation's cache one folder deeper
// (`../../portal/dist` from .test-build/src/hub): the same folders, linked.
if (compiled)
  for (const dir of ['portal', 'node_modules'])
    await symlink(path.join('..', dir), path.join(BUILD, dir)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });

let serverUrl = process.env.STACKLEDGER_TEST_DATABASE_URL;
let cleanup = async () => {};
if (!serverUrl) {
  const dir = await mkdtemp(path.join(tmpdir(), 'stackledger-test-pg-'));
  // The run's cluster is deleted at its end (the crash tests kill our processes, never PostgreSQL).
  const cluster = await startEmbeddedCluster(path.join(dir, 'pg'), undefined, { throwaway: true });
  serverUrl = cluster.url('postgres');
  cleanup = async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  };
  process.stdout.write(
    `tests use the embedded PostgreSQL server at ${serverUrl.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@')}\n`,
  );
} else {
  process.stdout.write(
    `tests use the PostgreSQL server at ${serverUrl.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@')}\n`,
  );
}

// Four files at a time: the whole run took 988–1,022 s with two on this 2-core machine, 872 s with
// three and 841 s with four (files also wait: on timers, polling, child processes, the database);
// 944 s with five (session 16, against 751–854 s with four), the Azure CLI's file, the longest,
// slowed most: its VM test took 365 s against 235.
process.stdout.write(compiled ? 'tests run compiled, from .test-build/\n' : 'tests run through tsx\n');
const child = spawn(
  process.execPath,
  [
    '--expose-gc',
    ...(compiled ? [] : ['--import', 'tsx']),
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=4',
    ...files,
  ],
  {
    stdio: 'inherit',
    env: { ...process.env, STACKLEDGER_TEST_DATABASE_URL: serverUrl },
  },
);
const code: number = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await cleanup();
process.exit(code);
