import type { Command } from 'commander';
import { registrationNameOf } from '../system/register.ts';
import { armList, runClient, type Connection } from './client.ts';
import { dataOption, jsonOption, print, tableOrNone } from './output.ts';

// Registrations of the deployments in the CSP's registration subscription, and the customer
// subscriptions linked to them (seed step 4), as the CSP on the hub's ARM endpoint.

const API = 'api-version=2017-06-01';

/** The URL of a stack's registration (or of another one, by name). */
export function registrationUrl(c: Connection, stack: string, registration?: string): string {
  const { csp } = c.bootstrap;
  const name = registration ?? registrationNameOf(stack, csp);
  if (!registration) c.stack(stack); // a stack that bootstrap.json does not name is an error of the command line
  return `${c.bootstrap.hub.arm}/subscriptions/${csp.registrationSubscriptionId}/resourceGroups/${csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${name}`;
}

export interface CustomerSubscriptionLink {
  id: string;
  registration: string;
  subscriptionId: string;
  tenantId: string;
}

const linkOf = (x: { id: string; properties: { tenantId: string } }): CustomerSubscriptionLink => ({
  id: x.id,
  registration: x.id.split('/')[8],
  subscriptionId: x.id.split('/').at(-1) ?? '',
  tenantId: x.properties.tenantId,
});

/** Links a customer's cloud subscription to a stack's registration: its tenant's usage there goes to it. */
export async function addCustomerSubscription(
  c: Connection,
  input: { stack: string; subscriptionId: string; tenantId?: string; registration?: string },
): Promise<CustomerSubscriptionLink> {
  const url = `${registrationUrl(c, input.stack, input.registration)}/customerSubscriptions/${input.subscriptionId}?${API}`;
  const body = { properties: input.tenantId ? { tenantId: input.tenantId } : {} };
  return linkOf(await c.http.call('PUT', url, { token: await c.token(c.bootstrap.hub.arm), body }));
}

interface StackFlags {
  stack: string;
  registration?: string;
  data: string;
  json?: boolean;
}

const linkTable = (links: CustomerSubscriptionLink[]) =>
  tableOrNone(
    ['registration', 'customer subscription', 'tenant'],
    links.map((l) => [l.registration, l.subscriptionId, l.tenantId]),
    'no customer subscriptions',
  );

export function registerRegistrationCommands(program: Command): void {
  const registrations = program
    .command('registrations')
    .description("The deployments' registrations in the CSP's registration subscription (Microsoft.AzureStack).");

  registrations
    .command('list')
    .description('List the registrations: one per deployment, with its cloud id and billing model.')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { data: string; json?: boolean }) => {
      const list = await runClient(o.data, async (c) => {
        const { csp } = c.bootstrap;
        const rows = await armList(
          c,
          `${c.bootstrap.hub.arm}/subscriptions/${csp.registrationSubscriptionId}/resourceGroups/${csp.resourceGroup}/providers/Microsoft.AzureStack/registrations?${API}`,
          await c.token(c.bootstrap.hub.arm),
        );
        return rows.map((r) => ({
          name: r.name,
          cloudId: r.properties.cloudId,
          billingModel: r.properties.billingModel,
          id: r.id,
        }));
      });
      print(o.json, list, () =>
        tableOrNone(
          ['registration', 'cloud id', 'billing model'],
          list.map((r) => [r.name, r.cloudId, r.billingModel]),
          'no registrations',
        ),
      );
    });

  const links = program
    .command('customer-subscriptions')
    .description(
      "Customer subscriptions registered with a deployment's registration (seed step 4): usage of their tenant there is billed to them.",
    );

  const stackOptions = (cmd: Command) =>
    cmd
      .requiredOption('--stack <name>', 'the deployment (its registration)')
      .option('--registration <name>', "the registration's name, if not the stack's own")
      .addOption(dataOption())
      .addOption(jsonOption());

  stackOptions(
    links
      .command('add')
      .description(
        "Register a customer's cloud subscription (bought under the CSP offer) with a deployment's registration.",
      )
      .requiredOption('--subscription <id>', "the customer's cloud subscription")
      .option('--tenant <id>', 'the directory that holds it (checked when given)'),
  ).action(async (o: StackFlags & { subscription: string; tenant?: string }) => {
    const link = await runClient(o.data, (c) =>
      addCustomerSubscription(c, {
        stack: o.stack,
        subscriptionId: o.subscription,
        tenantId: o.tenant,
        registration: o.registration,
      }),
    );
    print(o.json, link, () => linkTable([link]));
  });

  stackOptions(
    links.command('list').description("List the customer subscriptions registered with a deployment's registration."),
  ).action(async (o: StackFlags) => {
    const list = await runClient(o.data, async (c) =>
      (
        await armList(
          c,
          `${registrationUrl(c, o.stack, o.registration)}/customerSubscriptions?${API}`,
          await c.token(c.bootstrap.hub.arm),
        )
      ).map(linkOf),
    );
    print(o.json, list, () => linkTable(list));
  });

  stackOptions(
    links
      .command('remove')
      .description(
        "Remove a customer subscription from a deployment's registration: from then on its tenant's usage there goes to the registration subscription.",
      )
      .requiredOption('--subscription <id>', "the customer's cloud subscription"),
  ).action(async (o: StackFlags & { subscription: string }) => {
    await runClient(o.data, async (c) =>
      c.http.call(
        'DELETE',
        `${registrationUrl(c, o.stack, o.registration)}/customerSubscriptions/${o.subscription}?${API}`,
        { token: await c.token(c.bootstrap.hub.arm) },
      ),
    );
    print(
      o.json,
      { removed: o.subscription, stack: o.stack },
      () => `${o.subscription} removed from the registration of ${o.stack}`,
    );
  });
}
