import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeErrorBody, HttpClient, HttpError } from '../core/http-client.ts';
import { appToken } from '../core/tokens.ts';
import type { BootstrapFile } from '../system/up.ts';

// How CLI commands find and call the running system: through DIR/bootstrap.json, like any client.

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Connection {
  bootstrap: BootstrapFile;
  http: HttpClient;
  /** A token for a resource, as the CSP's (default) or the operator's service principal. */
  token(resource: string, as?: 'csp' | 'operator'): Promise<string>;
  close(): Promise<void>;
}

/** The certificate authorities to trust, read from their files. */
export async function caBundle(files: Array<string | undefined>): Promise<string | undefined> {
  const pems = await Promise.all(files.filter((f): f is string => Boolean(f)).map((f) => readFile(f, 'utf8')));
  return pems.length > 0 ? pems.join('\n') : undefined;
}

export async function connect(dataDir: string): Promise<Connection> {
  const file = path.resolve(dataDir, 'bootstrap.json');
  let bootstrap: BootstrapFile;
  try {
    bootstrap = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new CliError(`No running system found: ${file} is missing. Start one with 'stackledger up --data ${dataDir}'.`);
  }
  // A stack's own folder names the hub's authority too: trust both.
  const http = new HttpClient(await caBundle([bootstrap.caFile, (bootstrap.hub as { caFile?: string }).caFile]));
  const cache = new Map<string, string>();
  return {
    bootstrap,
    http,
    async token(resource, as = 'csp') {
      const key = `${as} ${resource}`;
      const cached = cache.get(key);
      if (cached) return cached;
      const who = bootstrap[as];
      if (!who) throw new CliError(`No ${as} credentials in ${file}.`);
      const token = await appToken(http, bootstrap.hub.login, who, resource);
      cache.set(key, token);
      return token;
    },
    close: () => http.close(),
  };
}

/** Runs a client command; a server error becomes a non-zero exit with the server's code and message. */
export async function runClient<T>(dataDir: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  let conn: Connection | undefined;
  try {
    conn = await connect(dataDir);
    return await fn(conn);
  } catch (e) {
    if (e instanceof HttpError) throw new CliError(describeErrorBody(e.body));
    if ((e as any)?.code === 'ECONNREFUSED' || (e as any)?.cause?.code === 'ECONNREFUSED') {
      throw new CliError(`The system in ${dataDir} does not answer: is 'stackledger up --data ${dataDir}' running?`);
    }
    throw e;
  } finally {
    await conn?.close();
  }
}
