import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import path from 'node:path';
import type { Logger } from 'pino';
import { StartupError } from '../core/errors.ts';
import { HttpClient } from '../core/http-client.ts';
import type { Sealer } from '../core/sealed.ts';
import { appToken } from '../core/tokens.ts';
import type { WorkScheduler } from '../core/scheduler.ts';
import { ensureDatabase, holdingLock, oneProcessAtATime, openDatabase } from '../db/database.ts';
import { embeddedClusterFolder, startEmbeddedCluster, type EmbeddedCluster } from '../db/embedded.ts';
import { listen } from '../http/server.ts';
import type { TlsFiles } from '../http/tls.ts';
import { createHub, hubEndpointsAt, type Hub, type HubEndpoints, type HubTables } from '../hub/app.ts';
import { migrateHub } from '../hub/migrations.ts';
import type { SignInPolicy } from '../identity/rules.ts';
import type { DeliveryOptions } from '../notifications/delivery.ts';
import type { ExportJobOptions } from '../billing/export-jobs.ts';
import type { IdentitySystem } from '../core/tokens.ts';
import { createStack, stackLane, type Stack, type StackEndpoints, type StackTables } from '../stack/app.ts';
import { migrateStack } from '../stack/migrations.ts';
import {
  bootstrapHub,
  bootstrapStack,
  DOMAIN_SUFFIX,
  saveStackRecord,
  type HubBootstrap,
  type StackBootstrap,
} from './bootstrap.ts';
import {
  addStackSecret,
  DEFAULT_STACK_SECRET_POLICY,
  rotateStackSecretIfDue,
  stackSecretDue,
  type StackSecretDeps,
  type StackSecretPolicy,
} from './stack-secret.ts';

// Starting each role: its database, its servers, its first-run set-up. `up` starts both in one
// process; `hub` and `stack` start one each. A stack reaches the hub only over HTTP(S).

