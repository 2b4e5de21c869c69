import { Command, Option } from 'commander';
import { registerBillingCommands } from './billing.ts';
import { registerClockCommands } from './clock.ts';
import { CliError, runClient } from './client.ts';
import { registerCredentialsCommands } from './credentials.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDirectoryCommands } from './directory.ts';
import { dataOption } from './output.ts';
import { registerPartnerCommands } from './partner.ts';
import { registerRegistrationCommands } from './registrations.ts';
import { registerServerCommands } from './server.ts';
import { registerStackCommands } from './stacks.ts';
import { registerStatusCommand } from './status.ts';
import { registerUsageCommands } from './usage.ts';

// The `stackledger` command: each group of commands lives in its own file and registers itself.

const program = new Command('stackledger')
  .description(
    'Onboard customers as tenants of private-cloud stacks, meter their usage, and bill each one for its own.',
  )
  .showHelpAfterError()
  // `stack register --data …`: options after a subcommand belong to it, not to its parent.
  .enablePositionalOptions();

registerServerCommands(program);
registerStatusCommand(program);
registerCredentialsCommands(program);
registerClockCommands(program);
registerPartnerCommands(program);
registerDirectoryCommands(program);
registerRegistrationCommands(program);
registerStackCommands(program);
registerUsageCommands(program);
registerBillingCommands(program);
registerDemoCommand(program);

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
