// The partner center's unbilled lines are kept rated as usage arrives (migration 0670): what the
// page shows on the period's last day is what the partner's invoice then bills, line for line,
// through tiers that cross a bound, a price changed after its usage arrived, a correction that
// takes quantity back, and late usage after the close.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { postUsageEvents } from './helpers/usage-events.ts';
import type { UndeclaredJson } from '../src/core/http-client.ts';
import { keptApartFromRule } from './helpers/kept-lines.ts';
import { advanceClockTo, startTestSystem, type TestSystem } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const TABLE = 'b4438d5d-453b-4ee1-b42a-dc72e377f1e4';
const V = 'api-version=2026-11-01';

describe("partner center: unbilled lines kept as usage arrives equal the invoice's", () => {
  let t: TestSystem;
  let csp: string;
  let pc: string;
  let a: CustomerWithSubscription;
  let b: CustomerWithSubscription;
  const billing = (path: string) => `${t.b.hub.arm}/providers/Stackledger.Billing/${path}`;
  const events = (subject: string, list: { day: string; meter: string; quantity: string; resource: string }[]) =>
    postUsageEvents(
      t,
      csp,
      list.map((e) => ({ subject, meterId: e.meter, quantity: e.quantity, time: e.day, resourceUri: e.resource })),
      'urn:test:kept',
    );
  /** Every line of a partner center listing, a page of `size` at a time, without its invoice number. */
  const lineItems = async (url: string, size: number) => {
    const items: UndeclaredJson[] = [];
    let token: string | undefined;
    do {
      const res = await t.call('GET', `${url}&size=${size}`, {
        token: pc,
        headers: token ? { 'MS-ContinuationToken': token } : {},
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      items.push(...res.body.items.map(({ invoiceNumber: _, ...item }: UndeclaredJson) => item));
      token = res.body.links?.next?.headers?.[0]?.value;
    } while (token);
    return items;
  };
  const unbilled = (size: number) =>
    lineItems(
      `${t.b.hub.partnerCenter}/v1/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=usagelineitems&currencycode=USD&period=current`,
      size,
    );
  /** The usage lines of the partner's (finalized) invoice of a period, as the partner center lists them. */
  const invoiced = async (period: string) =>
    lineItems(
      `${t.b.hub.partnerCenter}/v1/invoices/${await partnerInvoice(period)}/lineitems?provider=onetime&invoicelineitemtype=usagelineitems`,
      2000,
    );
  const price = async (meter: string, effectiveFrom: string, tiers: { fromQuantity?: string; unitPrice: string }[]) => {
    const res = await t.call('PUT', `${billing(`priceSheets/list/meters/${meter}`)}?${V}`, {
      token: csp,
      body: { effectiveFrom, tiers },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  /** A correction of the CSP's (a negative quantity, with its reason). */
  const correct = async (subject: string, day: string, quantity: string, resourceUri: string) => {
    const res = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?${V}`, {
      token: csp,
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: [
        {
          specversion: '1.0',
          id: randomUUID(),
          source: 'urn:test:kept',
          type: 'usage',
          subject,
          time: `${day}T10:00:00Z`,
          data: { meterId: BASE, quantity, resourceUri, location: 'local', reason: 'double-counted' },
        },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  /** The provider's invoice to the partner of a period. */
  const partnerInvoice = async (period: string) => {
    const res = await t.call('GET', `${billing(`invoices?stream=partner&period=${period}`)}&${V}`, { token: csp });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const found = res.body.value.filter(
      (i: { properties: { kind: string; status: string } }) =>
        i.properties.kind === 'invoice' && i.properties.status === 'Finalized',
    );
    assert.equal(found.length, 1, JSON.stringify(res.body.value));
    return found[0].name as string;
  };

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-03-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    pc = await t.appToken('csp', t.b.hub.partnerCenter);
    a = await customerWithSubscription(t, 'kept-a');
    b = await customerWithSubscription(t, 'kept-b');
    // b's own invoices run from the 15th, so usage of late March is still accepted after the partner's March closes
    const profile = await t.call('PUT', `${billing(`billingProfiles/${b.customerId}`)}?${V}`, {
      token: csp,
      body: { billingDay: 15 },
    });
    assert.equal(profile.status, 200, JSON.stringify(profile.body));
    await price(TABLE, '2026-03-01', [
      { fromQuantity: '0', unitPrice: '0.001' },
      { fromQuantity: '100', unitPrice: '0.0005' },
    ]);
  });
  after(async () => t?.stop());

  it('shows, on the last day of the period, the lines its invoice bills', async () => {
    await advanceClockTo(t, csp, '2026-03-10T12:00:00Z');
    await events(a.subscriptionId, [
      // tiered: 60 + 60 crosses 100 on the 3rd (a blended line); the 2nd's second resource comes later in line order
      { day: '2026-03-02', meter: TABLE, quantity: '60', resource: '/a/t2' },
      { day: '2026-03-03', meter: TABLE, quantity: '60', resource: '/a/t1' },
      { day: '2026-03-02', meter: BASE, quantity: '10', resource: '/a/vm' },
      { day: '2026-03-04', meter: BASE, quantity: '5', resource: '/a/vm' },
      { day: '2026-03-10', meter: BASE, quantity: '1', resource: '/a/vm' },
    ]);
    await events(b.subscriptionId, [
      { day: '2026-03-05', meter: BASE, quantity: '8', resource: '/b/vm' },
      { day: '2026-03-06', meter: BASE, quantity: '4', resource: '/b/vm' },
    ]);
    // a correction takes 3 back from b's 5th (a run with a negative day is rated whole on read)
    await correct(b.subscriptionId, '2026-03-07', '-3', '/b/vm');
    // the Base VM price changes from today, after today's usage arrived: its kept line takes the new price
    await price(BASE, '2026-03-10', [{ unitPrice: '0.02' }]);

    await advanceClockTo(t, csp, '2026-03-31T12:00:00Z');
    const shown = await unbilled(2);
    assert.deepEqual(await unbilled(2000), shown, 'pages of 2 and one page show the same lines');
    const tiered = shown.find((l: { resourceUri: string }) => l.resourceUri === '/a/t1');
    assert.deepEqual([tiered.quantity, tiered.billingPreTaxTotal], [60, 0.05]); // 40 at 0.001, 20 at 0.0005
    const today = shown.find(
      (l: { resourceUri: string; usageDate: string }) =>
        l.resourceUri === '/a/vm' && l.usageDate.startsWith('2026-03-10'),
    );
    assert.equal(today.unitPrice, 0.02);

    await advanceClockTo(t, csp, '2026-04-01T01:00:00Z');
    assert.deepEqual(await invoiced('2026-03'), shown);
    assert.deepEqual(await unbilled(2000), [], 'what the invoice billed is no longer unbilled');
    assert.deepEqual(await keptApartFromRule(t), []);
  });

  it('shows late usage after the close as its next invoice bills it', async () => {
    await advanceClockTo(t, csp, '2026-04-02T00:00:00Z');
    await events(b.subscriptionId, [{ day: '2026-03-20', meter: TABLE, quantity: '150', resource: '/b/t' }]);
    await events(b.subscriptionId, [{ day: '2026-04-01', meter: BASE, quantity: '2', resource: '/b/vm' }]);
    await advanceClockTo(t, csp, '2026-04-30T12:00:00Z');
    const shown = await unbilled(1);
    assert.deepEqual(
      shown.map((l: { chargeType: string; usageDate: string }) => [l.chargeType, l.usageDate.slice(0, 10)]),
      [
        ['Late usage', '2026-03-20'],
        ['Usage', '2026-04-01'],
      ],
    );
    assert.deepEqual(await keptApartFromRule(t), []);
    await advanceClockTo(t, csp, '2026-05-01T01:00:00Z');
    assert.deepEqual(await invoiced('2026-04'), shown);
    assert.deepEqual(await keptApartFromRule(t), []);
  });

  it('gives back what a voided invoice billed, which its replacement bills again; a run below zero is billed at its net', async () => {
    await advanceClockTo(t, csp, '2026-05-10T00:00:00Z');
    // b's run on /b/neg goes to -5, then -2, then 2: each day is billed its own quantity (below 0 at the
    // first tier, as the correction was), so the run's lines total its net 2
    await correct(b.subscriptionId, '2026-05-02', '-5', '/b/neg');
    await events(b.subscriptionId, [
      { day: '2026-05-03', meter: BASE, quantity: '3', resource: '/b/neg' },
      { day: '2026-05-04', meter: BASE, quantity: '4', resource: '/b/neg' },
    ]);
    await events(a.subscriptionId, [{ day: '2026-05-05', meter: BASE, quantity: '6', resource: '/a/vm' }]);
    await advanceClockTo(t, csp, '2026-05-31T12:00:00Z');
    const shown = await unbilled(1);
    await advanceClockTo(t, csp, '2026-06-01T01:00:00Z');
    const may = await invoiced('2026-05');
    assert.deepEqual(may, shown, 'the page showed what the invoice bills');
    assert.deepEqual(
      may
        .map((l: { resourceUri: string; usageDate: string; quantity: number; billingPreTaxTotal: number }) => [
          l.resourceUri,
          l.usageDate.slice(0, 10),
          l.quantity,
          l.billingPreTaxTotal,
        ])
        .sort(),
      [
        ['/a/vm', '2026-05-05', 6, 0.12],
        ['/b/neg', '2026-05-02', -5, -0.1],
        ['/b/neg', '2026-05-03', 3, 0.06],
        ['/b/neg', '2026-05-04', 4, 0.08],
      ],
    );
    assert.deepEqual(await unbilled(2000), []);
    assert.deepEqual(await keptApartFromRule(t), []);

    // Voided, in one transaction: what it billed is given back and billed again by its replacement.
    const number = await partnerInvoice('2026-05');
    const voided = await t.call('POST', `${billing(`invoices/${number}/void`)}?${V}`, {
      token: csp,
      body: { reason: 'test' },
    });
    assert.equal(voided.status, 200, JSON.stringify(voided.body));
    assert.equal(voided.body.replacement.properties.status, 'Finalized');
    assert.notEqual(await partnerInvoice('2026-05'), number);
    assert.deepEqual(await invoiced('2026-05'), may, 'the replacement bills the same lines');
    assert.deepEqual(await unbilled(2000), []);
    assert.deepEqual(await keptApartFromRule(t), []);
  });
});
