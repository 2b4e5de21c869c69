import { Option, type Command } from 'commander';
import { resolveCustomer, runClient, saveCustomer, type Connection, type SavedCustomer } from './client.ts';
import { CSP_OFFER_ID } from '../core/offers.ts';
import { dataOption, jsonOption, print, table, tableOrNone } from './output.ts';

// The partner center, as the CSP: customers (seed step 1) and their subscriptions (step 2).

export interface NewCustomer {
  domain: string;
  companyName?: string;
  email?: string;
}

/** Creates a customer (and its directory); keeps its first administrator's credentials in DIR/customers.json. */
export async function createCustomer(c: Connection, input: NewCustomer): Promise<SavedCustomer> {
  const pc = c.bootstrap.hub.partnerCenter;
  const body = {
    companyProfile: { domain: input.domain, ...(input.companyName ? { companyName: input.companyName } : {}) },
    ...(input.email ? { billingProfile: { email: input.email } } : {}),
  };
  const created = await c.http.call('POST', `${pc}/v1/customers`, { token: await c.token(pc), body });
  const customer: SavedCustomer = {
    id: created.id,
    domain: created.companyProfile.domain,
    companyName: created.companyProfile.companyName,
    admin: created.userCredentials,
  };
  await saveCustomer(c.dataDir, customer);
  return customer;
}

export interface PartnerSubscription {
  id: string;
  offerId: string;
  friendlyName: string;
  status: string;
  creationDate: string;
}

const subscriptionOf = (s: PartnerSubscription): PartnerSubscription => ({
  id: s.id,
  offerId: s.offerId,
  friendlyName: s.friendlyName,
  status: s.status,
  creationDate: s.creationDate,
});

/** Sells the customer a subscription through an order; the CSP offer's is a cloud subscription. */
export async function createSubscription(
  c: Connection,
  customerId: string,
  offerId = CSP_OFFER_ID,
  friendlyName?: string,
): Promise<PartnerSubscription> {
  const pc = c.bootstrap.hub.partnerCenter;
  const token = await c.token(pc);
  const order = await c.http.call('POST', `${pc}/v1/customers/${customerId}/orders`, {
    token,
    body: { lineItems: [{ lineItemNumber: 0, offerId, quantity: 1, ...(friendlyName ? { friendlyName } : {}) }] },
  });
  return subscriptionOf(
    await c.http.call('GET', `${pc}/v1/customers/${customerId}/subscriptions/${order.lineItems[0].subscriptionId}`, {
      token,
    }),
  );
}

/** Every item of a partner-center collection, following its continuation tokens. */
async function partnerList<T>(c: Connection, path: string): Promise<T[]> {
  const pc = c.bootstrap.hub.partnerCenter;
  const token = await c.token(pc);
  const out: T[] = [];
  let page = await c.http.call('GET', `${pc}${path}`, { token });
  out.push(...page.items);
  while (page.links?.next) {
    const next = page.links.next;
    page = await c.http.call('GET', `${pc}${next.uri}`, {
      token,
      headers: Object.fromEntries(next.headers.map((h: { key: string; value: string }) => [h.key, h.value])),
    });
    out.push(...page.items);
  }
  return out;
}

const statusCommand = (subs: Command, name: string, status: string, description: string) =>
  subs
    .command(name)
    .description(description)
    .argument('<subscription>', 'the subscription id')
    .requiredOption('--customer <customer>', 'the customer (id or domain)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (subscriptionId: string, o: { customer: string; data: string; json?: boolean }) => {
      const updated = await runClient(o.data, async (c) => {
        const customer = await resolveCustomer(c, o.customer);
        const pc = c.bootstrap.hub.partnerCenter;
        return subscriptionOf(
          await c.http.call('PATCH', `${pc}/v1/customers/${customer.id}/subscriptions/${subscriptionId}`, {
            token: await c.token(pc),
            body: { status },
          }),
        );
      });
      print(o.json, updated, () => `${updated.id} is ${updated.status}`);
    });

