import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { HttpError } from '../core/http-client.ts';
import type { RunningSystem } from '../system/up.ts';
import { advanceClock } from './clock.ts';
import {
  armList,
  asCliError,
  CliError,
  connect,
  type Connection,
  type Identity,
  type SavedCustomer,
} from './client.ts';
import { assignRole, inviteGuest, signInAsGuest } from './directory.ts';
import { jsonOption, progressBar, table } from './output.ts';
import { createCustomer, createSubscription } from './partner.ts';
import { addCustomerSubscription } from './registrations.ts';
import { consent, createTenantSubscription, createVm, onboard } from './stacks.ts';
import { monthUsage, verifyLedger } from './usage.ts';

// `stackledger demo`: a hub and two stacks in this process on a simulated clock, and the seed's
// whole flow through the same operations as the other commands, over HTTPS like any client. Every
// number it reports comes back from the system's APIs; the plan below only says what to do.

const STACKS = [
  { name: 'east', location: 'east' },
  { name: 'west', location: 'west' },
];
const START = new Date('2026-01-01T00:00:00Z');
const PERIOD = '2026-01';
// A month, and an hour more: January's last hour is closed, delivered and attributed, and January closes.
const MONTH_AND_AN_HOUR = 'P31DT1H';
const BASE_VM_SIZE_HOURS = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const BILLING_API = 'api-version=2026-11-01';

interface PlannedVm {
  stack: string;
  name: string;
  size: string;
  image: string;
}

interface PlannedCustomer {
  company: string;
  domain: string;
  /** The deployments whose registration the customer subscription is added to. */
  registeredOn: string[];
  vms: PlannedVm[];
}

// Registered on one deployment (and using the other too), on both, and on none.
const PLAN: PlannedCustomer[] = [
  {
    company: 'Adatum',
    domain: 'adatum',
    registeredOn: ['east'],
    vms: [
      { stack: 'east', name: 'adatum-web', size: 'Standard_D2_v2', image: 'Win2019Datacenter' },
      { stack: 'west', name: 'adatum-dr', size: 'Standard_A1_v2', image: 'UbuntuLTS' },
    ],
  },
  {
    company: 'Bellows',
    domain: 'bellows',
    registeredOn: ['east', 'west'],
    vms: [
      { stack: 'east', name: 'bellows-app', size: 'Standard_D3_v2', image: 'UbuntuLTS' },
      { stack: 'west', name: 'bellows-db', size: 'Standard_A2_v2', image: 'Win2019Datacenter' },
    ],
  },
  {
    company: 'Corvid',
    domain: 'corvid',
    registeredOn: [],
    vms: [{ stack: 'east', name: 'corvid-vm', size: 'Standard_A1_v2', image: 'UbuntuLTS' }],
  },
];

export interface DemoCustomer {
  name: string;
  tenantId: string;
  subscriptionId: string;
  registeredOn: string[];
  usage: Record<string, number>;
  invoiceTotal: number;
}

export interface DemoResult {
  customers: DemoCustomer[];
  registrationSubscription: { subscriptionId: string; usage: Record<string, number> };
}

class Narrator {
  readonly #started = Date.now();
  constructor(private readonly out: NodeJS.WritableStream) {}
  step(title: string): void {
    this.out.write(`\n== ${title} [${((Date.now() - this.#started) / 1000).toFixed(1)} s]\n`);
  }
  say(text: string): void {
    this.out.write(`   ${text}\n`);
  }
  block(text: string): void {
    this.out.write(text + '\n');
  }
}

const roundHours = (n: number) => Math.round(n * 1e6) / 1e6;

/** vCPU hours of Base VM Size Hours per stack, for every stack (0 where none). */
async function baseVmHours(c: Connection, subscriptionId: string): Promise<Record<string, number>> {
  const usage = Object.fromEntries(STACKS.map((s) => [s.name, 0]));
  for (const t of await monthUsage(c, subscriptionId, PERIOD)) {
    if (t.meterId === BASE_VM_SIZE_HOURS) usage[t.stack] = roundHours((usage[t.stack] ?? 0) + t.quantity);
  }
  return usage;
}

