import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { HttpClient } from '../core/http-client.ts';
import { loadSealer, writePrivateFile, type Sealer } from '../core/sealed.ts';
import { WorkScheduler } from '../core/scheduler.ts';
import { ensureTls, type TlsFiles } from '../http/tls.ts';
import { routeTable, type RouteEntry } from '../http/server.ts';
import type { HubEndpoints } from '../hub/app.ts';
import type { DeliveryOptions } from '../notifications/delivery.ts';
import type { ExportJobOptions } from '../billing/export-jobs.ts';
import type { SignInPolicy } from '../identity/rules.ts';
import { adfsAuthorityOf, type IdentitySystem } from '../core/tokens.ts';
import type { StackEndpoints } from '../stack/app.ts';
import type { HubBootstrap } from './bootstrap.ts';
import { openDurableClock } from './durable-clock.ts';
import { onboardDirectory, registerStack, registrationNameOf } from './register.ts';
import {
  Cleanups,
  prepareStackDatabase,
  resolveDatabases,
  startHubRole,
  startStackRole,
  type OperatorCredentials,
  type RunningStack,
} from './roles.ts';
import type { StackSecretPolicy } from './stack-secret.ts';

// `stackledger up` (one hub and one stack `local` in one process), `stackledger hub` and
// `stackledger stack` (one role each). Each writes DIR/bootstrap.json once every endpoint answers.

export interface CommonOptions {
  dataDir: string;
  /** The first port; 0 picks free ports. */
  port: number;
  http?: boolean;
  host?: string;
  /** A PostgreSQL server URL; each role gets a database named `<db>_<role>`. Default: embedded. */
  databaseUrl?: string;
  /**
   * Runs on a simulated clock that starts here; on a restart it may move the folder's clock
   * forward, never back. Without it, a folder that was started with one resumes where it stood.
   */
  clock?: Date;
  logger?: Logger;
  /** Which authority the metadata endpoints name (`stackledger up --identity aad`); default AD FS-style. */
  identitySystem?: IdentitySystem;
  /** For tests: shorter lock-outs and secret lifetimes than the defaults. */
  policies?: {
    signIn?: Partial<SignInPolicy>;
    stackSecret?: Partial<StackSecretPolicy>;
    webhooks?: DeliveryOptions;
    /** Asynchronous exports: rows per file, retention, polling, leases (files go to the data folder's `exports`). */
    exports?: Omit<ExportJobOptions, 'dir'>;
  };
}

export interface UpOptions extends CommonOptions {
  stackName?: string;
  location?: string;
  /** Several stacks in this process (the demo's `east` and `west`); default: one, `stackName`. */
  stacks?: Array<{ name: string; location: string }>;
}

export interface StackFileEntry extends StackEndpoints {
  location: string;
  providerSubscriptionId: string;
  applicationId: string;
  cloudId: string;
}

export interface BootstrapFile {
  caFile?: string;
  hub: HubEndpoints;
  stacks: Record<string, StackFileEntry>;
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
  /** The servers this process runs, with their routes (for the route audit). */
  servers: ServedEndpoint[];
  stop(): Promise<void>;
}

export interface ServedEndpoint {
  /** `hub`, or `{stack}:admin` and `{stack}:tenant`. */
  name: string;
  origin: string;
  routes: RouteEntry[];
}

export function defaultLogger(dataDir: string): Logger {
  return pino(
    { level: 'info', base: undefined },
    pino.multistream([
      {
        level: 'info',
        stream: pino.destination({ dest: path.join(dataDir, 'stackledger.log'), mkdir: true, sync: false }),
      },
      { level: (process.env.LOG_LEVEL as pino.Level) ?? 'warn', stream: process.stderr },
    ]),
  );
}

interface Process {
  dataDir: string;
  logger: Logger;
  host: string;
  tls?: TlsFiles;
  clock: Clock;
  /** Where the step to the folder's simulated time began, if a restart is to finish it. */
  clockSince?: Date;
  /** Where this start moves the folder's simulated clock, once the work due where it stood is done. */
  moveClockTo?: Date;
  scheduler: WorkScheduler;
  cleanups: Cleanups;
  sealer: Sealer;
}

async function startProcess(opts: CommonOptions): Promise<Process> {
  const dataDir = path.resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  const logger = opts.logger ?? defaultLogger(dataDir);
  const { clock, since, moveTo, persist } = await openDurableClock(dataDir, opts.clock);
  const scheduler = new WorkScheduler(clock, {
    persist,
    onProgress: ({ from, to, now }) =>
      logger.info({ from, to, now }, 'clock advance: %s of %s reached', now.toISOString(), to.toISOString()),
  });
  const cleanups = new Cleanups(logger);
  const tls = opts.http ? undefined : await ensureTls(dataDir);
  const sealer = await loadSealer(dataDir);
  return {
    dataDir,
    logger,
    host: opts.host ?? '127.0.0.1',
    tls,
    clock,
    clockSince: since,
    moveClockTo: moveTo,
    scheduler,
    cleanups,
    sealer,
  };
}

