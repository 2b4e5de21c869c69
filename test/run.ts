// `npm test`: starts one PostgreSQL server for the whole run (the embedded one, unless
// STACKLEDGER_TEST_DATABASE_URL names a server), then runs every test file with node's test runner.
// Each test makes its own databases on that server.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
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
const only = process.argv.slice(2);
const files = only.length > 0 ? only : await testFiles(path.join(root, 'test'));

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
// three and 841 s with four (files also wait: on timers, polling, child processes, the database).
const child = spawn(
  process.execPath,
  ['--expose-gc', '--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=4', ...files],
  {
    stdio: 'inherit',
    env: { ...process.env, STACKLEDGER_TEST_DATABASE_URL: serverUrl },
  },
);
const code: number = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await cleanup();
process.exit(code);
