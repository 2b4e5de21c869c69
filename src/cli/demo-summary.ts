import { HOUR_MS } from '../core/clock.ts';
import { armList, type Connection, type Identity } from './client.ts';
import { PERIOD, STACKS, START, type DemoCustomer, type DemoResult, type PlannedCustomer } from './demo-plan.ts';
import { table } from './output.ts';

/**
 * The summary a person checks against the seed: per customer and stack, what the hub billed and
 * what the VMs' sizes (from the stack's size table) times the hours of the month say it should be.
 */
export async function summary(
  c: Connection,
  people: Array<{ plan: PlannedCustomer; admin: Identity; stackSubscriptions: Record<string, string> }>,
  customers: DemoCustomer[],
  registration: DemoResult['registrationSubscription'],
): Promise<string> {
  const hours = (Date.parse('2026-02-01T00:00:00Z') - START.getTime()) / HOUR_MS;
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