/** The CSP's invoices to its customers for the period, after confirming that the period is closed. */
async function invoiceTotals(c: Connection, n: Narrator): Promise<Map<string, number> | undefined> {
  const arm = c.bootstrap.hub.arm;
  const token = await c.token(arm);
  try {
    await c.http.call('POST', `${arm}/providers/Stackledger.Billing/billingRuns?${BILLING_API}`, {
      token,
      body: { period: PERIOD },
    });
    const invoices = await armList(
      c,
      `${arm}/providers/Stackledger.Billing/invoices?${BILLING_API}&period=${PERIOD}`,
      token,
    );
    const totals = new Map<string, number>();
    for (const inv of invoices) {
      const p = inv.properties;
      if (p.kind !== 'invoice' || p.period !== PERIOD) continue;
      totals.set(p.customerId, (totals.get(p.customerId) ?? 0) + Number(p.total));
      n.say(
        `invoice ${p.invoiceNumber} to ${p.customerName}: ${p.currency} ${p.total} (subtotal ${p.subtotal}, tax ${p.tax})`,
      );
    }
    return totals;
  } catch (e) {
    // A hub without billing answers an unknown route with ARM's 404.
    if (e instanceof HttpError && e.status === 404) return undefined;
    throw e;
  }
}

/** Runs the seed's flow against a running hub with the stacks east and west. */
export async function runDemoFlow(
  c: Connection,
  n: Narrator,
  onAdvance?: (done: number, total: number, now: Date) => void,
): Promise<DemoResult> {
  const { csp } = c.bootstrap;
  const existing = await c.http.call('GET', `${c.bootstrap.hub.partnerCenter}/v1/customers`, {
    token: await c.token(c.bootstrap.hub.partnerCenter),
  });
  if (existing.items.length > 0)
    throw new CliError('The demo needs a fresh system, and this one already has customers.', 2);

  const people: Array<{
    plan: PlannedCustomer;
    customer: SavedCustomer;
    admin: Identity;
    subscriptionId: string;
    stackSubscriptions: Record<string, string>;
  }> = [];
  for (const plan of PLAN) {
    n.step(
      `${plan.company}: ${plan.registeredOn.length === 0 ? 'registered on no deployment' : `registered on ${plan.registeredOn.join(' and ')}`}`,
    );
    const customer = await createCustomer(c, { domain: plan.domain, companyName: plan.company });
    n.say(
      `1. the CSP creates the customer ${plan.company} in the partner center: directory ${customer.domain} (${customer.id}), first administrator ${customer.admin.userName}`,
    );
    const sub = await createSubscription(c, customer.id);
    n.say(
      `2. the CSP sells it a subscription of the CSP offer ${sub.offerId}: cloud subscription ${sub.id} (${sub.status})`,
    );
    for (const stack of plan.registeredOn) {
      await addCustomerSubscription(c, { stack, subscriptionId: sub.id });
      n.say(`4. the CSP registers ${sub.id} with the registration of ${stack}`);
    }
    const admin: Identity = { kind: 'user', name: customer.admin.userName, tenantId: customer.id, ...customer.admin };
    const used = [...new Set(plan.vms.map((v) => v.stack))];
    const stackSubscriptions: Record<string, string> = {};
    for (const stack of used) {
      await onboard(c, stack, customer.id);
      await consent(c, stack, admin);
      n.say(
        `7. the operator of ${stack} onboards ${customer.domain} as a guest directory, and its administrator consents`,
      );
      const tenantSub = await createTenantSubscription(c, stack, admin, {
        offer: 'base-offer',
        displayName: `${plan.company} on ${stack}`,
      });
      stackSubscriptions[stack] = tenantSub.subscriptionId;
      n.say(
        `   ${plan.company}'s administrator takes the offer base-offer on ${stack}: subscription ${tenantSub.subscriptionId}`,
      );
    }
    const invitation = await inviteGuest(c, admin, csp.admin.userName);
    await signInAsGuest(c, customer);
    n.say(
      `3. ${plan.company}'s administrator invites the CSP's ${csp.admin.userName}; the guest ${invitation.guestId} signs in`,
    );
    for (const stack of used) {
      await assignRole(c, admin, {
        endpoint: c.stack(stack).tenantArm,
        subscriptionId: stackSubscriptions[stack],
        principalId: invitation.guestId,
        role: 'Owner',
      });
      n.say(`   ...and makes the guest Owner of its subscription on ${stack}`);
    }
    for (const vm of plan.vms) {
      const created = await createVm(c, vm.stack, admin, {
        subscriptionId: stackSubscriptions[vm.stack],
        resourceGroup: 'rg',
        name: vm.name,
        size: vm.size,
        image: vm.image,
      });
      n.say(
        `8. ${plan.company}'s tenant creates the VM ${created.name} (${created.size}, ${created.osType}) on ${vm.stack}`,
      );
    }
    // The CSP, as the guest Owner, sees the tenant's VMs on each deployment.
    const guest: Identity = {
      kind: 'user',
      name: `${csp.admin.userName} (guest)`,
      tenantId: customer.id,
      ...csp.admin,
    };
    for (const stack of used) {
      const arm = c.stack(stack).tenantArm;
      const seen = await armList(
        c,
        `${arm}/subscriptions/${stackSubscriptions[stack]}/providers/Microsoft.Compute/virtualMachines?api-version=2020-06-01`,
        await c.tokenAs(guest, arm),
      );
      n.say(`   the CSP, as guest Owner, sees ${seen.map((v) => v.name).join(', ')} on ${stack}`);
    }
    people.push({ plan, customer, admin, subscriptionId: sub.id, stackSubscriptions });
  }

  n.step(`5. A month of usage: the simulated clock moves ${MONTH_AND_AN_HOUR} from ${START.toISOString()}`);
  const moved = await advanceClock(c, MONTH_AND_AN_HOUR, onAdvance);
  n.say(
    `the clock is at ${moved.now}: every hour of ${PERIOD} is closed on the stacks, delivered to the hub and attributed`,
  );

  n.step(`6. Attribution: what the hub billed to whom for ${PERIOD} (Base VM Size Hours, in vCPU hours)`);
  const customers: DemoCustomer[] = [];
  for (const p of people) {
    customers.push({
      name: p.plan.company,
      tenantId: p.customer.id,
      subscriptionId: p.subscriptionId,
      registeredOn: p.plan.registeredOn,
      usage: await baseVmHours(c, p.subscriptionId),
      invoiceTotal: 0,
    });
  }
  const registrationSubscription = {
    subscriptionId: csp.registrationSubscriptionId,
    usage: await baseVmHours(c, csp.registrationSubscriptionId),
  };
  const ledger = await verifyLedger(c);
  n.say(
    `the ledger: ${ledger.records} records, ${ledger.received} received, ${ledger.attributed} attributed: ${ledger.balanced ? 'balanced' : 'NOT BALANCED'}`,
  );

  n.step(`9. Invoices for ${PERIOD}`);
  const totals = await invoiceTotals(c, n);
  if (totals) for (const customer of customers) customer.invoiceTotal = totals.get(customer.tenantId) ?? 0;
  else n.say('this hub has no billing API (Stackledger.Billing): invoice totals are shown as 0');

  n.step('Who pays for what');
  n.block(await summary(c, people, customers, registrationSubscription));
  return { customers, registrationSubscription };
}

