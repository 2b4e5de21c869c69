// Billing, against invoices computed by hand: the provider's invoice to the partner (partner center
// shapes) and the partner's invoices to its customers, over a simulated March and April 2026.
//   Customer A: a real VM on the stack (2 vCPUs, Linux) from 10 March 05:00 to 12 March 17:30
//               (prorated hours); the CSP marks A up 10% and charges 20% tax; a credit in March,
//               a credit note against the closed March invoice in April.
//   Customer B: external usage (CloudEvents): a tiered table-storage price, a list price change
//               on 15 March, and a record for 20 March that arrives after March closed.
//   Customer C: usage on 5 March, then suspended and cancelled.
//   Customer D: billing day 15, Windows VM hours on 10 and 20 March.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { customerWithSubscription, type CustomerWithSubscription, secondPartner } from './helpers/partner.ts';
import { tenantSubscription, vmBody, vmUrl } from './helpers/stack.ts';
import { startTestSystem, type TestSystem, withHubDatabase } from './helpers/system.ts';
import { postUsageEvents } from './helpers/usage-events.ts';
import { cliJson } from './helpers/cli.ts';
import type { UndeclaredJson } from '../src/core/http-client.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const VM_HOURS = '6dab500f-a4fd-49c4-956d-229bb9c8c793';
const TABLE = 'b4438d5d-453b-4ee1-b42a-dc72e377f1e4';
const WINDOWS = '9cd92d4c-bafd-4492-b278-bedc2de8232a';
const V = 'api-version=2026-11-01';

