import type { FastifyInstance } from 'fastify';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { SimulatedClock, SystemClock, type Clock } from '../core/clock.ts';
import { HttpClient } from '../core/http-client.ts';
import { WorkScheduler } from '../core/scheduler.ts';
import { databaseName, ensureDatabase, openDatabase, withDatabase, type Database } from '../db/database.ts';
import { startEmbeddedCluster, type EmbeddedCluster } from '../db/embedded.ts';
import { listen } from '../http/server.ts';
import { ensureTls, type TlsFiles } from '../http/tls.ts';
import { createHub, hubEndpointsAt, migrateHub, type HubEndpoints, type HubTables } from '../hub/app.ts';
import { createStack, migrateStack, type StackEndpoints, type StackTables } from '../stack/app.ts';
import { bootstrapHub, bootstrapStack, DOMAIN_SUFFIX, publishStackEndpoints } from './bootstrap.ts';

// `stackledger up`: one hub and one stack named `local` in one process, on the embedded
// PostgreSQL by default. Writes DIR/bootstrap.json once every endpoint answers.

export interface UpOptions {
  dataDir: string;
  /** The hub's port; the stack's endpoints take the next two. 0: free ports everywhere. */
  port: number;
  http?: boolean;
  host?: string;
  /** A PostgreSQL server URL; the roles get databases named `<db>_hub` and `<db>_stack_local`. */
  databaseUrl?: string;
  /** Runs on a simulated clock that starts here. */
  clock?: Date;
  logger?: Logger;
  stackName?: string;
  location?: string;
}

export interface BootstrapFile {
  caFile?: string;
  hub: HubEndpoints;
  stacks: Record<string, StackEndpoints & { location: string; providerSubscriptionId: string; applicationId: string }>;
  csp: {
    tenantId: string;
    clientId: string;
    clientSecret: string;
    admin: { userName: string; password: string };
    registrationSubscriptionId: string;
    resourceGroup: string;
    registrationName: string;
  };
  operator: { tenantId: string; clientId: string; clientSecret: string; admin: { userName: string; password: string } };
  clock: { simulated: boolean };
}

export interface RunningSystem {
  bootstrap: BootstrapFile;
  bootstrapPath: string;
  clock: Clock;
  scheduler: WorkScheduler;
  stop(): Promise<void>;
}

export function defaultLogger(dataDir: string): Logger {
  return pino(
    { level: 'info', base: undefined },
    pino.multistream([
      { level: 'info', stream: pino.destination({ dest: path.join(dataDir, 'stackledger.log'), mkdir: true, sync: false }) },
      { level: (process.env.LOG_LEVEL as pino.Level) ?? 'warn', stream: process.stderr },
    ]),
  );
}