/**
 * The summary a person checks against the seed: per customer and stack, what the hub billed and
 * what the VMs' sizes (from the stack's size table) times the hours of the month say it should be.
 */
async function summary(
  c: Connection,
  people: Array<{ plan: PlannedCustomer; admin: Identity; stackSubscriptions: Record<string, string> }>,
  customers: DemoCustomer[],
  registration: DemoResult['registrationSubscription'],
): Promise<string> {
  const hours = (Date.parse('2026-02-01T00:00:00Z') - START.getTime()) / 3_600_000;
  const cores = new Map<string, number>();
  for (const { stack, subscriptionId, who } of people.flatMap((p) =>
    Object.entries(p.stackSubscriptions).map(([stack, subscriptionId]) => ({ stack, subscriptionId, who: p.admin })),
  )) {
    const s = c.stack(stack);
    const sizes = await armList(
      c,
      `${s.tenantArm}/subscriptions/${subscriptionId}/providers/Microsoft.Compute/locations/${s.location}/vmSizes?api-version=2020-06-01`,
      await c.tokenAs(who, s.tenantArm),
    );
    for (const size of sizes) cores.set(size.name, size.numberOfCores);
  }
  // Who should pay for each VM: its customer where registered on that stack, else the CSP.
  const expected = new Map<string, number>();
  for (const { plan } of people) {
    for (const vm of plan.vms) {
      const payer = plan.registeredOn.includes(vm.stack) ? plan.company : 'registration subscription';
      const key = `${payer} ${vm.stack}`;
      expected.set(key, (expected.get(key) ?? 0) + (cores.get(vm.size) ?? NaN) * hours);
    }
  }
  const rows = [
    ...customers.map((x) => ({
      payer: x.name,
      subscription: x.subscriptionId,
      registeredOn: x.registeredOn.join(', ') || '-',
      usage: x.usage,
      invoice: x.invoiceTotal.toFixed(2),
    })),
    {
      payer: 'registration subscription',
      subscription: registration.subscriptionId,
      registeredOn: '(the CSP)',
      usage: registration.usage,
      invoice: '',
    },
  ];
  const cells = rows.map((r) => [
    r.payer,
    r.subscription,
    r.registeredOn,
    ...STACKS.map((s) => {
      const want = expected.get(`${r.payer} ${s.name}`) ?? 0;
      const got = r.usage[s.name] ?? 0;
      return `${got} (expected ${want}) ${got === want ? 'ok' : 'MISMATCH'}`;
    }),
    r.invoice,
  ]);
  return table(
    ['billed to', 'subscription', 'registered on', ...STACKS.map((s) => `${s.name}: vCPU hours`), `invoice ${PERIOD}`],
    cells,
  );
}

