// Issue #19's must-show, end to end: a customer's VM on the stack runs in March before its CSP
// subscription is registered, so March bills that usage to the registration subscription and the
// customer's March invoice (grace 0: finalized at the close) leaves it out. The operator registers
// the subscription and re-attributes March for real; the partner voids the invoice. The credit
// note, the new invoice holding the VM's hours, the links and gapless numbers are what this shows.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody, vmUrl } from './helpers/stack.ts';
import { postUsageEvents } from './helpers/usage-events.ts';
import { focusViolations, parseCsv } from './helpers/focus-rules.ts';
import { advanceClockTo, startTestSystem, type TestSystem } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const V = 'api-version=2026-11-01';

interface Line {
  lineType: string;
  meterId: string | null;
  quantity: string | null;
}
interface Invoice {
  name: string;
  properties: Record<string, unknown> & { status: string; kind: string; total: string; lines: Line[] };
}
interface UsageRow {
  properties: { meterId: string; quantity: number; usageStartTime: string };
}

/** Quantity per meter, for comparing an invoice's usage lines with the usage API. */
const perMeter = (rows: { meterId: string | null; quantity: number }[]) => {
  const sums = new Map<string, number>();
  for (const r of rows) if (r.meterId) sums.set(r.meterId, (sums.get(r.meterId) ?? 0) + r.quantity);
  return Object.fromEntries([...sums].filter(([, q]) => q !== 0).sort());
};
const usageLines = (inv: Invoice) =>
  perMeter(
    inv.properties.lines
      .filter((l) => l.lineType === 'usage')
      .map((l) => ({ meterId: l.meterId, quantity: Number(l.quantity) })),
  );

