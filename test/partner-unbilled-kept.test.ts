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
import { advanceClockTo, startTestSystem, type TestSystem, withHubDatabase } from './helpers/system.ts';

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
  const invoiced = async (period: string) => {
    const list = await t.call('GET', `${t.b.hub.partnerCenter}/v1/invoices`, { token: pc });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const inv = list.body.items.find((i: { billingPeriodStartDate: string }) =>
      i.billingPeriodStartDate.startsWith(period),
    );
    assert.ok(inv, `the partner's invoice of ${period}`);
    return lineItems(
      `${t.b.hub.partnerCenter}/v1/invoices/${inv.id}/lineitems?provider=onetime&invoicelineitemtype=usagelineitems`,
      2000,
    );
  };
  const price = async (meter: string, effectiveFrom: string, tiers: { fromQuantity?: string; unitPrice: string }[]) => {
    const res = await t.call('PUT', `${billing(`priceSheets/list/meters/${meter}`)}?${V}`, {
      token: csp,
      body: { effectiveFrom, tiers },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  /**
   * The kept lines that differ from the rule computed afresh: every daily aggregate less what
   * partner invoices billed of it, where not 0. A partner close deletes the lines it bills
   * itself; this is the same rule, from scratch.
   */
  const keptApartFromRule = () =>
    withHubDatabase(t, async (c) => {
      await c.query('select usage_daily_fold()');
      const { rows } = await c.query(`
        with kept as (select subscription_id, meter_id, usage_date, resource_uri, location, quantity from partner_unbilled_lines),
        billed as (
          select subscription_id, meter_id, usage_date, resource_uri, location, sum(quantity) as quantity
          from billed_daily where stream = 'partner' group by 1, 2, 3, 4, 5
        ),
        rule as (
          select d.billed_subscription_id, d.meter_id, d.usage_date, d.resource_uri, d.location, d.quantity - coalesce(b.quantity, 0)
          from usage_daily d left join billed b on b.subscription_id = d.billed_subscription_id and b.meter_id = d.meter_id
            and b.usage_date = d.usage_date and b.resource_uri = d.resource_uri and b.location = d.location
          where d.quantity <> coalesce(b.quantity, 0)
        )
        select * from ((table kept except all table rule) union all (table rule except all table kept)) x`);
      return rows;
    });

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
    const correction = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?${V}`, {
      token: csp,
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: [
        {
          specversion: '1.0',
          id: randomUUID(),
          source: 'urn:test:kept',
          type: 'usage',
          subject: b.subscriptionId,
          time: '2026-03-07T10:00:00Z',
          data: { meterId: BASE, quantity: '-3', resourceUri: '/b/vm', location: 'local', reason: 'double-counted' },
        },
      ],
    });
    assert.equal(correction.status, 200, JSON.stringify(correction.body));
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
    assert.deepEqual(await keptApartFromRule(), []);
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
    assert.deepEqual(await keptApartFromRule(), []);
    await advanceClockTo(t, csp, '2026-05-01T01:00:00Z');
    assert.deepEqual(await invoiced('2026-04'), shown);
    assert.deepEqual(await keptApartFromRule(), []);
  });
});
