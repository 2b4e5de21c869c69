import { Option, type Command } from 'commander';
import {
  CliError,
  findSavedCustomer,
  resolveCustomer,
  savedCustomers,
  type Connection,
  type CustomerRef,
  type Identity,
} from './client.ts';

// Who a command acts as. The CSP's and the operator's service principals come from bootstrap.json;
// the CSP's administrator signs in to its own directory or, as a guest, to a customer's; a
// customer's first administrator comes from DIR/customers.json; anyone else with --user/--password.

export const ACTORS = ['csp', 'operator', 'csp-admin', 'customer-admin'] as const;
export type Actor = (typeof ACTORS)[number];

export interface ActorFlags {
  as?: Actor;
  user?: string;
  password?: string;
  tenant?: string;
}

/** --as and friends; without --as, a command with --customer acts as the customer's first administrator, else as the CSP. */
export function actorOptions(cmd: Command, defaultActor?: Actor): Command {
  const who =
    "who acts: the CSP's or operator's service principal, the CSP's administrator, or the customer's first administrator";
  const as = new Option(
    '--as <who>',
    defaultActor ? who : `${who} (default: customer-admin with --customer, else csp)`,
  ).choices(ACTORS);
  return cmd
    .addOption(defaultActor ? as.default(defaultActor) : as)
    .option('--user <upn>', 'act as this user instead (password grant)')
    .addOption(new Option('--password <password>', "the user's password").env('STACKLEDGER_PASSWORD'))
    .option('--tenant <id>', "the directory to sign in to (default: the customer's, else the user's own)");
}

export async function actorOf(c: Connection, o: ActorFlags, customer?: CustomerRef): Promise<Identity> {
  const { csp, operator } = c.bootstrap;
  if (o.user) {
    if (!o.password) throw new CliError('--user needs --password (or STACKLEDGER_PASSWORD).', 2);
    const tenantId = o.tenant ?? customer?.id;
    if (!tenantId) throw new CliError('--user needs --tenant (the directory to sign in to), or --customer.', 2);
    return { kind: 'user', name: o.user, tenantId, userName: o.user, password: o.password };
  }
  switch (o.as ?? (customer ? 'customer-admin' : 'csp')) {
    case 'csp':
      return { kind: 'app', name: 'the CSP', credentials: csp };
    case 'operator':
      return { kind: 'app', name: 'the operator', credentials: operator };
    case 'csp-admin': {
      const tenantId = o.tenant ?? customer?.id ?? csp.tenantId;
      return {
        kind: 'user',
        name: tenantId === csp.tenantId ? csp.admin.userName : `${csp.admin.userName} (guest)`,
        tenantId,
        ...csp.admin,
      };
    }
    case 'customer-admin': {
      if (!customer) throw new CliError('--as customer-admin needs --customer.', 2);
      const saved = findSavedCustomer(await savedCustomers(c.dataDir), customer.id);
      if (!saved) {
        throw new CliError(
          `No saved credentials for ${customer.domain}'s first administrator: they are kept in ${c.dataDir}/customers.json only when 'stackledger customers create' made the customer there. Give --user and --password.`,
          2,
        );
      }
      return { kind: 'user', name: saved.admin.userName, tenantId: o.tenant ?? saved.id, ...saved.admin };
    }
  }
}

/** Who acts for a command with the actor's options and an optional --customer. */
export async function whoActs(c: Connection, o: ActorFlags & { customer?: string }): Promise<Identity> {
  return actorOf(c, o, o.customer ? await resolveCustomer(c, o.customer) : undefined);
}