describe('void and regenerate after a real re-attribution', () => {
  let t: TestSystem;
  let csp: string;
  let c: CustomerWithSubscription;
  let registered: CustomerWithSubscription;
  let cAdmin: string;
  const billing = (path: string) => `${t.b.hub.arm}/providers/Stackledger.Billing/${path}`;
  const call = (method: string, path: string, token: string, body?: unknown) =>
    t.call(method, `${billing(path)}${path.includes('?') ? '&' : '?'}${V}`, { token, body });
  const advanceTo = (to: string) => advanceClockTo(t, csp, to);
  const detail = async (name: string, token = csp): Promise<Invoice> => {
    const res = await call('GET', `invoices/${name}`, token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  /** The partner's March documents to its customers (invoices and credit notes). */
  const marchDocuments = async (): Promise<Invoice[]> => {
    const res = await call('GET', 'invoices?period=2026-03', csp);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.value;
  };
  const marchInvoiceOf = async (customerId: string) => {
    const res = await call('GET', `invoices?period=2026-03&customerId=${customerId}`, csp);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const invoices = res.body.value.filter((i: Invoice) => i.properties.kind === 'invoice');
    assert.equal(invoices.length, 1, JSON.stringify(res.body));
    return detail(invoices[0].name);
  };
  /** What the hub's usage API reports of a subscription's March usage, reported before `end` (a midnight), per meter. */
  const marchUsage = async (subscriptionId: string, end: string) => {
    const res = await t.call(
      'GET',
      `${t.b.hub.arm}/subscriptions/${subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-03-01T00:00:00Z&reportedEndTime=${end}&aggregationGranularity=Daily&showDetails=false`,
      { token: csp },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.nextLink ?? undefined, undefined, 'one page');
    const rows = (res.body.value as UsageRow[]).filter((r) => r.properties.usageStartTime < '2026-04-01');
    return perMeter(rows.map((r) => ({ meterId: r.properties.meterId, quantity: r.properties.quantity })));
  };
  const registration = () =>
    `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/${t.b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${t.b.csp.registrationName}`;
  const register = async (subscriptionId: string) => {
    const res = await t.call(
      'PUT',
      `${registration()}/customerSubscriptions/${subscriptionId}?api-version=2017-06-01`,
      {
        token: csp,
        body: { properties: {} },
      },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-03-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    // C's VM runs for the first two days of March; C's CSP subscription is not registered yet.
    c = await customerWithSubscription(t, 'reattr-c');
    const { user, sub } = await tenantSubscription(t, c, 'reattr-c');
    const vm = vmUrl(t, sub, 'vm');
    assert.ok((await t.call('PUT', vm, { token: user, body: vmBody('Standard_A2_v2') })).status < 300);
    // Another customer, registered: its March invoice takes a number too, and must not change.
    registered = await customerWithSubscription(t, 'reattr-r');
    await register(registered.subscriptionId);
    await advanceTo('2026-03-03T00:00:00Z');
    assert.ok((await t.call('DELETE', vm, { token: user })).status < 300);
    // Usage already billed to C's own subscription, so that its March invoice is not empty.
    await advanceTo('2026-03-10T00:00:00Z');
    await postUsageEvents(t, csp, [
      { subject: c.subscriptionId, meterId: BASE, quantity: '10', time: '2026-03-05', resourceUri: '/c/other' },
      { subject: registered.subscriptionId, meterId: BASE, quantity: '5', time: '2026-03-06', resourceUri: '/r/vm' },
    ]);
    // March closes when the clock passes 1 April; grace 0 (the default) finalizes at once.
    await advanceTo('2026-04-01T01:00:00Z');
    cAdmin = await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.arm);
  });
  after(async () => t?.stop());

  it("bills C's VM to the registration subscription at first: C's finalized March invoice has only its own usage", async () => {
    const march = await marchInvoiceOf(c.customerId);
    assert.equal(march.properties.status, 'Finalized');
    assert.deepEqual(usageLines(march), { [BASE]: 10 }, 'the event only, no VM hours');
    assert.deepEqual(await marchUsage(c.subscriptionId, '2026-04-01T00:00:00Z'), { [BASE]: 10 });
    const onRegistration = await marchUsage(t.b.csp.registrationSubscriptionId, '2026-04-01T00:00:00Z');
    assert.equal(onRegistration[BASE], 2 * 48, "two vCPUs for C's 48 hours, on the CSP's own subscription");
  });

  it('after registering C and re-attributing March, voiding issues a credit note and a new invoice with the VM hours, linked, numbered without gaps', async () => {
    const before = await marchInvoiceOf(c.customerId);
    const untouched = await marchInvoiceOf(registered.customerId);
    const beforeVoid = (await marchDocuments()).map((d) => d.name);
    const highest = (prefix: string) =>
      Math.max(0, ...beforeVoid.filter((n) => n.startsWith(prefix)).map((n) => Number(n.slice(prefix.length))));
    const next = (prefix: string) => `${prefix}${String(highest(prefix) + 1).padStart(9, '0')}`;
    assert.equal(highest('INV'), 2, "the partner's two March invoices");
    assert.equal(highest('CN'), 0);

    await register(c.subscriptionId);
    const moved = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/usage/reattribute?${V}`, {
      token: csp,
      body: { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z', cloudId: t.b.stacks.local.cloudId },
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.ok(moved.body.reversed > 0 && moved.body.added === moved.body.reversed, JSON.stringify(moved.body));
    // The entries written now are reported today: read through its end (Daily windows end at midnight).
    await advanceTo('2026-04-02T00:00:00Z');
    const cUsage = await marchUsage(c.subscriptionId, '2026-04-02T00:00:00Z');
    assert.equal(cUsage[BASE], 10 + 2 * 48, "C's event and its VM's vCPU hours");
    assert.deepEqual(
      await marchUsage(t.b.csp.registrationSubscriptionId, '2026-04-02T00:00:00Z'),
      {},
      'nothing left on the registration subscription',
    );
    // A finalized invoice never changes by itself: the re-attribution waits for the void.
    assert.deepEqual(await detail(before.name), before);

    // The customer's admin may not void it.
    const refused = await call('POST', `invoices/${before.name}/void`, cAdmin, { reason: 'mine' });
    assert.equal(refused.status, 404, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'InvoiceNotFound');
    assert.equal((await detail(before.name)).properties.status, 'Finalized');

    const res = await call('POST', `invoices/${before.name}/void`, csp, { reason: 'VM usage re-attributed to C' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { creditNote, replacement } = res.body as { creditNote: Invoice; replacement: Invoice };
    assert.equal(res.body.properties.status, 'Voided');
    assert.equal(res.body.properties.voidReason, 'VM usage re-attributed to C');
    assert.equal(replacement.name, next('INV'), 'the next INV number of the seller');
    assert.equal(res.body.properties.replacedBy, replacement.name);
    assert.equal(creditNote.name, next('CN'), 'the next CN number of the seller');
    assert.equal(creditNote.properties.kind, 'creditNote');
    assert.equal(creditNote.properties.creditNoteFor, before.name);
    assert.equal(Number(creditNote.properties.total), -Number(before.properties.total));
    assert.equal(replacement.properties.status, 'Finalized');
    assert.equal(replacement.properties.replaces, before.name);
    assert.equal(replacement.properties.period, '2026-03');

    // The new invoice bills March as the usage API now shows it: the VM's hours included.
    const regenerated = await detail(replacement.name, cAdmin);
    assert.deepEqual(usageLines(regenerated), cUsage);
    assert.ok(Number(regenerated.properties.total) > Number(before.properties.total));
    // The customer's admin sees the credit note too; the voided invoice shows its link and never changed.
    const note = await detail(creditNote.name, cAdmin);
    assert.equal(note.properties.creditNoteFor, before.name);
    const voided = await detail(before.name);
    assert.equal(voided.properties.status, 'Voided');
    assert.equal(voided.properties.replacedBy, replacement.name);
    assert.equal(voided.properties.total, before.properties.total);
    assert.deepEqual(voided.properties.lines, before.properties.lines);
    // The other customer's invoice is as it was.
    assert.deepEqual(await marchInvoiceOf(registered.customerId), untouched);

    // Gapless per seller and prefix: INV 1 to 3, CN 1.
    assert.deepEqual((await marchDocuments()).map((d) => d.name).sort(), [
      'CN000000001',
      'INV000000001',
      'INV000000002',
      'INV000000003',
    ]);

    // FOCUS: the credit note's rows and the replacement's are corrections of March; the voided
    // invoice's rows stay as they were issued; every row keeps FOCUS 1.2's rules.
    const focus = await t.call(
      'GET',
      `${billing('exports')}?${V}&period=2026-03&format=focus&stream=customer&customerId=${c.customerId}`,
      { token: csp },
    );
    assert.equal(focus.status, 200, JSON.stringify(focus.body));
    const { header, rows } = parseCsv(String(focus.body));
    assert.deepEqual(focusViolations(header, rows), []);
    const classes = (invoice: string) => [
      ...new Set(rows.filter((r) => r.InvoiceId === invoice).map((r) => r.ChargeClass)),
    ];
    assert.deepEqual(classes(replacement.name), ['Correction']);
    assert.deepEqual(classes(creditNote.name), ['Correction']);
    assert.deepEqual(classes(before.name), ['']);
  });

  it("bills the moved hours once: C's April has none of them; the provider's April moves them between the partner's subscriptions", async () => {
    await advanceTo('2026-05-01T01:00:00Z');
    const mine = await call('GET', `invoices?period=2026-04&customerId=${c.customerId}`, csp);
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    assert.deepEqual((await detail(mine.body.value[0].name)).properties.lines, [], 'the replacement took them');
    // The provider had billed them to the partner on the registration subscription: April moves
    // them to C's, as late usage that nets to nothing.
    const provider = await call('GET', 'invoices?stream=partner&period=2026-04', csp);
    assert.equal(provider.status, 200, JSON.stringify(provider.body));
    const toPartner = await detail(provider.body.value[0].name);
    assert.equal(Number(toPartner.properties.total), 0);
    const moved = (subscriptionId: string) =>
      perMeter(
        (toPartner.properties.lines as (Line & { subscriptionId: string })[])
          .filter((l) => l.lineType === 'late usage' && l.subscriptionId === subscriptionId)
          .map((l) => ({ meterId: l.meterId, quantity: Number(l.quantity) })),
      );
    const toC = moved(c.subscriptionId);
    assert.equal(toC[BASE], 2 * 48);
    assert.deepEqual(
      moved(t.b.csp.registrationSubscriptionId),
      Object.fromEntries(Object.entries(toC).map(([meter, q]) => [meter, -q])),
    );
  });
});
