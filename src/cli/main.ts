import { Command, InvalidArgumentError, Option } from 'commander';
import { parseInstant, parseIsoDuration } from '../core/clock.ts';
import { API_VERSIONS } from '../core/api-versions.ts';
import { startHubOnly, startStackOnly, startSystem, type RunningSystem } from '../system/up.ts';
import { findMeter } from '../core/meters.ts';
import { caBundle, CliError, connect, runClient } from './client.ts';
import { HttpClient } from '../core/http-client.ts';
import { registerStack } from '../system/register.ts';

// The `stackledger` command.

const DEFAULT_DATA = './.stackledger';
const DEFAULT_PORT = 8440;

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65533) throw new InvalidArgumentError('a port is a number from 0 to 65533');
  return n;
}

function parseTime(v: string): Date {
  const t = parseInstant(v);
  if (!t) throw new InvalidArgumentError('expected an ISO 8601 time, such as 2026-01-01T00:00:00Z');
  return t;
}

const dataOption = () => new Option('--data <dir>', 'the data folder of the system').default(DEFAULT_DATA);
const jsonOption = () => new Option('--json', 'print JSON for scripts');

function print(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : human()) + '\n');
}

const program = new Command('stackledger')
  .description('Onboard customers as tenants of private-cloud stacks, meter their usage, and bill each one for its own.')
  .showHelpAfterError()
  // `stack register --data …`: options after a subcommand belong to it, not to its parent.
  .enablePositionalOptions();