describe('billing: rating, periods, invoices and credit notes, by hand', () => {
  let t: TestSystem;
  let csp: string;
  let cspPc: string;
  let a: CustomerWithSubscription;
  let b: CustomerWithSubscription;
  let c: CustomerWithSubscription;
  let d: CustomerWithSubscription;
  const billing = (path: string) => `${t.b.hub.arm}/providers/Stackledger.Billing/${path}`;
  const advanceTo = (to: string) =>
    t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, { token: csp, body: { to } });
  const events = (subject: string, list: { day: string; meter: string; quantity: string; resource: string }[]) =>
    postUsageEvents(
      t,
      csp,
      list.map((e) => ({ subject, meterId: e.meter, quantity: e.quantity, time: e.day, resourceUri: e.resource })),
    );
  const customerInvoice = async (customerId: string, period: string) => {
    const list = await t.call('GET', `${billing('invoices')}?${V}&period=${period}&customerId=${customerId}`, {
      token: csp,
    });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const invoices = list.body.value.filter((i: { properties: { kind: unknown } }) => i.properties.kind === 'invoice');
    assert.equal(invoices.length, 1, `one invoice for ${customerId} in ${period}`);
    const one = await t.call('GET', `${billing(`invoices/${invoices[0].name}`)}?${V}`, { token: csp });
    assert.equal(one.status, 200);
    return one.body.properties;
  };
  const partnerInvoice = async (period: string) => {
    const list = await t.call('GET', `${t.b.hub.partnerCenter}/v1/invoices`, { token: cspPc });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    return list.body.items.find((i: { billingPeriodStartDate: string }) => i.billingPeriodStartDate.startsWith(period));
  };
  const allLineItems = async (invoiceId: string, size = 2000) => {
    const items: UndeclaredJson[] = [];
    let token: string | undefined;
    do {
      const res = await t.call(
        'GET',
        `${t.b.hub.partnerCenter}/v1/invoices/${invoiceId}/lineitems?provider=onetime&invoicelineitemtype=usagelineitems&size=${size}`,
        {
          token: cspPc,
          headers: token ? { 'MS-ContinuationToken': token } : {},
        },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      items.push(...res.body.items);
      token = res.body.links?.next?.headers?.[0]?.value;
    } while (token);
    return items;
  };

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-03-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    cspPc = await t.appToken('csp', t.b.hub.partnerCenter);
    a = await customerWithSubscription(t, 'bill-a');
    b = await customerWithSubscription(t, 'bill-b');
    c = await customerWithSubscription(t, 'bill-c');
    d = await customerWithSubscription(t, 'bill-d');
    assert.equal(
      (
        await t.call('PUT', `${billing(`billingProfiles/${d.customerId}`)}?${V}`, {
          token: csp,
          body: { billingDay: 15 },
        })
      ).status,
      200,
    );
    const reg = `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/${t.b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${t.b.csp.registrationName}`;
    assert.equal(
      (
        await t.call('PUT', `${reg}/customerSubscriptions/${a.subscriptionId}?api-version=2017-06-01`, {
          token: csp,
          body: { properties: {} },
        })
      ).status,
      200,
    );

    // Prices: A marked up 10% with 20% tax; table storage tiered from 1 March.
    assert.equal(
      (
        await t.call('POST', `${billing('priceOverrides')}?${V}`, {
          token: csp,
          body: {
            customerId: a.customerId,
            kind: 'markup',
            value: '10',
            effectiveFrom: '2026-03-01',
            reason: 'managed service',
          },
        })
      ).status,
      201,
    );
    assert.equal(
      (
        await t.call('PUT', `${billing(`billingProfiles/${a.customerId}`)}?${V}`, {
          token: csp,
          body: { taxRate: '20' },
        })
      ).status,
      200,
    );
    const tiered = await t.call('PUT', `${billing(`priceSheets/list/meters/${TABLE}`)}?${V}`, {
      token: csp,
      body: {
        effectiveFrom: '2026-03-01',
        tiers: [
          { fromQuantity: '0', unitPrice: '0.001' },
          { fromQuantity: '100', unitPrice: '0.0005' },
        ],
      },
    });
    assert.equal(tiered.status, 200, JSON.stringify(tiered.body));

    // C: usage on 5 March, suspended on 6 March, cancelled on 7 March.
    await advanceTo('2026-03-06T00:00:00Z');
    await events(c.subscriptionId, [{ day: '2026-03-05', meter: BASE, quantity: '10', resource: '/c/vm' }]);
    const cSub = `${t.b.hub.partnerCenter}/v1/customers/${c.customerId}/subscriptions/${c.subscriptionId}`;
    assert.equal((await t.call('PATCH', cSub, { token: cspPc, body: { status: 'suspended' } })).status, 200);
    await advanceTo('2026-03-07T00:00:00Z');
    assert.equal((await t.call('PATCH', cSub, { token: cspPc, body: { status: 'deleted' } })).status, 200);

    // A: a VM from 10 March 05:00 to 12 March 17:30.
    await advanceTo('2026-03-10T05:00:00Z');
    const { user, sub } = await tenantSubscription(t, a, 'a');
    const vm = vmUrl(t, sub, 'vm');
    await t.http.call('PUT', vm, { token: user, body: vmBody('Standard_A2_v2') });
    await advanceTo('2026-03-12T17:30:00Z');
    assert.equal((await t.call('DELETE', vm, { token: user })).status < 300, true);

    // B: tiered table storage on 13 and 14 March; Base VM on 14 and 16 March around a price change on 15 March.
    await advanceTo('2026-03-14T12:00:00Z');
    await events(d.subscriptionId, [{ day: '2026-03-10', meter: WINDOWS, quantity: '10', resource: '/d/vm' }]);
    await events(b.subscriptionId, [
      { day: '2026-03-13', meter: TABLE, quantity: '60', resource: '/b/table' },
      { day: '2026-03-14', meter: TABLE, quantity: '60', resource: '/b/table' },
      { day: '2026-03-14', meter: BASE, quantity: '100', resource: '/b/vm' },
    ]);
    const change = await t.call('PUT', `${billing(`priceSheets/list/meters/${BASE}`)}?${V}`, {
      token: csp,
      body: { effectiveFrom: '2026-03-15', tiers: [{ unitPrice: '0.010' }] },
    });
    assert.equal(change.status, 200, JSON.stringify(change.body));
    await advanceTo('2026-03-17T00:00:00Z');
    await events(b.subscriptionId, [{ day: '2026-03-16', meter: BASE, quantity: '100', resource: '/b/vm' }]);
    await advanceTo('2026-03-21T00:00:00Z');
    await events(d.subscriptionId, [{ day: '2026-03-20', meter: WINDOWS, quantity: '20', resource: '/d/vm' }]);

    // A credit for A in March, on its March invoice.
    const credit = await t.call('POST', `${billing('adjustments')}?${V}`, {
      token: csp,
      body: {
        customerId: a.customerId,
        kind: 'credit',
        amount: '-0.50',
        description: 'Outage credit',
        reason: 'VM unavailable on 11 March',
      },
    });
    assert.equal(credit.status, 201, JSON.stringify(credit.body));

    // March closes by itself when the clock passes 1 April.
    await advanceTo('2026-04-01T01:00:00Z');
  });
  after(async () => t?.stop());

  it("A's invoice: prorated hours at the CSP's 10% markup, the credit with who and why, 20% tax", async () => {
    const inv = await customerInvoice(a.customerId, '2026-03');
    // 60.5 hours × 2 vCPUs = 121 vCPU hours at 0.008 × 1.10 = 0.0088 → 1.0648 → 1.06; VM size hours are free.
    const base = inv.lines.filter((l: { meterId: unknown }) => l.meterId === BASE);
    assert.equal(base.length, 1);
    assert.equal(Number(base[0].quantity), 121);
    assert.equal(base[0].unitPrice, '0.008800');
    assert.equal(base[0].amount, '1.06');
    const hours = inv.lines.find((l: { meterId: unknown }) => l.meterId === VM_HOURS);
    assert.equal(Number(hours.quantity), 60.5);
    assert.equal(hours.amount, '0.00');
    const credit = inv.lines.find((l: { lineType: unknown }) => l.lineType === 'credit');
    assert.equal(credit.amount, '-0.50');
    assert.equal(credit.reason, 'VM unavailable on 11 March');
    assert.ok(credit.createdBy, 'who');
    assert.equal(inv.subtotal, '0.56');
    assert.equal(inv.tax, '0.11'); // 0.112
    assert.equal(inv.total, '0.67');
  });

  it("B's invoice: tiers accumulate over the period, and the price in force each day applies", async () => {
    const inv = await customerInvoice(b.customerId, '2026-03');
    const table = inv.lines
      .filter((l: { meterId: unknown }) => l.meterId === TABLE)
      .map((l: { quantity: unknown; unitPrice: unknown; amount: unknown }) => [
        Number(l.quantity),
        l.unitPrice,
        l.amount,
      ]);
    // 120 GB hours: 100 at 0.001, 20 at 0.0005.
    assert.deepEqual(table, [
      [100, '0.001000', '0.10'],
      [20, '0.000500', '0.01'],
    ]);
    const base = inv.lines
      .filter((l: { meterId: unknown }) => l.meterId === BASE)
      .map((l: { quantity: unknown; unitPrice: unknown; amount: unknown }) => [
        Number(l.quantity),
        l.unitPrice,
        l.amount,
      ]);
    assert.deepEqual(base.sort(), [
      [100, '0.008000', '0.80'],
      [100, '0.010000', '1.00'],
    ]);
    assert.equal(inv.total, '1.91');
  });

  it("C's invoice holds its usage from before it was suspended and cancelled", async () => {
    const inv = await customerInvoice(c.customerId, '2026-03');
    assert.equal(inv.total, '0.08'); // 10 × 0.008
  });

  it("the partner's invoice: daily-rated line items at list prices, totalCharges the sum of the lines", async () => {
    const inv = await partnerInvoice('2026-03');
    assert.ok(inv, 'the March invoice exists');
    assert.equal(inv.currencyCode, 'USD');
    assert.equal(inv.billingPeriodStartDate, '2026-03-01T00:00:00Z');
    assert.equal(inv.billingPeriodEndDate, '2026-03-31T00:00:00Z');
    const items = await allLineItems(inv.id, 3);
    for (const field of [
      'partnerId',
      'customerId',
      'customerName',
      'subscriptionId',
      'usageDate',
      'meterId',
      'meterName',
      'meterCategory',
      'unitOfMeasure',
      'resourceLocation',
      'resourceUri',
      'quantity',
      'unitPrice',
      'billingPreTaxTotal',
      'billingCurrency',
    ]) {
      assert.ok(
        items.every((i) => field in i),
        field,
      );
    }
    // A's VM per day at 0.008: 10 March 19 h × 2 = 38 → 0.30; 11 March 96 → 0.38; 12 March 35 → 0.28.
    const aBase = items
      .filter((i) => i.customerId === a.customerId && i.meterId === BASE)
      .map((i) => [i.usageDate, i.quantity, i.billingPreTaxTotal]);
    assert.deepEqual(aBase, [
      ['2026-03-10T00:00:00Z', 38, 0.3],
      ['2026-03-11T00:00:00Z', 48, 0.38],
      ['2026-03-12T00:00:00Z', 35, 0.28],
    ]);
    const cents = items.reduce((n, i) => n + Math.round(i.billingPreTaxTotal * 100), 0);
    assert.equal(Math.round(inv.totalCharges * 100), cents);
    // A 0.96, B 0.06 + 0.04 + 0.01 + 0.80 + 1.00, C 0.08, D 0.46 + 0.92 (calendar months for the partner).
    assert.equal(inv.totalCharges, 4.33);
  });

  it('a billing run for a closed period changes nothing; for an open one it is refused', async () => {
    const again = await t.call('POST', `${billing('billingRuns')}?${V}`, { token: csp, body: { period: '2026-03' } });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.invoicesAdded, 0);
    const open = await t.call('POST', `${billing('billingRuns')}?${V}`, { token: csp, body: { period: '2026-04' } });
    assert.equal(open.status, 409);
    assert.equal(open.body.error.code, 'BillingPeriodNotEnded');
    const bad = await t.call('POST', `${billing('billingRuns')}?${V}`, { token: csp, body: { period: '2026-13' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'InvalidBillingPeriod');
  });

  it('refuses a billing run to a customer administrator and to another partner (403), and closes nothing', async () => {
    const invoices = () =>
      withHubDatabase(t, async (c) => (await c.query('select count(*)::int as n from invoices')).rows[0].n as number);
    const before = await invoices();
    const other = await secondPartner(t, 'bill-run');
    const callers = [
      await t.userToken(a.customerId, a.admin.userName, a.admin.password, t.b.hub.arm),
      await other.token(t.b.hub.arm),
    ];
    for (const token of callers) {
      const res = await t.call('POST', `${billing('billingRuns')}?${V}`, { token, body: { period: '2026-03' } });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'AuthorizationFailed');
    }
    assert.equal(await invoices(), before);
  });

  it('late usage and a credit note go to April; the closed March invoices never change', async () => {
    const marchA = await customerInvoice(a.customerId, '2026-03');
    const marchB = await customerInvoice(b.customerId, '2026-03');
    await events(b.subscriptionId, [{ day: '2026-03-20', meter: BASE, quantity: '50', resource: '/b/vm' }]);
    const note = await t.call('POST', `${billing('adjustments')}?${V}`, {
      token: csp,
      body: {
        customerId: a.customerId,
        kind: 'credit',
        amount: '-0.20',
        description: 'Correction of March',
        reason: 'wrong markup on 12 March',
        creditNoteFor: marchA.invoiceNumber,
      },
    });
    assert.equal(note.status, 201, JSON.stringify(note.body));
    assert.match(note.body.creditNote, /^CN/);

    // The unbilled view of the open period shows the late line at once.
    const unbilled = await t.call(
      'GET',
      `${t.b.hub.partnerCenter}/v1/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=usagelineitems&currencycode=USD&period=current`,
      { token: cspPc },
    );
    assert.equal(unbilled.status, 200, JSON.stringify(unbilled.body));
    const late = unbilled.body.items.find((i: { customerId: unknown }) => i.customerId === b.customerId);
    assert.deepEqual(
      [late.usageDate, late.quantity, late.unitPrice, late.billingPreTaxTotal, late.chargeType],
      ['2026-03-20T00:00:00Z', 50, 0.01, 0.5, 'Late usage'],
    );

    await advanceTo('2026-05-01T00:00:00Z');
    assert.deepEqual(await customerInvoice(a.customerId, '2026-03'), marchA);
    assert.deepEqual(await customerInvoice(b.customerId, '2026-03'), marchB);
    const aprilB = await customerInvoice(b.customerId, '2026-04');
    assert.deepEqual(
      aprilB.lines.map((l: { lineType: unknown; usageDate: unknown; amount: unknown }) => [
        l.lineType,
        l.usageDate,
        l.amount,
      ]),
      [['late usage', '2026-03-20', '0.50']],
    );
    const aprilC = await customerInvoice(c.customerId, '2026-04');
    assert.equal(aprilC.total, '0.00');
    assert.equal(aprilC.lines.length, 0);
    const notes = await t.call('GET', `${billing('invoices')}?${V}&customerId=${a.customerId}`, { token: csp });
    const cn = notes.body.value.find((i: { properties: { kind: unknown } }) => i.properties.kind === 'creditNote');
    const one = await t.call('GET', `${billing(`invoices/${cn.name}`)}?${V}`, { token: csp });
    assert.equal(one.body.properties.creditNoteFor, marchA.invoiceNumber);
    assert.equal(one.body.properties.total, '-0.24'); // −0.20 and its 20% tax
  });

  it("D's billing day is the 15th: its periods run from the 15th to the 15th", async () => {
    // The period in which D was created (15 February to 15 March) closed on 15 March.
    const first = await customerInvoice(d.customerId, '2026-02');
    assert.deepEqual(
      [first.periodStart, first.periodEnd, first.invoiceDate],
      ['2026-02-15T00:00:00.000Z', '2026-03-15T00:00:00.000Z', '2026-03-15T00:00:00.000Z'],
    );
    assert.deepEqual(
      first.lines.map((l: { usageDate: unknown; amount: unknown }) => [l.usageDate, l.amount]),
      [['2026-03-10', '0.46']],
    );
    const second = await customerInvoice(d.customerId, '2026-03');
    assert.deepEqual([second.periodStart, second.periodEnd], ['2026-03-15T00:00:00.000Z', '2026-04-15T00:00:00.000Z']);
    assert.deepEqual(
      second.lines.map((l: { usageDate: unknown; amount: unknown }) => [l.usageDate, l.amount]),
      [['2026-03-20', '0.92']],
    );
  });

  it("an offer's discount from the provider and a partner's fixed price apply from their day, in the open period", async () => {
    // From 2 May the provider discounts the CSP offer by 50%; the CSP charges B a fixed 0.02 for Base VM hours.
    await advanceTo('2026-05-02T00:00:00Z');
    const discount = await t.call('POST', `${billing('priceOverrides')}?${V}`, {
      token: csp,
      body: {
        level: 'provider',
        offerId: 'MS-AZR-0145P',
        kind: 'discount',
        value: '50',
        effectiveFrom: '2026-05-02',
        reason: 'launch offer',
      },
    });
    assert.equal(discount.status, 201, JSON.stringify(discount.body));
    const fixed = await t.call('POST', `${billing('priceOverrides')}?${V}`, {
      token: csp,
      body: {
        customerId: b.customerId,
        meterId: BASE,
        kind: 'fixed',
        value: '0.02',
        effectiveFrom: '2026-05-02',
        reason: 'contract price',
      },
    });
    assert.equal(fixed.status, 201, JSON.stringify(fixed.body));
    await advanceTo('2026-05-03T00:00:00Z');
    await events(b.subscriptionId, [
      { day: '2026-05-01', meter: BASE, quantity: '100', resource: '/b/vm' },
      { day: '2026-05-02', meter: BASE, quantity: '100', resource: '/b/vm' },
    ]);
    // The provider's price: 0.010 on 1 May, 0.005 from 2 May.
    const open = await t.call(
      'GET',
      `${t.b.hub.partnerCenter}/v1/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=usagelineitems&currencycode=USD&period=current`,
      { token: cspPc },
    );
    const mine = open.body.items
      .filter((i: { customerId: unknown }) => i.customerId === b.customerId)
      .map((i: { usageDate: string; unitPrice: unknown; billingPreTaxTotal: unknown }) => [
        i.usageDate.slice(0, 10),
        i.unitPrice,
        i.billingPreTaxTotal,
      ]);
    assert.deepEqual(mine, [
      ['2026-05-01', 0.01, 1],
      ['2026-05-02', 0.005, 0.5],
    ]);
    // B's price from the CSP: the provider's on 1 May (no markup for B), the fixed 0.02 from 2 May.
    const forB = await t.call('GET', `${billing('invoices/unbilled')}?${V}&customerId=${b.customerId}`, { token: csp });
    assert.equal(forB.status, 200, JSON.stringify(forB.body));
    assert.deepEqual(
      forB.body.properties.lines.map((l: { usageDate: unknown; unitPrice: unknown; amount: unknown }) => [
        l.usageDate,
        l.unitPrice,
        l.amount,
      ]),
      [
        ['2026-05-01', '0.010000', '1.00'],
        ['2026-05-02', '0.020000', '2.00'],
      ],
    );
    assert.equal(forB.body.properties.total, '3.00');
    assert.equal(forB.body.properties.status, 'Open');
    // B's own administrator reads the same open invoice, naming no one.
    const asB = await t.call('GET', `${billing('invoices/unbilled')}?${V}`, {
      token: await t.userToken(b.customerId, b.admin.userName, b.admin.password, t.b.hub.arm),
    });
    assert.equal(asB.status, 200, JSON.stringify(asB.body));
    assert.deepEqual(asB.body.properties.lines, forB.body.properties.lines);
    // Another partner is told nothing of B; a customer id that is none is refused before anything is read.
    const other = await secondPartner(t, 'unbilled');
    for (const [token, customerId] of [
      [await other.token(t.b.hub.arm), b.customerId],
      [csp, 'not-a-guid'],
      [csp, randomUUID()],
    ]) {
      const res = await t.call('GET', `${billing('invoices/unbilled')}?${V}&customerId=${customerId}`, { token });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'CustomerNotFound');
    }
  });

  it('exports the March invoices: the reconciliation file, FOCUS and JSON, each summing to the invoice', async () => {
    const inv = await partnerInvoice('2026-03');
    const get = (query: string) => t.call('GET', `${billing('exports')}?${V}&period=2026-03&${query}`, { token: csp });
    const parse = (text: string) => {
      // The values here hold no commas or quotes (checked by the header's column count).
      const [header, ...rows] = text
        .trim()
        .split('\n')
        .map((l) => l.split(','));
      return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
    };
    const recon = await get('format=recon');
    assert.equal(recon.status, 200);
    assert.match(String(recon.headers['content-type']), /text\/csv/);
    const reconRows = parse(String(recon.body));
    for (const column of [
      'PartnerId',
      'CustomerId',
      'CustomerName',
      'SubscriptionId',
      'UsageDate',
      'MeterId',
      'MeterName',
      'MeterCategory',
      'UnitOfMeasure',
      'ResourceLocation',
      'ResourceUri',
      'Quantity',
      'UnitPrice',
      'BillingPreTaxTotal',
      'BillingCurrency',
      'InvoiceNumber',
    ]) {
      assert.ok(column in reconRows[0], column);
    }
    assert.equal(
      reconRows.reduce((n, r) => n + Math.round(Number(r.BillingPreTaxTotal) * 100), 0),
      Math.round(inv.totalCharges * 100),
    );
    assert.ok(reconRows.every((r) => r.InvoiceNumber === inv.id));

    const focus = await get('format=focus');
    const focusRows = parse(String(focus.body));
    // FOCUS's 21 mandatory columns (the same in 1.0 and 1.2), each present; the cost columns never null.
    const mandatory = [
      'BilledCost',
      'BillingAccountId',
      'BillingAccountName',
      'BillingCurrency',
      'BillingPeriodEnd',
      'BillingPeriodStart',
      'ChargeCategory',
      'ChargeClass',
      'ChargeDescription',
      'ChargePeriodEnd',
      'ChargePeriodStart',
      'ContractedCost',
      'EffectiveCost',
      'InvoiceIssuerName',
      'ListCost',
      'PricingQuantity',
      'PricingUnit',
      'ProviderName',
      'PublisherName',
      'ServiceCategory',
      'ServiceName',
    ];
    for (const column of mandatory) assert.ok(column in focusRows[0], column);
    assert.ok(
      focusRows.every(
        (r) =>
          r.BilledCost !== '' && r.EffectiveCost !== '' && r.ChargeCategory === 'Usage' && r.BillingCurrency === 'USD',
      ),
    );
    assert.ok(
      focusRows.every(
        (r) => r.BillingPeriodStart === '2026-03-01T00:00:00Z' && r.BillingPeriodEnd === '2026-04-01T00:00:00Z',
      ),
    );
    assert.ok(focusRows.every((r) => ['Compute', 'Storage', 'Networking'].includes(r.ServiceCategory)));
    assert.equal(
      focusRows.reduce((n, r) => n + Math.round(Number(r.BilledCost) * 100), 0),
      Math.round(inv.totalCharges * 100),
    );

    const json = await get(`format=json&customerId=${b.customerId}`);
    assert.ok(Array.isArray(json.body));
    assert.ok(
      json.body.length > 0 && json.body.every((l: { customerId: unknown }) => l.customerId === b.customerId),
      'one customer only',
    );
    const bad = await get('format=pdf');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'InvalidExportFormat');
  });

  it("the operator's chargeback: each tenant subscription's month at the operator's own prices, as JSON and CSV", async () => {
    const admin = t.b.stacks.local.adminArm;
    const operator = await t.appToken('operator', admin);
    const url = `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Stackledger.Billing/chargeback?${V}&period=2026-03`;
    const report = await t.call('GET', url, { token: operator });
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.equal(report.body.value.length, 1, "only A's tenant subscription ran on the stack");
    const [sub] = report.body.value;
    assert.equal(sub.tenantId, a.customerId);
    // 121 vCPU hours × 0.008 = 0.968 → 0.97, rated once over the month.
    assert.equal(sub.lines.find((l: { meterId: unknown }) => l.meterId === BASE).amount, '0.97');
    assert.equal(sub.total, '0.97');
    const csv = await t.call('GET', `${url}&format=csv`, { token: operator });
    assert.equal(csv.status, 200);
    const [header, ...rows] = String(csv.body).trim().split('\n');
    assert.equal(
      header,
      'Period,SubscriptionId,SubscriptionName,TenantId,MeterId,MeterName,Unit,ResourceUri,Location,UsageFrom,UsageTo,Tier,Quantity,UnitPrice,Amount,Currency',
    );
    assert.equal(rows.length, sub.lines.length);
    // A page at a time: $top subscriptions of the stack a page (those with no usage show nothing),
    // the same subscriptions when followed to the end; a forged token is refused.
    const paged: unknown[] = [];
    let pages = 0;
    for (let next: string | undefined = `${url}&$top=1`; next; pages++) {
      const page: { status: number; body: UndeclaredJson } = await t.call('GET', next, { token: operator });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.equal(page.body.period, '2026-03');
      paged.push(...page.body.value);
      next = page.body.nextLink;
    }
    assert.ok(pages > 1, 'the stack has more subscriptions than one');
    assert.deepEqual(paged, report.body.value);
    // The operator's command line: the month's document, every page's subscriptions in it.
    const printed = await cliJson(['billing', 'chargeback', '--period', '2026-03', '--data', t.dataDir]);
    assert.deepEqual(printed, report.body);
    const forged = await t.call(
      'GET',
      `${url}&$skiptoken=${Buffer.from('{"s":"x","k":["y"]}').toString('base64url')}`,
      {
        token: operator,
      },
    );
    assert.equal(forged.status, 400, JSON.stringify(forged.body));
    assert.equal(forged.body.error.code, 'InvalidSkipToken');
    const tenantUser = await t.userToken(a.customerId, a.admin.userName, a.admin.password, admin);
    assert.equal(
      (await t.call('GET', url, { token: tenantUser })).status >= 400,
      true,
      'tenants do not read the chargeback',
    );
  });

  it('bad input changes nothing and answers ARM errors', async () => {
    const cases: [string, string, unknown, number, string][] = [
      [
        'PUT',
        `priceSheets/list/meters/${BASE}`,
        { effectiveFrom: '2026-01-01', tiers: [{ unitPrice: '1' }] },
        400,
        'InvalidEffectiveDate',
      ],
      [
        'PUT',
        `priceSheets/list/meters/${BASE}`,
        { effectiveFrom: '2027-01-01', tiers: [{ unitPrice: '-1' }] },
        400,
        'InvalidPrice',
      ],
      [
        'PUT',
        `priceSheets/list/meters/${BASE}`,
        { effectiveFrom: '2027-01-01', tiers: [{ fromQuantity: '5', unitPrice: '1' }] },
        400,
        'InvalidTiers',
      ],
      [
        'PUT',
        'priceSheets/list/meters/not-a-meter',
        { effectiveFrom: '2027-01-01', tiers: [{ unitPrice: '1' }] },
        400,
        'InvalidMeterId',
      ],
      [
        'POST',
        'priceOverrides',
        { kind: 'bonus', value: '1', effectiveFrom: '2027-01-01', reason: 'x' },
        400,
        'InvalidOverrideKind',
      ],
      [
        'POST',
        'adjustments',
        { customerId: a.customerId, kind: 'credit', amount: '5', description: 'x', reason: 'y' },
        400,
        'InvalidAmount',
      ],
      [
        'POST',
        'adjustments',
        { customerId: randomUUID(), kind: 'credit', amount: '-5', description: 'x', reason: 'y' },
        400,
        'CustomerNotFound',
      ],
      ['PUT', `billingProfiles/${a.customerId}`, { billingDay: 31 }, 400, 'InvalidBillingDay'],
    ];
    const sheetBefore = await t.call('GET', `${billing('priceSheets/list')}?${V}`, { token: csp });
    for (const [method, path, body, status, code] of cases) {
      const res = await t.call(method, `${billing(path)}?${V}`, { token: csp, body });
      assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code);
    }
    assert.deepEqual(
      (await t.call('GET', `${billing('priceSheets/list')}?${V}`, { token: csp })).body,
      sheetBefore.body,
    );
    const customerAdmin = await t.userToken(b.customerId, b.admin.userName, b.admin.password, t.b.hub.arm);
    const ownOnly = await t.call('GET', `${billing('invoices')}?${V}`, { token: customerAdmin });
    assert.equal(ownOnly.status, 200);
    assert.ok(ownOnly.body.value.length > 0);
    assert.ok(
      ownOnly.body.value.every(
        (i: { properties: { customerId: unknown } }) => i.properties.customerId === b.customerId,
      ),
      'a customer sees only its own invoices',
    );
    const other = await customerInvoice(a.customerId, '2026-03');
    assert.equal(
      (await t.call('GET', `${billing(`invoices/${other.invoiceNumber}`)}?${V}`, { token: customerAdmin })).status,
      404,
    );
  });
});
