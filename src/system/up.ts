import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { HttpClient } from '../core/http-client.ts';
import type { EmbeddedCluster } from '../db/embedded.ts';
import { routeTable } from '../http/server.ts';
import { adfsAuthorityOf } from '../core/tokens.ts';
import { onboardDirectory, registerStack, registrationNameOf } from './register.ts';
import {
  archiveFolder,
  resolveDatabases,
  startHubRole,
  startStackRole,
  type OperatorCredentials,
  type RunningStack,
} from './roles.ts';
import {
  credentialsOf,
  finish,
  nextPort,
  stackEntry,
  startProcess,
  type BootstrapFile,
  type CommonOptions,
  type RunningSystem,
  type ServedEndpoint,
  type StackFileEntry,
} from './process.ts';

export type { BootstrapFile, CommonOptions, RunningSystem, ServedEndpoint, StackFileEntry } from './process.ts';

// `stackledger up` (one hub and one stack `local` in one process), `stackledger hub` and
// `stackledger stack` (one role each). Each writes DIR/bootstrap.json once every endpoint answers.

export interface UpOptions extends CommonOptions {
  stackName?: string;
  location?: string;
  /** Several stacks in this process (the demo's `east` and `west`); default: one, `stackName`. */
  stacks?: Array<{ name: string; location: string }>;
  /**
   * The embedded cluster of the data folder, already starting (the demo starts it while this
   * module loads); stopped with the system.
   */
  embedded?: Promise<EmbeddedCluster>;
}

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
      opts.embedded,
    );
    const role = { scheduler: p.scheduler, logger: p.logger, tls: p.tls, host: p.host, sealer: p.sealer };
    const hubStarting = startHubRole(
      {
        ...role,
        databaseUrl: hubDb,
        port: opts.port,
        signIn: opts.policies?.signIn,
        webhooks: opts.policies?.webhooks,
        exports: { ...opts.policies?.exports, dir: path.join(p.dataDir, 'exports') },
        usagePageRecords: opts.policies?.usagePageRecords,
        archiveDir: archiveFolder(p.dataDir, 'hub'),
        identitySystem: opts.identitySystem,
      },
      p.cleanups,
    );
    // What a stack needs of the hub to join it, once it has started.
    const hubAccess = hubStarting.then(({ endpoints, record: { operator } }) => ({
      arm: endpoints.arm,
      operator: {
        tenantId: operator.tenantId,
        clientId: operator.clientId,
        clientSecret: operator.clientSecret,
        adminUserName: operator.admin.userName,
      },
    }));
    // A hub that fails is reported through `hubStarting` below, also when a stack failed before asking.
    hubAccess.catch(() => {});
    const http = new HttpClient(p.tls?.ca);
    p.cleanups.push(() => http.close());
    const startOne = async ({ name, location }: { name: string; location: string }, i: number) => {
      // The stack makes its database and servers while the hub starts, then joins it.
      const stack = await startStackRole(
        {
          ...role,
          databaseUrl: stackDbs[i],
          name,
          location,
          ports: [nextPort(opts.port, 1 + 2 * i), nextPort(opts.port, 2 + 2 * i)],
          hub: hubAccess,
          hubCa: p.tls?.ca,
          stackSecret: opts.policies?.stackSecret,
          dataDir: p.dataDir,
        },
        p.cleanups,
      );
      const hub = await hubStarting;
      const { operator, csp } = hub.record;
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
    // The hub and the stacks start side by side; what they report is listed in the order asked for.
    // Every start is awaited, a failed one or not, so that what the others opened is in the
    // cleanups before they run.
    const starts = await Promise.allSettled([hubStarting, ...wanted.map(startOne)]);
    const failed = starts.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const hub = await hubStarting;
    const started = starts.slice(1).map((r) => (r as PromiseFulfilledResult<RunningStack>).value);
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
        usagePageRecords: opts.policies?.usagePageRecords,
        archiveDir: archiveFolder(p.dataDir, 'hub'),
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
        hub: { arm: opts.hubArm, operator: opts.operator },
        hubCa,
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
