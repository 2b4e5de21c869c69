// A whole system (hub and stack `local`) for one test, on its own databases of the test server,
// reached over real HTTPS like any client.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { Agent } from 'undici';
import { HttpClient, type JsonResponse, type RequestOptions, type UndeclaredJson } from '../../src/core/http-client.ts';
import { newGuid } from '../../src/core/ids.ts';
import { withDatabase } from '../../src/db/database.ts';
import { startSystem, type BootstrapFile, type RunningSystem, type UpOptions } from '../../src/system/up.ts';

/** The bootstrap.json of a system that a test starts: it always names its certificate authority's file. */
export type TestBootstrap = BootstrapFile & { caFile: string };

/** An application's token for `resource`, by the client-credentials grant at the hub's login endpoint. */
export async function clientCredentialsToken(
  http: Pick<HttpClient, 'call'>,
  login: string,
  app: { tenantId: string; clientId: string; clientSecret: string },
  resource: string,
): Promise<string> {
  const res = await http.call('POST', `${login}/${app.tenantId}/oauth2/token`, {
    form: { grant_type: 'client_credentials', client_id: app.clientId, client_secret: app.clientSecret, resource },
  });
  return res.access_token as string;
}

export function testServerUrl(): string {
  const url = process.env.STACKLEDGER_TEST_DATABASE_URL;
  if (!url) throw new Error('STACKLEDGER_TEST_DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

export async function dropDatabases(prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(testServerUrl(), 'postgres') });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>('select datname from pg_database where datname like $1', [
      `${prefix}%`,
    ]);
    for (const r of rows) await client.query(`drop database if exists "${r.datname}" with (force)`);
  } finally {
    await client.end();
  }
}

export interface TestSystem {
  system: RunningSystem;
  b: BootstrapFile;
  dataDir: string;
  dbPrefix: string;
  http: HttpClient;
  /** For requests that must be sent byte for byte (undici's request with this dispatcher). */
  dispatcher: Agent;
  /** A client-credentials token of the CSP's or the operator's service principal. */
  appToken(who: 'csp' | 'operator', resource: string): Promise<string>;
  /** A password-grant token of a user, through a well-known public client. */
  userToken(tenant: string, userName: string, password: string, resource: string): Promise<string>;
  call<T = UndeclaredJson>(method: string, url: string, opts?: RequestOptions): Promise<JsonResponse<T>>;
  stop(): Promise<void>;
}

export const AZURE_POWERSHELL = '1950a258-227b-4e31-a9cf-717495945fc2';

export async function startTestSystem(options: Partial<UpOptions> = {}): Promise<TestSystem> {
  const dbPrefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'stackledger-test-')));
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const system = await startSystem({
    port: 0,
    databaseUrl: withDatabase(testServerUrl(), dbPrefix),
    logger,
    ...options,
    dataDir,
  });
  const b = system.bootstrap;
  const ca = b.caFile ? readFileSync(b.caFile, 'utf8') : undefined;
  const http = new HttpClient(ca);
  const dispatcher = new Agent({ connect: ca ? { ca } : {} });
  const appToken = (who: 'csp' | 'operator', resource: string) =>
    clientCredentialsToken(http, b.hub.login, b[who], resource);
  const userToken = async (tenant: string, userName: string, password: string, resource: string) => {
    const res = await http.call('POST', `${b.hub.login}/${tenant}/oauth2/token`, {
      form: { grant_type: 'password', client_id: AZURE_POWERSHELL, username: userName, password, resource },
    });
    return res.access_token as string;
  };
  return {
    system,
    b,
    dataDir,
    dbPrefix,
    http,
    dispatcher,
    appToken,
    userToken,
    call: (method, url, opts) => http.send(method, url, opts),
    async stop() {
      await http.close();
      await dispatcher.close();
      await system.stop();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
      await dropDatabases(dbPrefix);
    },
  };
}

/** Runs `work` on a connection of its own to the test system's hub database, closed after. */
export async function withHubDatabase<T>(t: TestSystem, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** Moves the test system's simulated clock to `to` as `token` (a system administrator), expecting 200. */
export async function advanceClockTo(t: TestSystem, token: string, to: string): Promise<void> {
  const res = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
    token,
    body: { to },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}
