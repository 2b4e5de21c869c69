import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { loadSealer, writePrivateFile, type Sealer } from '../core/sealed.ts';
import { WorkScheduler } from '../core/scheduler.ts';
import type { IdentitySystem } from '../core/tokens.ts';
import { ensureTls, type TlsFiles } from '../http/tls.ts';
import type { RouteEntry } from '../http/server.ts';
import type { HubEndpoints } from '../hub/app.ts';
import type { DeliveryOptions } from '../notifications/delivery.ts';
import type { ExportJobOptions } from '../billing/export-jobs.ts';
import type { SignInPolicy } from '../identity/rules.ts';
import type { StackEndpoints } from '../stack/app.ts';
import type { HubBootstrap } from './bootstrap.ts';
import { openDurableClock } from './durable-clock.ts';
import { Cleanups, type RunningStack } from './roles.ts';
import type { StackSecretPolicy } from './stack-secret.ts';

// What every start (`up`, `hub`, `stack`) shares: the process (data folder, logger, clock,
// scheduler, TLS, sealer), and the bootstrap file it writes once every endpoint answers.

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
    /** Records a usage page without details reads at most (`USAGE_PAGE_RECORDS`). */
    usagePageRecords?: number;
  };
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

export interface Process {
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

export async function startProcess(opts: CommonOptions): Promise<Process> {
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

export async function finish(
  p: Process,
  bootstrap: BootstrapFile,
  servers: ServedEndpoint[] = [],
): Promise<RunningSystem> {
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

export function credentialsOf(record: HubBootstrap): Pick<BootstrapFile, 'csp' | 'operator'> {
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

export function stackEntry(s: RunningStack, location: string): StackFileEntry {
  return {
    ...s.endpoints,
    location,
    providerSubscriptionId: s.record.providerSubscriptionId,
    applicationId: s.record.applicationId,
    cloudId: s.record.cloudId,
  };
}

export const nextPort = (port: number, k: number) => (port === 0 ? 0 : port + k);
