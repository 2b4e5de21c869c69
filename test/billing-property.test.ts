// A property of billing: for random usage, random list prices and random markups, each month's
// invoices total exactly what the stated rule gives, computed here independently with decimal.js:
//   the provider's invoice: the sum over (customer, subscription, meter, resource, day) lines of
//     round(quantity × list price, 2);
//   a customer's invoice: the sum over (subscription, meter, resource) lines of
//     round(quantity × round(list price × (1 + markup / 100), 6), 2), plus round(subtotal × tax, 2).
// Each run is one simulated month (the clock only moves forward, so runs do not shrink).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { roundMoney, roundUnitPrice } from '../src/rating/rating.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const METERS = ['fab6eb84-500b-4a09-a8ca-7358f8bbaea5', '09f8879e-87e9-4305-a572-4b7be209f857'];
const V = 'api-version=2026-11-01';

const usageRecord = fc.record({
  customer: fc.integer({ min: 0, max: 1 }),
  meter: fc.integer({ min: 0, max: 1 }),
  resource: fc.constantFrom('/r/one', '/r/two'),
  day: fc.integer({ min: 1, max: 28 }),
  hour: fc.integer({ min: 0, max: 23 }),
  quantity: fc.integer({ min: 1, max: 5_000_000 }).map((n) => new Decimal(n).div(1000).toFixed()),
});
const month = fc.record({
  prices: fc
    .tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: 99_999 }))
    .map((p) => p.map((n) => new Decimal(n).div(1_000_000).toFixed())),
  markups: fc
    .tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 }))
    .map((m) => m.map((n) => new Decimal(n).div(100).toFixed())),
  taxRates: fc
    .tuple(fc.integer({ min: 0, max: 2500 }), fc.integer({ min: 0, max: 2500 }))
    .map((m) => m.map((n) => new Decimal(n).div(100).toFixed())),
  usage: fc.array(usageRecord, { minLength: 1, maxLength: 40 }),
});

describe('billing property: invoice totals follow the stated rounding rule', () => {
  let t: TestSystem;
  let csp: string;
  let cspPc: string;
  let customers: CustomerWithSubscription[];
  let monthIndex = 0;

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-01-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    cspPc = await t.appToken('csp', t.b.hub.partnerCenter);
    customers = [await customerWithSubscription(t, 'prop-a'), await customerWithSubscription(t, 'prop-b')];
  });
  after(async () => t?.stop());

  it('holds for random months of usage and prices', async () => {
    await fc.assert(
      fc.asyncProperty(month, async (m) => {
        const start = new Date(Date.UTC(2026, monthIndex++, 1));
        const period = start.toISOString().slice(0, 7);
        const first = start.toISOString().slice(0, 10);
        const call = async (method: string, path: string, body: unknown, status = 200) => {
          const res = await t.call(method, `${t.b.hub.arm}/providers/Stackledger.Billing/${path}?${V}`, {
            token: csp,
            body,
          });
          assert.equal(res.status, status, JSON.stringify(res.body));
        };
        for (const [i, meter] of METERS.entries())
          await call('PUT', `priceSheets/list/meters/${meter}`, {
            effectiveFrom: first,
            tiers: [{ unitPrice: m.prices[i] }],
          });
        for (const [i, c] of customers.entries()) {
          await call(
            'POST',
            'priceOverrides',
            { customerId: c.customerId, kind: 'markup', value: m.markups[i], effectiveFrom: first, reason: 'property' },
            201,
          );
          await call('PUT', `billingProfiles/${c.customerId}`, { taxRate: m.taxRates[i] });
        }
        const day = (d: number) => `${period}-${String(d).padStart(2, '0')}`;
        const events = m.usage.map((u) => ({
          specversion: '1.0',
          id: randomUUID(),
          source: 'urn:property',
          type: 'usage',
          subject: customers[u.customer].subscriptionId,
          time: `${day(u.day)}T${String(u.hour).padStart(2, '0')}:15:00Z`,
          data: { meterId: METERS[u.meter], quantity: u.quantity, resourceUri: u.resource },
        }));
        // Usage is reported once it has happened (an event may not be ahead of the clock).
        await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
          token: csp,
          body: { to: `${day(28)}T23:59:00Z` },
        });
        const sent = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?${V}`, {
          token: csp,
          body: events,
        });
        assert.equal(sent.status, 200, JSON.stringify(sent.body));
        const next = new Date(Date.UTC(2026, monthIndex, 1, 1));
        await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
          token: csp,
          body: { to: next.toISOString() },
        });

        // The provider's invoice, by the rule.
        const sum = (groups: Map<string, Decimal>, price: (key: string) => Decimal) =>
          [...groups].reduce((total, [key, q]) => total.plus(roundMoney(q.mul(price(key)))), new Decimal(0));
        const group = (key: (u: (typeof m.usage)[number]) => string, only?: number) => {
          const out = new Map<string, Decimal>();
          for (const u of m.usage)
            if (only === undefined || u.customer === only)
              out.set(key(u), (out.get(key(u)) ?? new Decimal(0)).plus(u.quantity));
          return out;
        };
        const daily = group((u) => `${u.customer}|${u.meter}|${u.resource}|${u.day}`);
        const expectedPartner = sum(daily, (k) => new Decimal(m.prices[Number(k.split('|')[1])]));
        const invoices = await t.call('GET', `${t.b.hub.partnerCenter}/v1/invoices`, { token: cspPc });
        const partnerInvoice = invoices.body.items.find((i: { billingPeriodStartDate: string }) =>
          i.billingPeriodStartDate.startsWith(period),
        );
        assert.equal(
          new Decimal(partnerInvoice.totalCharges).toFixed(2),
          expectedPartner.toFixed(2),
          `provider's invoice for ${period}`,
        );

        // Each customer's invoice, by the rule.
        for (const [i, c] of customers.entries()) {
          const lines = group((u) => `${u.meter}|${u.resource}`, i);
          const subtotal = sum(lines, (k) =>
            roundUnitPrice(
              new Decimal(m.prices[Number(k.split('|')[0])]).mul(new Decimal(m.markups[i]).div(100).plus(1)),
            ),
          );
          const total = subtotal.plus(roundMoney(subtotal.mul(m.taxRates[i]).div(100)));
          const list = await t.call(
            'GET',
            `${t.b.hub.arm}/providers/Stackledger.Billing/invoices?${V}&period=${period}&customerId=${c.customerId}`,
            { token: csp },
          );
          assert.equal(list.body.value.length, 1);
          assert.equal(
            list.body.value[0].properties.subtotal,
            subtotal.toFixed(2),
            `customer ${i} subtotal for ${period}`,
          );
          assert.equal(list.body.value[0].properties.total, total.toFixed(2), `customer ${i} total for ${period}`);
        }
      }),
      { numRuns: Number(process.env.BILLING_PROPERTY_RUNS ?? 5), endOnFailure: true },
    );
  });
});