async function finish(p: Process, bootstrap: BootstrapFile, servers: ServedEndpoint[] = []): Promise<RunningSystem> {
  const bootstrapPath = path.join(p.dataDir, 'bootstrap.json');
  await writePrivateFile(bootstrapPath, JSON.stringify(bootstrap, null, 2) + '\n');
  if (p.clock.simulated) {
    // A restart finishes the work due where the clock stood (a crash may have cut it short), then
    // moves it to a later --clock, a day at a time, before the start is reported.
    await p.scheduler.finishStep(p.clockSince);
    if (p.moveClockTo) await p.scheduler.advanceTo(p.moveClockTo);
  } else {
    // On the real clock, due work runs every minute.
    const timer = setInterval(
      () => void p.scheduler.runDue().catch((e) => p.logger.error({ err: e }, 'due work failed')),
      60_000,
    );
    timer.unref();
    p.cleanups.push(async () => clearInterval(timer));
  }
  return { bootstrap, bootstrapPath, clock: p.clock, scheduler: p.scheduler, servers, stop: () => p.cleanups.run() };
}

function credentialsOf(record: HubBootstrap): Pick<BootstrapFile, 'csp' | 'operator'> {
  const { csp, operator } = record;
  return {
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
  };
}

function stackEntry(s: RunningStack, location: string): StackFileEntry {
  return {
    ...s.endpoints,
    location,
    providerSubscriptionId: s.record.providerSubscriptionId,
    applicationId: s.record.applicationId,
    cloudId: s.record.cloudId,
  };
}

const nextPort = (port: number, k: number) => (port === 0 ? 0 : port + k);

/** One hub and one stack in this process (what a newcomer starts with), or several stacks. */
export async function startSystem(opts: UpOptions): Promise<RunningSystem> {
  const p = await startProcess(opts);
  const wanted = opts.stacks ?? [{ name: opts.stackName ?? 'local', location: opts.location ?? 'local' }];
  try {
    const [hubDb, ...stackDbs] = await resolveDatabases(
      p.dataDir,
      opts.databaseUrl,
      ['hub', ...wanted.map((s) => `stack_${s.name}`)],
      p.cleanups,
      p.logger,
    );
    const role = { scheduler: p.scheduler, logger: p.logger, tls: p.tls, host: p.host, sealer: p.sealer };
    // The stacks' databases are made and migrated while the hub starts (they need nothing of it).
    const stackDatabasesReady = Promise.all(stackDbs.map(prepareStackDatabase));
    stackDatabasesReady.catch(() => {});
    const hub = await startHubRole(
      {
        ...role,
        databaseUrl: hubDb,
        port: opts.port,
        signIn: opts.policies?.signIn,
        webhooks: opts.policies?.webhooks,
        exports: { ...opts.policies?.exports, dir: path.join(p.dataDir, 'exports') },
        archiveDir: path.join(p.dataDir, 'archive'),
        identitySystem: opts.identitySystem,
      },
      p.cleanups,
    );
    await stackDatabasesReady;
    const { operator, csp } = hub.record;
    const http = new HttpClient(p.tls?.ca);
    p.cleanups.push(() => http.close());
    const startOne = async ({ name, location }: { name: string; location: string }, i: number) => {
      const stack = await startStackRole(
        {
          ...role,
          databaseUrl: stackDbs[i],
          name,
          location,
          ports: [nextPort(opts.port, 1 + 2 * i), nextPort(opts.port, 2 + 2 * i)],
          hubArm: hub.endpoints.arm,
          hubCa: p.tls?.ca,
          operator: {
            tenantId: operator.tenantId,
            clientId: operator.clientId,
            clientSecret: operator.clientSecret,
            adminUserName: operator.admin.userName,
          },
          stackSecret: opts.policies?.stackSecret,
          dataDir: p.dataDir,
        },
        p.cleanups,
      );
      // The stack registers itself with the CSP's registration subscription, approved for multi-tenancy.
      await registerStack({
        http,
        hub: hub.endpoints,
        stackAdminArm: stack.endpoints.adminArm,
        operator,
        csp,
        registration: {
          subscriptionId: csp.registrationSubscriptionId,
          resourceGroup: csp.resourceGroup,
          name: registrationNameOf(name, csp),
        },
        approve: true,
      });
      // The CSP uses its own deployment too: its directory is onboarded there and consents.
      await onboardDirectory({
        http,
        hub: hub.endpoints,
        stackAdminArm: stack.endpoints.adminArm,
        providerSubscriptionId: stack.record.providerSubscriptionId,
        location,
        operator,
        directory: csp.tenantId,
        consentAs: csp,
        stackApplicationId: stack.record.applicationId,
      });
      return stack;
    };
    // The stacks start side by side; what they report is listed in the order asked for.
    const started = await Promise.all(wanted.map(startOne));
    const stacks: Record<string, StackFileEntry> = {};
    const servers: ServedEndpoint[] = [{ name: 'hub', origin: hub.endpoints.arm, routes: routeTable(hub.hub.app) }];
    for (const [i, { name, location }] of wanted.entries()) {
      const stack = started[i];
      stacks[name] = stackEntry(stack, location);
      servers.push(
        { name: `${name}:admin`, origin: stack.endpoints.adminArm, routes: routeTable(stack.stack.admin) },
        { name: `${name}:tenant`, origin: stack.endpoints.tenantArm, routes: routeTable(stack.stack.tenant) },
      );
    }
    return await finish(
      p,
      {
        ...(p.tls ? { caFile: p.tls.caFile } : {}),
        hub: hub.endpoints,
        stacks,
        ...credentialsOf(hub.record),
        clock: { simulated: p.clock.simulated },
      },
      servers,
    );
  } catch (e) {
    await p.cleanups.run();
    throw e;
  }
}