export async function startSystem(opts: UpOptions): Promise<RunningSystem> {
  const dataDir = path.resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  const logger = opts.logger ?? defaultLogger(dataDir);
  const host = opts.host ?? '127.0.0.1';
  const stackName = opts.stackName ?? 'local';
  const location = opts.location ?? 'local';
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => logger.error({ err: e }, 'shutdown step failed'));
    cleanups.length = 0;
  };

  try {
    // Storage: one database per role, on the embedded cluster or on the given server.
    let hubUrl: string;
    let stackUrl: string;
    if (opts.databaseUrl) {
      const base = databaseName(opts.databaseUrl);
      hubUrl = withDatabase(opts.databaseUrl, `${base}_hub`);
      stackUrl = withDatabase(opts.databaseUrl, `${base}_stack_${stackName}`);
    } else {
      const cluster: EmbeddedCluster = await startEmbeddedCluster(path.join(dataDir, 'pg'), (line) => logger.debug({ postgres: line.trim() }));
      cleanups.push(() => cluster.stop());
      hubUrl = cluster.url('hub');
      stackUrl = cluster.url(`stack_${stackName}`);
    }
    await ensureDatabase(hubUrl);
    await ensureDatabase(stackUrl);
    const hubDb: Database<HubTables> = openDatabase<HubTables>(hubUrl);
    cleanups.push(() => hubDb.close());
    const stackDb: Database<StackTables> = openDatabase<StackTables>(stackUrl);
    cleanups.push(() => stackDb.close());
    await migrateHub(hubDb.db);
    await migrateStack(stackDb.db);

    const tls: TlsFiles | undefined = opts.http ? undefined : await ensureTls(dataDir);
    const clock: Clock = opts.clock ? new SimulatedClock(opts.clock) : new SystemClock();
    const scheduler = new WorkScheduler(clock);
    const hubHttp = new HttpClient(tls?.ca);
    cleanups.push(() => hubHttp.close());

    let hubEndpoints: HubEndpoints | undefined;
    let stackEndpoints: StackEndpoints | undefined;
    let systemDirectory: string | undefined;
    let homeDirectory: string | undefined;
    const hubUrls = () => hubEndpoints ?? (() => { throw new Error('the hub is not listening yet'); })();

    const hub = await createHub({
      db: hubDb.db,
      scheduler,
      logger: logger.child({ role: 'hub' }),
      tls,
      endpoints: hubUrls,
      systemDirectory: () => systemDirectory,
      domainSuffix: DOMAIN_SUFFIX,
    });
    const stack = await createStack({
      name: stackName,
      location,
      db: stackDb.db,
      scheduler,
      logger: logger.child({ role: 'stack' }),
      tls,
      endpoints: () => stackEndpoints ?? (() => { throw new Error('the stack is not listening yet'); })(),
      hub: { login: () => hubUrls().login, graph: () => hubUrls().graph, portal: () => hubUrls().portal, http: hubHttp },
      homeDirectory: () => homeDirectory,
    });

    const servers: FastifyInstance[] = [hub.app, stack.admin, stack.tenant];
    // Servers close first on the way down, finishing the requests in flight, then the databases.
    cleanups.push(async () => {
      await Promise.all(servers.map((s) => s.close()));
    });
    const secure = tls !== undefined;
    const hubOrigin = await listen(hub.app, host, opts.port, secure);
    hubEndpoints = hubEndpointsAt(hubOrigin);
    const next = (k: number) => (opts.port === 0 ? 0 : opts.port + k);
    stackEndpoints = {
      adminArm: await listen(stack.admin, host, next(1), secure),
      tenantArm: await listen(stack.tenant, host, next(2), secure),
    };

    await hub.publishEndpoints();
    const hubRecord = await bootstrapHub(hub, [stackName]);
    systemDirectory = hubRecord.csp.tenantId;
    const applicationId = hubRecord.stacks[stackName].applicationId;
    await publishStackEndpoints(hub, applicationId, stackEndpoints);
    const stackRecord = await bootstrapStack(stack, location, hubRecord.operator, applicationId);
    homeDirectory = stackRecord.homeDirectory;

    const { csp, operator } = hubRecord;
    const bootstrap: BootstrapFile = {
      ...(tls ? { caFile: tls.caFile } : {}),
      hub: hubEndpoints,
      stacks: {
        [stackName]: { ...stackEndpoints, location, providerSubscriptionId: stackRecord.providerSubscriptionId, applicationId },
      },
      csp: {
        tenantId: csp.tenantId,
        clientId: csp.clientId,
        clientSecret: csp.clientSecret,
        admin: { userName: csp.admin.userName, password: csp.admin.password },
        registrationSubscriptionId: csp.registrationSubscriptionId,
        resourceGroup: csp.resourceGroup,
        registrationName: csp.registrationName,
      },
      operator: {
        tenantId: operator.tenantId,
        clientId: operator.clientId,
        clientSecret: operator.clientSecret,
        admin: { userName: operator.admin.userName, password: operator.admin.password },
      },
      clock: { simulated: clock.simulated },
    };
    const bootstrapPath = path.join(dataDir, 'bootstrap.json');
    await writeFile(bootstrapPath, JSON.stringify(bootstrap, null, 2) + '\n', { mode: 0o600 });

    if (!clock.simulated) {
      // On the real clock, due work runs every minute.
      const timer = setInterval(() => void scheduler.runDue().catch((e) => logger.error({ err: e }, 'due work failed')), 60_000);
      timer.unref();
      cleanups.push(async () => clearInterval(timer));
    }
    return { bootstrap, bootstrapPath, clock, scheduler, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
