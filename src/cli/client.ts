import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeErrorBody, HttpClient, HttpError, type UndeclaredJson } from '../core/http-client.ts';
import { API_VERSIONS } from '../core/api-versions.ts';
import { isGuid } from '../core/ids.ts';
import { writePrivateFile } from '../core/sealed.ts';
import { appToken, type AppCredentials } from '../core/tokens.ts';
import { STACKLEDGER_CLI_CLIENT_ID } from '../identity/rules.ts';
import type { BootstrapFile, StackFileEntry } from '../system/up.ts';

/** The query string of Stackledger's own (system, billing, metering) APIs. */
export const SYSTEM_API = `api-version=${API_VERSIONS.system[0]}`;

/** A URL of the hub's billing API. */
export const billingUrl = (c: Connection, path: string) =>
  `${c.bootstrap.hub.arm}/providers/Stackledger.Billing/${path}`;

// How CLI commands find and call the running system: through DIR/bootstrap.json, like any client.

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Who a command acts as: an application (client credentials) or a user (password grant) in a directory. */
export type Identity =
  | { kind: 'app'; name: string; credentials: AppCredentials }
  | { kind: 'user'; name: string; tenantId: string; userName: string; password: string };

export interface Connection {
  dataDir: string;
  bootstrap: BootstrapFile;
  http: HttpClient;
  /** A token for a resource, as the CSP's (default) or the operator's service principal. */
  token(resource: string, as?: 'csp' | 'operator'): Promise<string>;
  /** A token for a resource, as anyone. */
  tokenAs(who: Identity, resource: string): Promise<string>;
  /** A stack of bootstrap.json, by name. */
  stack(name: string): StackFileEntry;
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
    throw new CliError(
      `No running system found: ${file} is missing. Start one with 'stackledger up --data ${dataDir}'.`,
    );
  }
  // A stack's own folder names the hub's authority too: trust both.
  const http = new HttpClient(await caBundle([bootstrap.caFile, (bootstrap.hub as { caFile?: string }).caFile]));
  const cache = new Map<string, string>();
  // A user's refresh token, by directory and user: one password check per user, as Azure's clients do.
  const sessions = new Map<string, string>();
  const tokenAs = async (who: Identity, resource: string) => {
    const key =
      who.kind === 'app'
        ? `app ${who.credentials.tenantId} ${who.credentials.clientId} ${resource}`
        : `user ${who.tenantId} ${who.userName} ${resource}`;
    const cached = cache.get(key);
    if (cached) return cached;
    const token =
      who.kind === 'app'
        ? await appToken(http, bootstrap.hub.login, who.credentials, resource)
        : await userToken(http, bootstrap.hub.login, who, resource, sessions);
    cache.set(key, token);
    return token;
  };
  return {
    dataDir,
    bootstrap,
    http,
    async token(resource, as = 'csp') {
      const who = bootstrap[as];
      if (!who) throw new CliError(`No ${as} credentials in ${file}.`);
      return tokenAs({ kind: 'app', name: as, credentials: who }, resource);
    },
    tokenAs,
    stack(name) {
      const entry = bootstrap.stacks[name];
      if (!entry)
        throw new CliError(
          `No stack '${name}' in ${file}; it has ${
            Object.keys(bootstrap.stacks)
              .map((n) => `'${n}'`)
              .join(', ') || 'none'
          }.`,
          2,
        );
      return entry;
    },
    close: () => http.close(),
  };
}

/**
 * A user's token through our CLI's public client: the password grant the first time (asking for a
 * refresh token too), then the refresh token for every other resource; the password again if the
 * refresh token is refused (expired or revoked).
 */
async function userToken(
  http: HttpClient,
  login: string,
  who: { tenantId: string; userName: string; password: string },
  resource: string,
  sessions: Map<string, string>,
): Promise<string> {
  const url = `${login}/${who.tenantId}/oauth2/token`;
  const session = `${who.tenantId} ${who.userName}`;
  const refreshToken = sessions.get(session);
  const form = { client_id: STACKLEDGER_CLI_CLIENT_ID, resource };
  let res = refreshToken
    ? await http.send('POST', url, { form: { ...form, grant_type: 'refresh_token', refresh_token: refreshToken } })
    : undefined;
  if (!res || res.status >= 400)
    res = await http.send('POST', url, {
      form: {
        ...form,
        grant_type: 'password',
        username: who.userName,
        password: who.password,
        scope: 'offline_access',
      },
    });
  if (res.status >= 400) throw new HttpError(res.status, res.body, url);
  if (typeof res.body.refresh_token === 'string') sessions.set(session, res.body.refresh_token);
  return res.body.access_token;
}