/** The hub alone (production). */
export async function startHubOnly(opts: CommonOptions & { publicUrl?: string }): Promise<RunningSystem> {
  const p = await startProcess(opts);
  try {
    const [hubDb] = await resolveDatabases(p.dataDir, opts.databaseUrl, ['hub'], p.cleanups, p.logger);
    const hub = await startHubRole(
      {
        scheduler: p.scheduler,
        logger: p.logger,
        tls: p.tls,
        host: p.host,
        sealer: p.sealer,
        databaseUrl: hubDb,
        port: opts.port,
        signIn: opts.policies?.signIn,
        webhooks: opts.policies?.webhooks,
        exports: { ...opts.policies?.exports, dir: path.join(p.dataDir, 'exports') },
        archiveDir: path.join(p.dataDir, 'archive'),
        identitySystem: opts.identitySystem,
        publicUrl: opts.publicUrl,
      },
      p.cleanups,
    );
    return await finish(p, {
      ...(p.tls ? { caFile: p.tls.caFile } : {}),
      hub: hub.endpoints,
      stacks: {},
      ...credentialsOf(hub.record),
      clock: { simulated: p.clock.simulated },
    });
  } catch (e) {
    await p.cleanups.run();
    throw e;
  }
}

export interface StackOnlyOptions extends CommonOptions {
  name: string;
  location: string;
  hubArm: string;
  hubCaFile?: string;
  operator: OperatorCredentials;
}

export type StackBootstrapFile = Omit<BootstrapFile, 'hub' | 'csp' | 'operator'> & {
  hub: { arm: string; login: string; adfs: string; graph: string; portal: string; caFile?: string };
  operator: OperatorCredentials;
};

/** One stack alone, joined to a hub that runs elsewhere (production). */
export async function startStackOnly(
  opts: StackOnlyOptions,
): Promise<RunningSystem & { stackBootstrap: StackBootstrapFile }> {
  const p = await startProcess(opts);
  try {
    const [stackDb] = await resolveDatabases(p.dataDir, opts.databaseUrl, [`stack_${opts.name}`], p.cleanups, p.logger);
    const hubCa = opts.hubCaFile ? await readFile(opts.hubCaFile, 'utf8') : undefined;
    const stack = await startStackRole(
      {
        scheduler: p.scheduler,
        logger: p.logger,
        tls: p.tls,
        host: p.host,
        sealer: p.sealer,
        databaseUrl: stackDb,
        name: opts.name,
        location: opts.location,
        ports: [opts.port, nextPort(opts.port, 1)],
        hubArm: opts.hubArm,
        hubCa,
        operator: opts.operator,
        stackSecret: opts.policies?.stackSecret,
        dataDir: p.dataDir,
      },
      p.cleanups,
    );
    const stackBootstrap: StackBootstrapFile = {
      ...(p.tls ? { caFile: p.tls.caFile } : {}),
      hub: {
        arm: stack.hub.arm,
        login: stack.hub.login,
        adfs: adfsAuthorityOf(stack.hub.login),
        graph: stack.hub.graph,
        portal: stack.hub.portal,
        ...(opts.hubCaFile ? { caFile: path.resolve(opts.hubCaFile) } : {}),
      },
      stacks: { [opts.name]: stackEntry(stack, opts.location) },
      operator: opts.operator,
      clock: { simulated: p.clock.simulated },
    };
    const running = await finish(p, stackBootstrap as unknown as BootstrapFile);
    return { ...running, stackBootstrap };
  } catch (e) {
    await p.cleanups.run();
    throw e;
  }
}