async function isEmptyFolder(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      "Start a hub and two stacks (east, west) on a simulated clock, run the seed's whole flow for three customers, a month of usage and the invoices, print who pays for what, and stop.",
    )
    .addOption(
      new Option(
        '--data <dir>',
        'a fresh (empty or new) data folder to keep afterwards (default: a temporary one, removed at the end)',
      ),
    )
    .addOption(new Option('--database <url>', 'a PostgreSQL server instead of the embedded one').env('DATABASE_URL'))
    .addOption(jsonOption())
    .action(async (o: { data?: string; database?: string; json?: boolean }) => {
      if (o.data && !(await isEmptyFolder(o.data)))
        throw new CliError(`The demo needs a fresh data folder, and ${o.data} is not empty.`, 2);
      const dataDir = o.data ?? (await mkdtemp(path.join(tmpdir(), 'stackledger-demo-')));
      // With --json, standard output holds the one JSON document; the story goes to standard error.
      const n = new Narrator(o.json ? process.stderr : process.stdout);
      let system: RunningSystem | undefined;
      let c: Connection | undefined;
      let bar: ReturnType<typeof progressBar> | undefined;
      let starting: Promise<RunningSystem> | undefined;
      const cleanUp = async () => {
        bar?.stop();
        await c?.close();
        system ??= await starting?.catch(() => undefined);
        await system?.stop();
        if (!o.data) await rm(dataDir, { recursive: true, force: true });
      };
      // Interrupted, it still stops what it started (the embedded PostgreSQL above all), then exits.
      let stopping = false;
      const interrupted = (signal: string) => {
        stopping = true;
        void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
      };
      process.once('SIGINT', interrupted);
      process.once('SIGTERM', interrupted);
      try {
        n.step(
          `Starting a hub and the stacks ${STACKS.map((s) => s.name).join(' and ')} in ${dataDir}, on a simulated clock at ${START.toISOString()}`,
        );
        const { startSystem } = await import('../system/up.ts');
        starting = startSystem({ dataDir, port: 0, databaseUrl: o.database, clock: START, stacks: STACKS });
        system = await starting;
        n.say(
          `hub ${system.bootstrap.hub.arm}; ${STACKS.map((s) => `${s.name} ${system!.bootstrap.stacks[s.name].tenantArm}`).join('; ')}`,
        );
        n.say(
          `each stack registered itself with the CSP's registration subscription ${system.bootstrap.csp.registrationSubscriptionId}`,
        );
        c = await connect(dataDir);
        const result = await runDemoFlow(c, n, (done, total, now) => {
          bar ??= progressBar(total, 'days');
          bar.update(done, now.toISOString());
          if (done === total) bar.stop();
        });
        if (o.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      } catch (e) {
        // The flow's requests fail once an interruption stops the servers: the exit is the handler's.
        if (stopping) await new Promise(() => {});
        throw asCliError(e, dataDir);
      } finally {
        process.off('SIGINT', interrupted);
        process.off('SIGTERM', interrupted);
        await cleanUp();
      }
    });
}