/** Things to undo on the way down, last first. */
export class Cleanups {
  readonly #steps: Array<() => Promise<void>> = [];
  constructor(private readonly logger: Logger) {}
  push(step: () => Promise<void>): void {
    this.#steps.push(step);
  }
  async run(): Promise<void> {
    while (this.#steps.length > 0)
      await this.#steps.pop()!().catch((e) => this.logger.error({ err: e }, 'shutdown step failed'));
  }
}

/** One database URL per name: on the given server, or on the embedded cluster in DIR/pg. */
export async function resolveDatabases(
  dataDir: string,
  serverUrl: string | undefined,
  names: string[],
  cleanups: Cleanups,
  logger: Logger,
  starting?: Promise<EmbeddedCluster>,
): Promise<string[]> {
  if (serverUrl) {
    const u = new URL(serverUrl);
    const base = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'stackledger';
    return names.map((n) => {
      const v = new URL(serverUrl);
      v.pathname = `/${base}_${n}`;
      return v.toString();
    });
  }
  const cluster = await (starting ??
    startEmbeddedCluster(embeddedClusterFolder(dataDir), (line) => logger.debug({ postgres: line.trim() })));
  cleanups.push(() => cluster.stop());
  return names.map((n) => cluster.url(n));
}

export interface RoleOptions {
  databaseUrl: string;
  scheduler: WorkScheduler;
  logger: Logger;
  tls?: TlsFiles;
  host: string;
  /** Seals what the role keeps of its secrets in its database. */
  sealer: Sealer;
}

function closeOnCleanup(cleanups: Cleanups, servers: FastifyInstance[]): void {
  // Servers close before the databases, finishing the requests in flight.
  cleanups.push(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
}

const HUB_START = 'stackledger: hub start';
/** `1`: webhooks may point at loopback, private and link-local addresses. */
export const WEBHOOKS_INTERNAL_ENV = 'STACKLEDGER_WEBHOOKS_ALLOW_INTERNAL';
/** How many hours (of the hub's clock) an asynchronous export's files are kept; default 24. */
export const EXPORT_RETENTION_ENV = 'STACKLEDGER_EXPORT_RETENTION_HOURS';
const STACK_START = 'stackledger: stack start';
/** A folder for the hub's usage archives other than the data folder's `archives/hub`. */
export const USAGE_ARCHIVE_DIR_ENV = 'STACKLEDGER_USAGE_ARCHIVE_DIR';
/** The hub's folder among the archives; no stack may take its name, or their files would meet. */
const HUB_ARCHIVES = 'hub';

/**
 * Where a role writes its usage archives: one folder per role under the data folder's `archives/`,
 * the hub's `archives/hub/` and each stack's `archives/<stack>/`. An archive already written stays
 * where its stored path says (the hub wrote to `archive/` before): nothing is moved.
 */
export function archiveFolder(dataDir: string, role: 'hub' | { stack: string }): string {
  if (role === 'hub') return path.join(dataDir, 'archives', HUB_ARCHIVES);
  const name = role.stack;
  if (name === HUB_ARCHIVES || name !== path.basename(name) || name === '.' || name === '..')
    throw new StartupError(
      `A stack cannot be named '${name}' in a data folder: its usage archives go to archives/<name>, which is not a folder of its own ('${HUB_ARCHIVES}' is the hub's). Choose another --name.`,
    );
  return path.join(dataDir, 'archives', name);
}

export interface RunningHub {
  hub: Hub;
  endpoints: HubEndpoints;
  record: HubBootstrap;
}

export async function startHubRole(
  opts: RoleOptions & {
    port: number;
    signIn?: Partial<SignInPolicy>;
    identitySystem?: IdentitySystem;
    publicUrl?: string;
    webhooks?: DeliveryOptions;
    exports: ExportJobOptions;
    /** Records a usage page without details reads at most (`USAGE_PAGE_RECORDS`). */
    usagePageRecords?: number;
    /** Where `usage archive` writes (`archiveFolder(dataDir, 'hub')`); the installation may name another. */
    archiveDir?: string;
  },
  cleanups: Cleanups,
): Promise<RunningHub> {
  await ensureDatabase(opts.databaseUrl);
  const db = openDatabase<HubTables>(opts.databaseUrl);
  cleanups.push(() => db.close());
  let endpoints: HubEndpoints | undefined;
  // Several hub processes may share one database: one at a time migrates, makes the signing key,
  // and bootstraps; the others then find what it made.
  const hub = await holdingLock(db.db, HUB_START, async () => {
    await migrateHub(db.db);
    return createHub({
      db: db.db,
      pool: db.pool,
      scheduler: opts.scheduler,
      logger: opts.logger.child({ role: 'hub' }),
      tls: opts.tls,
      endpoints: () =>
        endpoints ??
        (() => {
          throw new Error('the hub is not listening yet');
        })(),
      domainSuffix: DOMAIN_SUFFIX,
      identity: { sealer: opts.sealer, signIn: opts.signIn },
      identitySystem: opts.identitySystem,
      // Receivers inside the hub's own network only where the installation says so.
      webhooks: { allowInternalAddresses: process.env[WEBHOOKS_INTERNAL_ENV] === '1', ...opts.webhooks },
      exports: { ...opts.exports, retentionHours: opts.exports.retentionHours ?? retentionHoursFromEnv() },
      archiveDir: process.env[USAGE_ARCHIVE_DIR_ENV] || opts.archiveDir,
      usagePageRecords: opts.usagePageRecords,
    });
  });
  closeOnCleanup(cleanups, [hub.app]);
  // Behind a load balancer, several processes serve one address: the URL clients use, not this one's.
  const listening = await listen(hub.app, opts.host, opts.port, opts.tls !== undefined);
  endpoints = hubEndpointsAt(opts.publicUrl ?? listening);
  await hub.publishEndpoints();
  const record = await holdingLock(db.db, HUB_START, () => bootstrapHub(hub, opts.sealer));
  return { hub, endpoints, record };
}

/** The installation's retention of asynchronous exports, if it sets one (a positive number of hours). */
function retentionHoursFromEnv(): number | undefined {
  const text = process.env[EXPORT_RETENTION_ENV];
  if (text === undefined || text === '') return undefined;
  const hours = Number(text);
  if (!(hours > 0)) throw new Error(`${EXPORT_RETENTION_ENV} must be a positive number of hours, not '${text}'.`);
  return hours;
}

export interface OperatorCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The operator's administrator, made Owner of the provider subscription with the service principal. */
  adminUserName?: string;
}

export interface StackRoleOptions extends RoleOptions {
  name: string;
  location: string;
  /** Ports of the admin and the tenant endpoints (0: free ones). */
  ports: [number, number];
  /**
   * The hub's ARM endpoint (the rest is discovered from its metadata) and the operator's
   * credentials there. A promise when the hub is still starting: the stack makes its database and
   * servers meanwhile, and waits for the hub only to join it.
   */
  hub: HubAccess | Promise<HubAccess>;
  /** The certificate authority that the hub's certificate chains to. */
  hubCa?: string;
  stackSecret?: Partial<StackSecretPolicy>;
  /** The process's data folder: the stack's usage archives go to `archiveFolder(DIR, { stack: NAME })`. */
  dataDir: string;
}

export interface HubAccess {
  arm: string;
  operator: OperatorCredentials;
}

export interface RunningStack {
  stack: Stack;
  endpoints: StackEndpoints;
  record: StackBootstrap;
  hub: { arm: string; login: string; authority: string; graph: string; portal: string };
}

export async function startStackRole(opts: StackRoleOptions, cleanups: Cleanups): Promise<RunningStack> {
  const archiveDir = archiveFolder(opts.dataDir, { stack: opts.name });
  // A hub that does not answer in time counts as down: the bridge tries again later.
  const http = new HttpClient(opts.hubCa, Number(process.env.STACKLEDGER_HUB_TIMEOUT_MS ?? 30_000));
  cleanups.push(() => http.close());
  // Filled from the hub's metadata before the stack listens; the stack reads it only when serving.
  const hub = { arm: '', login: '', authority: '', graph: '', portal: '' };
  await ensureDatabase(opts.databaseUrl);
  const db = openDatabase<StackTables>(opts.databaseUrl);
  cleanups.push(() => db.close());
  let endpoints: StackEndpoints | undefined;
  let homeDirectory: string | undefined;
  let cloudId: string | undefined;
  let application: { appId: string; secret: string } | undefined;
  let providerSubscriptionId: string | undefined;
  let servicePrincipalId: string | undefined;
  // Several processes of one deployment may share its database: one at a time migrates, makes the
  // registration key and bootstraps.
  const stack = await holdingLock(db.db, STACK_START, async () => {
    await migrateStack(db.db);
    return createStack({
      name: opts.name,
      sealer: opts.sealer,
      location: opts.location,
      db: db.db,
      pool: db.pool,
      archiveDir,
      scheduler: opts.scheduler,
      logger: opts.logger.child({ role: 'stack', stack: opts.name }),
      tls: opts.tls,
      endpoints: () =>
        endpoints ??
        (() => {
          throw new Error('the stack is not listening yet');
        })(),
      hub: {
        arm: () => hub.arm,
        login: () => hub.login,
        authority: () => hub.authority,
        graph: () => hub.graph,
        portal: () => hub.portal,
        http,
      },
      homeDirectory: () => homeDirectory,
      cloudId: () => cloudId,
      application: { appId: () => application?.appId, secret: () => application?.secret },
      providerSubscriptionId: () => providerSubscriptionId,
      servicePrincipalId: () => servicePrincipalId,
    });
  });
  closeOnCleanup(cleanups, [stack.admin, stack.tenant]);
  const secure = opts.tls !== undefined;
  // The hub's addresses are known before the stack listens: nothing it serves goes without them.
  const { arm, operator } = await opts.hub;
  const metadata = await http.call('GET', `${arm}/metadata/endpoints?api-version=2015-01-01`);
  const authority = metadata.authentication.loginEndpoint as string;
  Object.assign(hub, {
    arm,
    authority,
    // A hub that names its AD FS-style authority says where its Azure AD-style login base is.
    login: (metadata.authentication.aadLoginEndpoint as string | undefined) ?? authority,
    graph: metadata.graphEndpoint as string,
    portal: metadata.portalEndpoint as string,
  });
  endpoints = {
    adminArm: await listen(stack.admin, opts.host, opts.ports[0], secure),
    tenantArm: await listen(stack.tenant, opts.host, opts.ports[1], secure),
  };

  // The stack's application lives in the operator's directory; it is registered and kept pointing
  // at the stack's current URLs through the hub's directory API, as the operator's automation.
  const graphToken = await appToken(http, hub.login, operator, hub.graph);
  const identifierUris = [endpoints.adminArm, endpoints.tenantArm];
  // The application publishes the certificate of the stack's registration key, as Graph's
  // keyCredentials: the hub verifies the stack's registration tokens with it.
  const keyCredentials = [stack.registrationKeyCredential];
  const owners = [{ principalId: String(decodeJwt(graphToken).oid), principalType: 'ServicePrincipal' }];
  if (operator.adminUserName) {
    const admin = await http.call('GET', `${hub.graph}/v1.0/users/${encodeURIComponent(operator.adminUserName)}`, {
      token: graphToken,
    });
    owners.push({ principalId: admin.id, principalType: 'User' });
  }
  const secretDeps: StackSecretDeps = {
    http,
    login: hub.login,
    graph: hub.graph,
    operator,
    policy: { ...DEFAULT_STACK_SECRET_POLICY, ...opts.stackSecret },
    logger: opts.logger.child({ role: 'stack', stack: opts.name }),
  };
  let record = await holdingLock(db.db, STACK_START, () =>
    bootstrapStack(stack, opts.location, operator.tenantId, owners, opts.sealer, async (known) => {
      let appId = known?.appId;
      if (appId)
        await http.call('PATCH', `${hub.graph}/v1.0/applications/${appId}`, {
          token: graphToken,
          body: { identifierUris, keyCredentials },
        });
      else {
        const body = { displayName: `Stackledger stack '${opts.name}'`, identifierUris, keyCredentials };
        appId = (await http.call('POST', `${hub.graph}/v1.0/applications`, { token: graphToken, body }))
          .appId as string;
        // As in Graph, the application signs in (and is given roles) through its service principal, made next.
        await http.call('POST', `${hub.graph}/v1.0/servicePrincipals`, { token: graphToken, body: { appId } });
      }
      return known?.secret
        ? { ...known, appId, secret: known.secret }
        : { appId, ...(await addStackSecret(secretDeps, appId, graphToken)) };
    }),
  );
  const rotate = async () => {
    record = await rotateStackSecretIfDue(secretDeps, record, async (next) => {
      await saveStackRecord(stack, opts.sealer, next);
      application = { appId: next.applicationId, secret: next.applicationSecret };
    });
  };
  await rotate();
  const rotation = oneProcessAtATime(db.db, {
    name: `stack ${opts.name}: application secret`,
    runUntil: () =>
      rotate().catch((e) =>
        secretDeps.logger.warn({ err: e }, "the stack's application secret could not be rotated; trying again later"),
      ),
  });
  // The lock is taken only when this process's secret is due (the rotation checks again under it).
  opts.scheduler.register(
    {
      ...rotation,
      runUntil: async (now, since) => (stackSecretDue(secretDeps, record) ? rotation.runUntil(now, since) : undefined),
    },
    stackLane(opts.name),
  );
  homeDirectory = record.homeDirectory;
  cloudId = record.cloudId;
  application = { appId: record.applicationId, secret: record.applicationSecret };
  providerSubscriptionId = record.providerSubscriptionId;
  // Who the deployment is when it signs in as its application: the objectId its registration carries.
  const own = await appToken(
    http,
    hub.login,
    { tenantId: record.homeDirectory, clientId: record.applicationId, clientSecret: record.applicationSecret },
    hub.arm,
  );
  servicePrincipalId = String(decodeJwt(own).oid);
  return { stack, endpoints, record, hub };
}