export function registerPartnerCommands(program: Command): void {
  const customers = program
    .command('customers')
    .description("The CSP's customers in the partner center (seed step 1): each has its own directory.");

  customers
    .command('create')
    .description(
      'Create a customer and its directory ({domain}.onstackledger.local) with a first administrator, whose password is shown once and kept in DIR/customers.json.',
    )
    .requiredOption('--domain <prefix>', 'the directory domain prefix (or the whole domain)')
    .option('--company <name>', 'the company name')
    .option('--email <address>', 'the billing contact')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { domain: string; company?: string; email?: string; data: string; json?: boolean }) => {
      const customer = await runClient(o.data, (c) =>
        createCustomer(c, { domain: o.domain, companyName: o.company, email: o.email }),
      );
      print(o.json, customer, () =>
        table(
          ['customer (tenant id)', 'domain', 'company', 'first administrator', 'password (shown once)'],
          [[customer.id, customer.domain, customer.companyName, customer.admin.userName, customer.admin.password]],
        ),
      );
    });

  customers
    .command('list')
    .description("List the CSP's customers.")
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { data: string; json?: boolean }) => {
      const rows = await runClient(o.data, (c) =>
        partnerList<{
          id: string;
          companyProfile: { domain: string; companyName: string };
          relationshipToPartner: string;
        }>(c, '/v1/customers'),
      );
      const list = rows.map((x) => ({
        id: x.id,
        domain: x.companyProfile.domain,
        companyName: x.companyProfile.companyName,
        relationship: x.relationshipToPartner,
      }));
      print(o.json, list, () =>
        tableOrNone(
          ['customer (tenant id)', 'domain', 'company', 'relationship'],
          list.map((x) => [x.id, x.domain, x.companyName, x.relationship]),
          'no customers',
        ),
      );
    });

  customers
    .command('show')
    .description('Show one customer.')
    .argument('<customer>', 'the customer (id or domain)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (ref: string, o: { data: string; json?: boolean }) => {
      const customer = await runClient(o.data, async (c) => {
        const { id } = await resolveCustomer(c, ref);
        const pc = c.bootstrap.hub.partnerCenter;
        return c.http.call('GET', `${pc}/v1/customers/${id}`, { token: await c.token(pc) });
      });
      print(o.json, customer, () =>
        table(
          ['customer (tenant id)', 'domain', 'company', 'billing email', 'relationship'],
          [
            [
              customer.id,
              customer.companyProfile.domain,
              customer.companyProfile.companyName,
              customer.billingProfile.email,
              customer.relationshipToPartner,
            ],
          ],
        ),
      );
    });

  const subs = program
    .command('subscriptions')
    .description("Customers' subscriptions in the partner center (seed step 2): sell, suspend, reactivate, cancel.");

  subs
    .command('create')
    .description(
      `Sell a customer a subscription (an order); the CSP offer ${CSP_OFFER_ID} makes a cloud subscription in the customer's directory.`,
    )
    .requiredOption('--customer <customer>', 'the customer (id or domain)')
    .addOption(new Option('--offer <id>', 'the offer').default(CSP_OFFER_ID))
    .option('--name <friendlyName>', 'a friendly name')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { customer: string; offer: string; name?: string; data: string; json?: boolean }) => {
      const sub = await runClient(o.data, async (c) =>
        createSubscription(c, (await resolveCustomer(c, o.customer)).id, o.offer, o.name),
      );
      print(o.json, sub, () =>
        table(['subscription', 'offer', 'name', 'status'], [[sub.id, sub.offerId, sub.friendlyName, sub.status]]),
      );
    });

  subs
    .command('list')
    .description("List a customer's subscriptions.")
    .requiredOption('--customer <customer>', 'the customer (id or domain)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { customer: string; data: string; json?: boolean }) => {
      const list = await runClient(o.data, async (c) =>
        (
          await partnerList<PartnerSubscription>(
            c,
            `/v1/customers/${(await resolveCustomer(c, o.customer)).id}/subscriptions`,
          )
        ).map(subscriptionOf),
      );
      print(o.json, list, () =>
        tableOrNone(
          ['subscription', 'offer', 'name', 'status', 'created'],
          list.map((s) => [s.id, s.offerId, s.friendlyName, s.status, s.creationDate]),
          'no subscriptions',
        ),
      );
    });

  statusCommand(
    subs,
    'suspend',
    'suspended',
    'Suspend a subscription: its cloud subscription becomes Disabled (read only).',
  );
  statusCommand(subs, 'activate', 'active', 'Reactivate a suspended subscription.');
  statusCommand(subs, 'cancel', 'deleted', 'Cancel a subscription for good.');
}
