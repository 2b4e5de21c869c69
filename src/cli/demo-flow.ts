import { HttpError } from '../core/http-client.ts';
import { advanceClock } from './clock.ts';
import { armList, CliError, type Connection, type Identity, type SavedCustomer } from './client.ts';
import {
  BASE_VM_SIZE_HOURS,
  BILLING_API,
  MONTH_AND_AN_HOUR,
  PERIOD,
  PLAN,
  STACKS,
  START,
  type DemoCustomer,
  type DemoResult,
  type PlannedCustomer,
} from './demo-plan.ts';
import { summary } from './demo-summary.ts';
import { assignRole, inviteGuest, signInAsGuest } from './directory.ts';
import { createCustomer, createSubscription } from './partner.ts';
import { addCustomerSubscription } from './registrations.ts';
import { consent, createTenantSubscription, createVm, onboard } from './stacks.ts';
import { monthUsage, verifyLedger } from './usage.ts';

// The demo's flow, through the same operations as the other commands, over HTTPS like any client.

export class Narrator {
  constructor(
    private readonly out: { write(text: string): unknown },
    readonly started = Date.now(),
  ) {}
  step(title: string): void {
    this.out.write(`\n== ${title} [${((Date.now() - this.started) / 1000).toFixed(1)} s]\n`);
  }
  say(text: string): void {
    this.out.write(`   ${text}\n`);
  }
  block(text: string): void {
    this.out.write(text + '\n');
  }
  /** A narrator of a story told beside this one: kept until `flush`, then told here whole. */
  aside(): Narrator & { flush(): void } {
    const kept: string[] = [];
    const aside = new Narrator({ write: (text: string) => kept.push(text) }, this.started);
    return Object.assign(aside, { flush: () => this.out.write(kept.splice(0).join('')) });
  }
}

interface Person {
  plan: PlannedCustomer;
  customer: SavedCustomer;
  admin: Identity;
  subscriptionId: string;
  stackSubscriptions: Record<string, string>;
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

/** Seed steps 1 to 4, 7 and 8 for one customer: its directory, subscriptions, guest Owner and VMs. */
async function onboardCustomer(c: Connection, n: Narrator, plan: PlannedCustomer): Promise<Person> {
  const { csp } = c.bootstrap;
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
  return { plan, customer, admin, subscriptionId: sub.id, stackSubscriptions };
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

  // The customers are onboarded side by side (nothing of one depends on another); each one's story
  // is told whole, in the plan's order: the first as it happens, the others after it.
  const asides = PLAN.slice(1).map(() => n.aside());
  const people = await Promise.all(PLAN.map((plan, i) => onboardCustomer(c, i === 0 ? n : asides[i - 1], plan)));
  for (const aside of asides) aside.flush();

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