/** Follows ARM's `nextLink` paging and answers every item. */
export async function armList<T = UndeclaredJson>(c: Connection, url: string, token: string): Promise<T[]> {
  const out: T[] = [];
  for (let next: string | undefined = url; next;) {
    const page: { value: T[]; nextLink?: string } = await c.http.call('GET', next, { token });
    out.push(...page.value);
    next = page.nextLink;
  }
  return out;
}

// The first administrator's password of a customer is returned once, when the customer is made; the
// CLI keeps it in DIR/customers.json (like bootstrap.json, readable by its owner only) so that the
// steps a customer takes itself (inviting the CSP, consenting, creating resources) can be run too.

export interface SavedCustomer {
  id: string;
  domain: string;
  companyName: string;
  admin: { userName: string; password: string };
}

const customersFile = (dataDir: string) => path.resolve(dataDir, 'customers.json');

export async function savedCustomers(dataDir: string): Promise<SavedCustomer[]> {
  try {
    return JSON.parse(await readFile(customersFile(dataDir), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** The saves of this process, one after another: each reads what the one before wrote. */
let saving: Promise<unknown> = Promise.resolve();

export function saveCustomer(dataDir: string, customer: SavedCustomer): Promise<void> {
  const save = async () => {
    const all = (await savedCustomers(dataDir)).filter((c) => c.id !== customer.id);
    await writePrivateFile(customersFile(dataDir), JSON.stringify([...all, customer], null, 2) + '\n');
  };
  const saved = saving.then(save, save);
  saving = saved.catch(() => undefined);
  return saved;
}

/** A saved customer by id, full domain or the domain's first label (`contoso` for contoso.onstackledger.local). */
export function findSavedCustomer(saved: SavedCustomer[], ref: string): SavedCustomer | undefined {
  const r = ref.toLowerCase();
  return saved.find((c) => c.id === r || c.domain === r || c.domain.split('.')[0] === r);
}

export interface CustomerRef {
  id: string;
  domain: string;
  companyName: string;
}

/** A customer of the CSP by id or domain: from customers.json, else asked of the partner center. */
export async function resolveCustomer(c: Connection, ref: string): Promise<CustomerRef> {
  const saved = findSavedCustomer(await savedCustomers(c.dataDir), ref);
  if (saved) return saved;
  const pc = c.bootstrap.hub.partnerCenter;
  const token = await c.token(pc);
  if (isGuid(ref)) {
    const found = await c.http.call('GET', `${pc}/v1/customers/${ref}`, { token });
    return { id: found.id, domain: found.companyProfile.domain, companyName: found.companyProfile.companyName };
  }
  const filter = encodeURIComponent(
    JSON.stringify({ Field: 'Domain', Value: ref.toLowerCase(), Operator: 'starts_with' }),
  );
  const { items } = await c.http.call('GET', `${pc}/v1/customers?filter=${filter}`, { token });
  const matches = (items as { id: string; companyProfile: { domain: string; companyName: string } }[]).filter(
    (x) => x.companyProfile.domain === ref.toLowerCase() || x.companyProfile.domain.split('.')[0] === ref.toLowerCase(),
  );
  if (matches.length !== 1)
    throw new CliError(`No customer '${ref}': give its id or its domain (stackledger customers list).`);
  return {
    id: matches[0].id,
    domain: matches[0].companyProfile.domain,
    companyName: matches[0].companyProfile.companyName,
  };
}

/** A server's error becomes the CLI's, with the server's code and message; a system that does not answer says so. */
export function asCliError(e: unknown, dataDir: string): unknown {
  if (e instanceof HttpError) return new CliError(describeErrorBody(e.body));
  const err = e as { code?: string; cause?: { code?: string } } | null | undefined;
  if (err?.code === 'ECONNREFUSED' || err?.cause?.code === 'ECONNREFUSED') {
    return new CliError(`The system in ${dataDir} does not answer: is 'stackledger up --data ${dataDir}' running?`);
  }
  return e;
}

/** Runs a client command; a server error becomes a non-zero exit with the server's code and message. */
export async function runClient<T>(dataDir: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  let conn: Connection | undefined;
  try {
    conn = await connect(dataDir);
    return await fn(conn);
  } catch (e) {
    throw asCliError(e, dataDir);
  } finally {
    await conn?.close();
  }
}
