import { InvalidArgumentError, Option, type Command } from 'commander';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { StartupError } from '../core/errors.ts';
import { HttpClient } from '../core/http-client.ts';
import type { IdentitySystem } from '../core/tokens.ts';
import { StartRefused } from '../system/durable-clock.ts';
import { registerStack, registrationNameOf } from '../system/register.ts';
import type { RunningSystem } from '../system/up.ts';
import { caBundle, CliError, connect, runClient } from './client.ts';
import { dataOption, jsonOption, parseTime, print } from './output.ts';

// The server roles: `up` (a hub and a stack in one process), `hub` and `stack` alone, and
// `stack register` (a stack that runs alone registers in the cloud). The servers' code is loaded
// only by these commands, so that the client commands start quickly.

const roles = () => import('../system/up.ts');

export const DEFAULT_PORT = 8440;

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65533) throw new InvalidArgumentError('a port is a number from 0 to 65533');
  return n;
}

function printEndpoints(system: RunningSystem): void {
  const b = system.bootstrap;
  const lines = [
    'Stackledger is up.',
    ...(b.hub.partnerCenter
      ? [
          `  hub ARM          ${b.hub.arm}`,
          `  login            ${b.hub.login}`,
          `  AD FS authority  ${b.hub.adfs}`,
          `  partner center   ${b.hub.partnerCenter}`,
          `  directory        ${b.hub.graph}`,
          `  portal           ${b.hub.portal}`,
        ]
      : [`  hub              ${b.hub.arm}`]),
    ...Object.entries(b.stacks).flatMap(([name, s]) => [
      `  stack ${name} admin  ${s.adminArm}`,
      `  stack ${name} tenant ${s.tenantArm}`,
    ]),
    `  clock            ${system.clock.simulated ? `simulated, at ${system.clock.now().toISOString()}` : 'real time'}`,
    `Credentials and endpoints: ${system.bootstrapPath}${b.caFile ? `\nTrust this certificate authority: ${b.caFile}` : ''}`,
    'Stop with Ctrl+C.',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** Runs a server role until SIGINT or SIGTERM, then stops it gracefully. */
async function serve(start: () => Promise<RunningSystem>, dataDir: string): Promise<void> {
  // A library that fails in an event (a child process that cannot be spawned) does it outside our
  // promise chain: during start-up it is a start-up failure like any other.
  const failed = (e: unknown) => failStartup(e, dataDir);
  process.on('uncaughtException', failed);
  let system: RunningSystem;
  try {
    system = await start();
  } catch (e) {
    return failStartup(e instanceof StartRefused ? new CliError(e.message, 1) : e, dataDir);
  } finally {
    process.off('uncaughtException', failed);
  }
  printEndpoints(system);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping...\n`);
    await system.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

/** One line that says what to do, the details in the log; exit code 1. */
function failStartup(e: unknown, dataDir: string): void {
  const line = startupFailureLine(e, dataDir);
  try {
    appendFileSync(
      path.join(path.resolve(dataDir), 'stackledger.log'),
      `${JSON.stringify({ time: Date.now(), msg: 'start-up failed', err: String((e as Error)?.stack ?? e) })}\n`,
    );
  } catch {
    // The data folder itself may be what is wrong; the line below says so.
  }
  process.stderr.write(`error: ${line}\n`);
  // Not process.exit() at once: the log file may still be opening, and its exit hook would throw.
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 500);
}

export function startupFailureLine(e: unknown, dataDir: string): string {
  if (e instanceof StartupError || e instanceof CliError) return e.message;
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  switch (err?.code) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
    case 'ENOTDIR':
    case 'EEXIST':
      return `Cannot write ${err.path ?? path.resolve(dataDir)} (${err.code}): choose a data folder this user may write with --data.`;
    case 'ENOSPC':
      return `No space left on the device of ${path.resolve(dataDir)}: free some, or choose another folder with --data.`;
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'ETIMEDOUT':
      return `Cannot reach the PostgreSQL server${err.address ? ` at ${err.address}${err.port ? `:${err.port}` : ''}` : ''} (${err.code}): start it, or check --database.`;
    case '28P01':
    case '28000':
      return 'The PostgreSQL server refused the user or password of --database: check them.';
    case '3D000':
      return 'The database named in --database does not exist and could not be created: create it, or give a user that may.';
    case '42501':
      return 'The user of --database may not create what Stackledger needs: give it the CREATE right, or another user.';
  }
  const message = (e as Error)?.message?.split('\n')[0] ?? String(e);
  return `Stackledger could not start: ${message}. The details are in ${path.join(path.resolve(dataDir), 'stackledger.log')}.`;
}

interface ServerFlags {
  data: string;
  port: number;
  http?: boolean;
  database?: string;
  clock?: Date;
  identity?: IdentitySystem;
}

export function serverOptions(cmd: Command, defaultPort: number): Command {
  return cmd
    .addOption(dataOption())
    .addOption(
      new Option('--port <n>', 'the first port (the next ones follow); 0 picks free ports')
        .default(defaultPort)
        .argParser(parsePort),
    )
    .option('--http', 'serve plain HTTP instead of HTTPS')
    .addOption(new Option('--database <url>', 'a PostgreSQL server instead of the embedded one').env('DATABASE_URL'))
    .addOption(
      new Option('--clock <time>', 'run on a simulated clock starting at this ISO 8601 time').argParser(parseTime),
    );
}

const common = (o: ServerFlags) => ({
  dataDir: o.data,
  port: o.port,
  http: o.http,
  databaseUrl: o.database,
  clock: o.clock,
  identitySystem: o.identity,
});

/** `--identity`: which sign-in authority the metadata endpoints name (both always serve). */
const identityOption = () =>
  new Option(
    '--identity <system>',
    'the authority the metadata endpoints name: adfs (AD FS-style, what the Azure CLI accepts as it is) or aad (Azure AD-style)',
  )
    .choices(['adfs', 'aad'])
    .default('adfs');

export function registerServerCommands(program: Command): void {
  serverOptions(
    program
      .command('up')
      .description('Run one hub and one stack named "local" in this process, on the embedded PostgreSQL by default.'),
    DEFAULT_PORT,
  )
    .addOption(identityOption())
    .action((o: ServerFlags) => serve(async () => (await roles()).startSystem(common(o)), o.data));

  serverOptions(
    program
      .command('hub')
      .description('Run the hub alone (production): identity, partner center, registrations, usage, billing.'),
    DEFAULT_PORT,
  )
    .addOption(identityOption())
    .option(
      '--public-url <url>',
      'the URL clients use, when several hub processes on one database sit behind one address (a load balancer)',
    )
    .action((o: ServerFlags & { publicUrl?: string }) =>
      serve(
        async () => (await roles()).startHubOnly({ ...common(o), publicUrl: o.publicUrl?.replace(/\/+$/, '') }),
        o.data,
      ),
    );

  const stackCommand = serverOptions(
    program
      .command('stack')
      .description(
        "Run one stack alone (production), joined to a hub that runs elsewhere; the operator's credentials register it there.",
      )
      .option('--hub <url>', "the hub's ARM endpoint (required)")
      .option('--hub-ca <file>', "the certificate authority of the hub's certificate")
      .option('--name <name>', 'the stack name', 'local')
      .option('--location <name>', 'the location of its resources', 'local')
      .addOption(
        new Option('--tenant-id <id>', "the operator's directory (required)").env('STACKLEDGER_OPERATOR_TENANT_ID'),
      )
      .addOption(
        new Option('--client-id <id>', "the operator's application (required)").env('STACKLEDGER_OPERATOR_CLIENT_ID'),
      )
      .addOption(
        new Option('--client-secret <secret>', "the operator's application secret (required)").env(
          'STACKLEDGER_OPERATOR_CLIENT_SECRET',
        ),
      )
      .option('--admin-user <upn>', "the operator's administrator, made Owner of the provider subscription"),
    DEFAULT_PORT + 1,
  );
  stackCommand.enablePositionalOptions();
  stackCommand.action(
    (
      o: ServerFlags & {
        hub?: string;
        hubCa?: string;
        name: string;
        location: string;
        tenantId?: string;
        clientId?: string;
        clientSecret?: string;
        adminUser?: string;
      },
    ) => {
      const missing = (['hub', 'tenantId', 'clientId', 'clientSecret'] as const)
        .filter((k) => !o[k])
        .map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      if (missing.length > 0) throw new CliError(`stack needs ${missing.join(', ')}`, 2);
      return serve(
        async () =>
          (await roles()).startStackOnly({
            ...common(o),
            name: o.name,
            location: o.location,
            hubArm: o.hub!.replace(/\/+$/, ''),
            hubCaFile: o.hubCa,
            operator: {
              tenantId: o.tenantId!,
              clientId: o.clientId!,
              clientSecret: o.clientSecret!,
              adminUserName: o.adminUser,
            },
          }),
        o.data,
      );
    },
  );

  stackCommand
    .command('register')
    .description(
      "Register a running stack in the CSP's registration subscription (Microsoft.AzureStack/registrations), with the stack's signed registration token; the CSP first gives the stack's service principal the Azure Stack Deployment role at '/'.",
    )
    .addOption(dataOption())
    .option('--stack <name>', 'which stack of bootstrap.json', 'local')
    .option('--hub-data <dir>', "the hub's data folder, for the CSP's credentials (default: --data)")
    .option(
      '--registration <name>',
      "the registration name (default: the one in the hub's bootstrap.json, or stack-<name>)",
    )
    .option('--billing-model <model>', 'PayAsYouUse, Capacity or Development', 'PayAsYouUse')
    .option('--approve', 'also approve it for multi-tenancy (the CSP must be the provider)')
    .addOption(jsonOption())
    .action(
      async (o: {
        data: string;
        stack: string;
        hubData?: string;
        registration?: string;
        billingModel: string;
        approve?: boolean;
        json?: boolean;
      }) => {
        const registration = await runClient(o.data, async (stackSide) => {
          const hubSide = o.hubData ? await connect(o.hubData) : stackSide;
          const http = new HttpClient(await caBundle([hubSide.bootstrap.caFile, stackSide.bootstrap.caFile]));
          try {
            const entry = stackSide.bootstrap.stacks[o.stack];
            if (!entry) throw new CliError(`No stack '${o.stack}' in ${o.data}/bootstrap.json.`);
            const { csp } = hubSide.bootstrap;
            if (!csp)
              throw new CliError(
                `No CSP credentials in ${o.hubData ?? o.data}/bootstrap.json: give the hub's data folder with --hub-data.`,
              );
            const name = o.registration ?? registrationNameOf(o.stack, csp);
            return await registerStack({
              http,
              hub: hubSide.bootstrap.hub,
              stackAdminArm: entry.adminArm,
              operator: stackSide.bootstrap.operator,
              csp,
              registration: { subscriptionId: csp.registrationSubscriptionId, resourceGroup: csp.resourceGroup, name },
              billingModel: o.billingModel,
              approve: o.approve,
            });
          } finally {
            await http.close();
            if (hubSide !== stackSide) await hubSide.close();
          }
        });
        print(
          o.json,
          registration,
          () =>
            `${registration.id}\n  cloudId ${registration.properties.cloudId}, billing model ${registration.properties.billingModel}`,
        );
      },
    );
}