function printEndpoints(system: RunningSystem): void {
  const b = system.bootstrap;
  const lines = [
    'Stackledger is up.',
    ...(b.hub.partnerCenter
      ? [
          `  hub ARM          ${b.hub.arm}`,
          `  login            ${b.hub.login}`,
          `  partner center   ${b.hub.partnerCenter}`,
          `  directory        ${b.hub.graph}`,
          `  portal           ${b.hub.portal}`,
        ]
      : [`  hub              ${b.hub.arm}`]),
    ...Object.entries(b.stacks).flatMap(([name, s]) => [`  stack ${name} admin  ${s.adminArm}`, `  stack ${name} tenant ${s.tenantArm}`]),
    `  clock            ${system.clock.simulated ? `simulated, at ${system.clock.now().toISOString()}` : 'real time'}`,
    `Credentials and endpoints: ${system.bootstrapPath}${b.caFile ? `\nTrust this certificate authority: ${b.caFile}` : ''}`,
    'Stop with Ctrl+C.',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** Runs a server role until SIGINT or SIGTERM, then stops it gracefully. */
async function serve(start: () => Promise<RunningSystem>): Promise<void> {
  const system = await start();
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

interface ServerFlags {
  data: string;
  port: number;
  http?: boolean;
  database?: string;
  clock?: Date;
}

function serverOptions(cmd: Command, defaultPort: number): Command {
  return cmd
    .addOption(dataOption())
    .addOption(new Option('--port <n>', 'the first port (the next ones follow); 0 picks free ports').default(defaultPort).argParser(parsePort))
    .option('--http', 'serve plain HTTP instead of HTTPS')
    .addOption(new Option('--database <url>', 'a PostgreSQL server instead of the embedded one').env('DATABASE_URL'))
    .addOption(new Option('--clock <time>', 'run on a simulated clock starting at this ISO 8601 time').argParser(parseTime));
}

const common = (o: ServerFlags) => ({ dataDir: o.data, port: o.port, http: o.http, databaseUrl: o.database, clock: o.clock });

serverOptions(program.command('up').description('Run one hub and one stack named "local" in this process, on the embedded PostgreSQL by default.'), DEFAULT_PORT).action(
  (o: ServerFlags) => serve(() => startSystem(common(o))),
);

serverOptions(program.command('hub').description('Run the hub alone (production): identity, partner center, registrations, usage, billing.'), DEFAULT_PORT).action(
  (o: ServerFlags) => serve(() => startHubOnly(common(o))),
);

const stackCommand = serverOptions(
  program
    .command('stack')
    .description("Run one stack alone (production), joined to a hub that runs elsewhere; the operator's credentials register it there.")
    .option('--hub <url>', "the hub's ARM endpoint (required)")
    .option('--hub-ca <file>', "the certificate authority of the hub's certificate")
    .option('--name <name>', 'the stack name', 'local')
    .option('--location <name>', 'the location of its resources', 'local')
    .addOption(new Option('--tenant-id <id>', "the operator's directory (required)").env('STACKLEDGER_OPERATOR_TENANT_ID'))
    .addOption(new Option('--client-id <id>', "the operator's application (required)").env('STACKLEDGER_OPERATOR_CLIENT_ID'))
    .addOption(new Option('--client-secret <secret>', "the operator's application secret (required)").env('STACKLEDGER_OPERATOR_CLIENT_SECRET'))
    .option('--admin-user <upn>', "the operator's administrator, made Owner of the provider subscription"),
  DEFAULT_PORT + 1,
);
stackCommand.enablePositionalOptions();
stackCommand.action(
  (o: ServerFlags & { hub?: string; hubCa?: string; name: string; location: string; tenantId?: string; clientId?: string; clientSecret?: string; adminUser?: string }) => {
    const missing = (['hub', 'tenantId', 'clientId', 'clientSecret'] as const).filter((k) => !o[k]).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    if (missing.length > 0) throw new CliError(`stack needs ${missing.join(', ')}`, 2);
    return serve(() =>
      startStackOnly({
        ...common(o),
        name: o.name,
        location: o.location,
        hubArm: o.hub!.replace(/\/+$/, ''),
        hubCaFile: o.hubCa,
        operator: { tenantId: o.tenantId!, clientId: o.clientId!, clientSecret: o.clientSecret!, adminUserName: o.adminUser },
      }),
    );
  },
);

stackCommand
  .command('register')
  .description("Register a running stack in the CSP's registration subscription (Microsoft.AzureStack/registrations), with the stack's registration token.")
  .addOption(dataOption())
  .option('--stack <name>', 'which stack of bootstrap.json', 'local')
  .option('--hub-data <dir>', "the hub's data folder, for the CSP's credentials (default: --data)")
  .option('--registration <name>', 'the registration name (default: the one in the hub\'s bootstrap.json, or stack-<name>)')
  .option('--billing-model <model>', 'PayAsYouUse, Capacity or Development', 'PayAsYouUse')
  .option('--approve', 'also approve it for multi-tenancy (the CSP must be the provider)')
  .addOption(jsonOption())
  .action(async (o: { data: string; stack: string; hubData?: string; registration?: string; billingModel: string; approve?: boolean; json?: boolean }) => {
    const registration = await runClient(o.data, async (stackSide) => {
      const hubSide = o.hubData ? await connect(o.hubData) : stackSide;
      const http = new HttpClient(await caBundle([hubSide.bootstrap.caFile, stackSide.bootstrap.caFile]));
      try {
        const entry = stackSide.bootstrap.stacks[o.stack];
        if (!entry) throw new CliError(`No stack '${o.stack}' in ${o.data}/bootstrap.json.`);
        const { csp } = hubSide.bootstrap;
        if (!csp) throw new CliError(`No CSP credentials in ${o.hubData ?? o.data}/bootstrap.json: give the hub's data folder with --hub-data.`);
        const name = o.registration ?? (o.stack === 'local' ? csp.registrationName : `stack-${o.stack}`);
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
    print(o.json, registration, () => `${registration.id}\n  cloudId ${registration.properties.cloudId}, billing model ${registration.properties.billingModel}`);
  });

const clock = program.command('clock').description("Read or move the running system's clock.");

clock
  .command('show')
  .description('Print the current (simulated or real) time of the running system.')
  .addOption(dataOption())
  .addOption(jsonOption())
  .action(async (o: { data: string; json?: boolean }) => {
    const result = await runClient(o.data, async (c) =>
      c.http.call('GET', `${c.bootstrap.hub.arm}/providers/Stackledger.System/clock?api-version=${API_VERSIONS.system[0]}`, { token: await c.token(c.bootstrap.hub.arm) }),
    );
    print(o.json, result, () => `${result.now}${result.simulated ? ' (simulated)' : ''}`);
  });

clock
  .command('advance')
  .description('Move the simulated clock forward by an ISO 8601 duration (PT3H, P7D, P31DT12H); returns when the work due is done.')
  .argument('<duration>', 'ISO 8601 duration')
  .addOption(dataOption())
  .addOption(jsonOption())
  .action(async (duration: string, o: { data: string; json?: boolean }) => {
    if (!parseIsoDuration(duration)) throw new CliError(`'${duration}' is not an ISO 8601 duration such as PT3H or P7D.`, 2);
    const result = await runClient(o.data, async (c) =>
      c.http.call('POST', `${c.bootstrap.hub.arm}/providers/Stackledger.System/clock/advance?api-version=${API_VERSIONS.system[0]}`, {
        token: await c.token(c.bootstrap.hub.arm),
        body: { duration },
      }),
    );
    print(o.json, result, () => `${result.from} -> ${result.now}`);
  });

const usageCommand = program.command('usage').description('Usage on the hub.');

usageCommand
  .command('show')
  .description("Usage billed to a subscription on the hub (a customer's, or the registration subscription), by meter and resource.")
  .addOption(dataOption())
  .requiredOption('--subscription <id>', 'the subscription: a customer subscription, or the registration subscription')
  .option('--from <time>', 'reported from (ISO 8601, inclusive)')
  .option('--to <time>', 'reported until (ISO 8601, exclusive; default: now, on the hour)')
  .addOption(new Option('--granularity <g>', 'Hourly or Daily').choices(['Hourly', 'Daily']).default('Daily'))
  .option('--by-meter', 'sum over resources (no per-resource lines)')
  .addOption(jsonOption())
  .action(async (o: { data: string; subscription: string; from?: string; to?: string; granularity: 'Hourly' | 'Daily'; byMeter?: boolean; json?: boolean }) => {
    const unit = o.granularity === 'Hourly' ? 3_600_000 : 86_400_000;
    const rows: any[] = await runClient(o.data, async (c) => {
      const token = await c.token(c.bootstrap.hub.arm);
      const clockNow = new Date((await c.http.call('GET', `${c.bootstrap.hub.arm}/providers/Stackledger.System/clock?api-version=${API_VERSIONS.system[0]}`, { token })).now);
      const to = o.to ? parseInstant(o.to) : new Date(Math.floor(clockNow.getTime() / unit) * unit);
      const from = o.from ? parseInstant(o.from) : new Date((to?.getTime() ?? 0) - 30 * 86_400_000);
      if (!from || !to) throw new CliError('--from and --to take ISO 8601 times.', 2);
      const out: any[] = [];
      let url: string | undefined =
        `${c.bootstrap.hub.arm}/subscriptions/${o.subscription}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview` +
        `&reportedStartTime=${from.toISOString()}&reportedEndTime=${to.toISOString()}&aggregationGranularity=${o.granularity}&showDetails=${o.byMeter ? 'false' : 'true'}`;
      while (url) {
        const page: any = await c.http.call('GET', url, { token });
        out.push(...page.value);
        url = page.nextLink;
      }
      return out;
    });
    const lines = rows.map((r) => {
      const p = r.properties;
      const data = p.instanceData ? JSON.parse(p.instanceData)['Microsoft.Resources'] : undefined;
      const meter = findMeter(p.meterId);
      return { usageStart: p.usageStartTime, usageEnd: p.usageEndTime, meterId: p.meterId, meter: meter?.name ?? p.meterId, unit: meter?.unit ?? '', quantity: p.quantity, resource: data?.resourceUri, location: data?.location };
    });
    print(o.json, lines, () =>
      lines.length === 0
        ? 'no usage in that window'
        : lines.map((l) => `${l.usageStart.slice(0, 16)}  ${l.meter.padEnd(26)} ${String(l.quantity).padStart(14)} ${l.unit.padEnd(16)} ${l.location ?? ''} ${l.resource ?? ''}`).join('\n'),
    );
  });

usageCommand
  .command('verify')
  .description('Prove the ledger: per deployment, meter and hour, the usage received equals the usage attributed. Exits 1 on any difference.')
  .addOption(dataOption())
  .option('--from <time>', 'first usage hour (ISO 8601)', '1970-01-01T00:00:00Z')
  .option('--to <time>', 'end of the range, exclusive (ISO 8601)', '9999-01-01T00:00:00Z')
  .addOption(jsonOption())
  .action(async (o: { data: string; from: string; to: string; json?: boolean }) => {
    for (const t of [o.from, o.to]) if (!parseInstant(t)) throw new CliError(`'${t}' is not an ISO 8601 time.`, 2);
    const result = await runClient(o.data, async (c) =>
      c.http.call('GET', `${c.bootstrap.hub.arm}/providers/Stackledger.System/usage/verify?api-version=${API_VERSIONS.system[0]}&from=${encodeURIComponent(o.from)}&to=${encodeURIComponent(o.to)}`, {
        token: await c.token(c.bootstrap.hub.arm),
      }),
    );
    print(o.json, result, () =>
      [
        `${result.records} records, ${result.received} received, ${result.attributed} attributed: ${result.balanced ? 'balanced' : 'NOT BALANCED'}`,
        ...result.differences.map((d: any) => `  ${d.hour} ${d.source} ${d.meterId}: received ${d.received}, attributed ${d.attributed}`),
      ].join('\n'),
    );
    if (!result.balanced) process.exitCode = 1;
  });

program
  .command('token')
  .description('Print an access token of the CSP (or the operator) for a resource, for use with other tools.')
  .addOption(dataOption())
  .option('--resource <url>', 'the resource (audience); default: the hub ARM endpoint')
  .addOption(new Option('--as <who>', 'whose service principal').choices(['csp', 'operator']).default('csp'))
  .action(async (o: { data: string; resource?: string; as: 'csp' | 'operator' }) => {
    const token = await runClient(o.data, (c) => c.token(o.resource ?? c.bootstrap.hub.arm, o.as));
    process.stdout.write(token + '\n');
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CliError) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  throw e;
}
