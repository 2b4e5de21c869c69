// Runs the real `stackledger` command as a child process, as a person or a script would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { UndeclaredJson } from '../../src/core/http-client.ts';
import type { TestBootstrap } from './system.ts';
import { REPO } from './repo.ts';

export const BIN = path.join(REPO, 'bin', 'stackledger.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string | undefined> = {}, bin = BIN): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Background {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** Starts a long-running command (of this checkout, or of `bin`) and waits until its output contains `ready`. */
export async function startBackground(
  args: string[],
  ready: RegExp,
  env: Record<string, string | undefined> = {},
  timeoutMs = 60_000,
  bin = BIN,
): Promise<Background> {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? String(signal))),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    void exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`exited (${c}) before ready:\n${out}${whoHoldsPort(out)}`));
    });
  });
  return { child, output: () => out, exited };
}

/**
 * When a command could not listen on its port, what holds that port (`ss`, where there is one): a
 * restart on the same port has failed so now and then, its cause not yet found.
 */
function whoHoldsPort(output: string): string {
  const port = /Port (\d+) on \S+ is already in use/.exec(output)?.[1];
  if (port === undefined) return '';
  const r = spawnSync('ss', ['-tanpe', `sport = :${port}`], { encoding: 'utf8' });
  return `\nsockets on port ${port} (ss -tanpe):\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
}

/** Runs a command that must succeed, with --json, and answers what it printed, parsed. */
export async function cliJson<T = UndeclaredJson>(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<T> {
  const r = await cli([...args, '--json'], env);
  if (r.code !== 0) throw new Error(`stackledger ${args.join(' ')} exited with ${r.code}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** `stackledger stack` against a running hub (as its bootstrap.json names it), with the operator's admin. */
export function stackProcessArgs(
  hb: TestBootstrap,
  o: { data: string; database: string; name?: string; clock?: string },
): string[] {
  return [
    'stack',
    '--data',
    o.data,
    '--port',
    '0',
    '--database',
    o.database,
    ...(o.name ? ['--name', o.name, '--location', o.name] : []),
    '--hub',
    hb.hub.arm,
    '--hub-ca',
    hb.caFile,
    '--admin-user',
    hb.operator.admin.userName,
    ...(o.clock ? ['--clock', o.clock] : []),
  ];
}

/** The operator's automation credentials, as a stack process reads them from its environment. */
export const operatorEnv = (hb: TestBootstrap, secret = hb.operator.clientSecret) => ({
  STACKLEDGER_OPERATOR_TENANT_ID: hb.operator.tenantId,
  STACKLEDGER_OPERATOR_CLIENT_ID: hb.operator.clientId,
  STACKLEDGER_OPERATOR_CLIENT_SECRET: secret,
});
