// FOCUS 1.2 over a real month, and the rough edges of rating it shows (issue #19, items 3 and 5):
//   Customer A: Base VM hours at a list price of 0.50 that the CSP marks up 25%, 20% tax, a credit
//               in March and a credit note against the closed March invoice.
//   Customer B: table storage tiered at 100 (0.01, then 0.005): 60 on 5 March, 60 on 6 March.
//   Customer C: the same meter, 150 on 5 March, then a correction of −80 on 6 March.
//   The provider grants the CSP (a partner) a credit of 3.00 in March, on the CSP's March invoice.
// Every row of the exports is checked against the rules of FOCUS 1.2 (test/helpers/focus-rules.ts).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Decimal } from 'decimal.js';
import { focusViolations, parseCsv, type FocusRow } from './helpers/focus-rules.ts';
import { customerWithSubscription, secondPartner, type CustomerWithSubscription } from './helpers/partner.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';
import { postUsageEvents } from './helpers/usage-events.ts';
import type { UndeclaredJson } from '../src/core/http-client.ts';
import { REPO } from './helpers/repo.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const TABLE = 'b4438d5d-453b-4ee1-b42a-dc72e377f1e4';
const V = 'api-version=2026-11-01';
const sum = (rows: FocusRow[], column: string) => rows.reduce((s, r) => s.plus(r[column] || 0), new Decimal(0));

describe('FOCUS 1.2: list, contracted and billed cost apart; one partner line per day; corrections at their tiers', () => {
  let t: TestSystem;
  let csp: string;
  let cspPc: string;
  let a: CustomerWithSubscription;
  let b: CustomerWithSubscription;
  let c: CustomerWithSubscription;
  const billing = (p: string) => `${t.b.hub.arm}/providers/Stackledger.Billing/${p}`;
  const ok = async (res: Promise<{ status: number; body: UndeclaredJson }>, status: number) => {
    const r = await res;
    assert.equal(r.status, status, JSON.stringify(r.body));
    return r.body;
  };
  const advanceTo = (to: string) =>
    ok(
      t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, { token: csp, body: { to } }),
      200,
    );
  const exportCsv = async (query: string) => {
    const res = await t.call('GET', `${billing('exports')}?${V}&period=2026-03&format=focus&${query}`, { token: csp });
    assert.equal(res.status, 200, String(res.body));
    return { ...parseCsv(String(res.body)), headers: res.headers };
  };

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-03-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    cspPc = await t.appToken('csp', t.b.hub.partnerCenter);
    a = await customerWithSubscription(t, 'focus-a');
    b = await customerWithSubscription(t, 'focus-b');
    c = await customerWithSubscription(t, 'focus-c');
    const price = (meter: string, tiers: { fromQuantity?: string; unitPrice: string }[]) =>
      ok(
        t.call('PUT', `${billing(`priceSheets/list/meters/${meter}`)}?${V}`, {
          token: csp,
          body: { effectiveFrom: '2026-03-01', tiers },
        }),
        200,
      );
    await price(BASE, [{ unitPrice: '0.50' }]);
    await price(TABLE, [
      { fromQuantity: '0', unitPrice: '0.01' },
      { fromQuantity: '100', unitPrice: '0.005' },
    ]);
    const override = {
      customerId: a.customerId,
      kind: 'markup',
      value: '25',
      effectiveFrom: '2026-03-01',
      reason: 'managed service',
    };
    await ok(t.call('POST', `${billing('priceOverrides')}?${V}`, { token: csp, body: override }), 201);
    await ok(
      t.call('PUT', `${billing(`billingProfiles/${a.customerId}`)}?${V}`, { token: csp, body: { taxRate: '20' } }),
      200,
    );

    await advanceTo('2026-03-08T00:00:00Z');
    const usage = (subject: string, day: string, meter: string, quantity: string, resource: string) => ({
      subject,
      time: day,
      meterId: meter,
      quantity,
      resourceUri: resource,
    });
    await postUsageEvents(t, csp, [
      usage(a.subscriptionId, '2026-03-02', BASE, '24', '/a/vm'),
      usage(a.subscriptionId, '2026-03-03', BASE, '10', '/a/vm'),
      usage(b.subscriptionId, '2026-03-05', TABLE, '60', '/b/table'),
      usage(b.subscriptionId, '2026-03-06', TABLE, '60', '/b/table'),
      usage(c.subscriptionId, '2026-03-05', TABLE, '150', '/c/table'),
    ]);
    // A correction: a negative quantity, with its reason.
    await ok(
      t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?${V}`, {
        token: csp,
        headers: { 'content-type': 'application/cloudevents-batch+json' },
        body: [
          {
            specversion: '1.0',
            id: randomUUID(),
            source: 'urn:test:meter',
            type: 'usage',
            subject: c.subscriptionId,
            time: '2026-03-06T10:00:00Z',
            data: {
              meterId: TABLE,
              quantity: '-80',
              resourceUri: '/c/table',
              location: 'local',
              reason: 'double count',
            },
          },
        ],
      }),
      200,
    );
    await ok(
      t.call('POST', `${billing('adjustments')}?${V}`, {
        token: csp,
        body: {
          customerId: a.customerId,
          kind: 'credit',
          amount: '-1.00',
          description: 'Outage',
          reason: 'down on 3 March',
        },
      }),
      201,
    );
    const providerCredit = {
      level: 'provider',
      partnerId: t.b.csp.tenantId,
      kind: 'credit',
      amount: '-3.00',
      description: 'Service credit',
      reason: 'hub maintenance overran',
    };
    await ok(t.call('POST', `${billing('adjustments')}?${V}`, { token: csp, body: providerCredit }), 201);
    await advanceTo('2026-04-01T01:00:00Z');
    const list = await ok(
      t.call('GET', `${billing('invoices')}?${V}&period=2026-03&customerId=${a.customerId}`, { token: csp }),
      200,
    );
    await ok(
      t.call('POST', `${billing('adjustments')}?${V}`, {
        token: csp,
        body: {
          customerId: a.customerId,
          kind: 'credit',
          amount: '-2.00',
          description: 'Goodwill',
          reason: 'billing error',
          creditNoteFor: list.value[0].name,
        },
      }),
      201,
    );
  });
  after(async () => t?.stop());

  it('a month with a markup: ListCost and BilledCost differ by exactly the markup, summed to the cent', async () => {
    const { rows } = await exportCsv(`stream=customer`);
    const aUsage = rows.filter((r) => r.BillingAccountId === a.customerId && r.ChargeCategory === 'Usage');
    assert.equal(aUsage.length, 1, 'one line: 34 hours at one price');
    const [line] = aUsage;
    assert.equal(new Decimal(line.ListUnitPrice).toString(), '0.5');
    assert.equal(new Decimal(line.ContractedUnitPrice).toString(), '0.625');
    // 34 hours: 17.00 at list, 21.25 billed; the markup is 25% of the list cost.
    assert.equal(sum(aUsage, 'ListCost').toFixed(2), '17.00');
    assert.equal(sum(aUsage, 'BilledCost').toFixed(2), '21.25');
    assert.equal(
      sum(aUsage, 'BilledCost').minus(sum(aUsage, 'ListCost')).toFixed(2),
      sum(aUsage, 'ListCost').mul('0.25').toFixed(2),
    );
    assert.equal(sum(aUsage, 'ContractedCost').toFixed(2), '21.25');
    assert.equal(sum(aUsage, 'EffectiveCost').toFixed(2), '21.25');

    // The provider's invoice to the partner prices A at list: its ListCost is its BilledCost.
    const partner = (await exportCsv('')).rows.filter((r) => r.SubAccountId === a.subscriptionId);
    assert.equal(sum(partner, 'BilledCost').toFixed(2), '17.00');
    assert.equal(sum(partner, 'ListCost').toFixed(2), '17.00');
  });

  it('every row follows FOCUS 1.2; BilledCost sums to each invoice; tax, credits and corrections are classed', async () => {
    const customer = await exportCsv('stream=customer');
    const partner = await exportCsv('');
    assert.deepEqual(focusViolations(customer.header, customer.rows), []);
    assert.deepEqual(focusViolations(partner.header, partner.rows), []);

    const invoices = await ok(
      t.call('GET', `${billing('invoices')}?${V}&period=2026-03&customerId=${a.customerId}`, { token: csp }),
      200,
    );
    assert.equal(invoices.value.length, 2, 'the invoice and its credit note');
    for (const inv of invoices.value) {
      const rows = customer.rows.filter((r) => r.InvoiceId === inv.name);
      assert.equal(sum(rows, 'BilledCost').toFixed(2), new Decimal(inv.properties.total).toFixed(2), inv.name);
    }
    const [invoice] = invoices.value.filter((i: { properties: { kind: string } }) => i.properties.kind === 'invoice');
    const rowsOf = customer.rows.filter((r) => r.InvoiceId === invoice.name);
    const categories = rowsOf.map((r) => [r.ChargeCategory, r.ChargeClass]).sort();
    assert.deepEqual(categories, [
      ['Credit', ''],
      ['Tax', ''],
      ['Usage', ''],
    ]);
    // Tax on 21.25 − 1.00 at 20%: billed 4.05; at list prices it is levied on 17.00 − 1.00.
    const tax = rowsOf.find((r) => r.ChargeCategory === 'Tax')!;
    assert.equal(tax.BilledCost, '4.05');
    assert.equal(new Decimal(tax.ListCost).toFixed(2), '3.20');
    assert.equal(tax.PricingQuantity, '');
    // The credit note corrects the closed March invoice: both its rows are corrections.
    const note = customer.rows.filter((r) => r.InvoiceId !== invoice.name && r.BillingAccountId === a.customerId);
    assert.deepEqual(note.map((r) => [r.ChargeCategory, r.ChargeClass]).sort(), [
      ['Credit', 'Correction'],
      ['Tax', 'Correction'],
    ]);

    // The partner's invoice: no tax, BilledCost sums to its total.
    const pcInvoices = await ok(t.call('GET', `${t.b.hub.partnerCenter}/v1/invoices`, { token: cspPc }), 200);
    const march = pcInvoices.items.find((i: { billingPeriodStartDate: string }) =>
      i.billingPeriodStartDate.startsWith('2026-03'),
    );
    assert.equal(sum(partner.rows, 'BilledCost').toFixed(2), new Decimal(march.totalCharges).toFixed(2));
    assert.ok(partner.rows.every((r) => r.BillingAccountType === 'Partner' && r.InvoiceId === march.id));
  });

  it('the pinned FOCUS files follow FOCUS 1.2 too (late usage, credit notes, odd resource ids)', async () => {
    for (const name of ['partner-focus.csv', 'customer-focus.csv', 'empty-focus.csv']) {
      const { header, rows } = parseCsv(await readFile(path.join(REPO, 'test', 'fixtures', 'exports', name), 'utf8'));
      assert.deepEqual(focusViolations(header, rows), [], name);
    }
  });

  it("serves the dataset's metadata (data generator, schema) and links it from the export", async () => {
    const meta = await ok(t.call('GET', `${billing('exports/focusMetadata')}?${V}`, { token: csp }), 200);
    assert.equal(meta.DataGenerator.DataGenerator, 'Stackledger');
    assert.equal(meta.Schema.FocusVersion, '1.2');
    assert.match(meta.Schema.SchemaId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(meta.Schema.CreationDate, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const { header, headers } = await exportCsv('stream=customer');
    assert.deepEqual(
      meta.Schema.ColumnDefinition.map((c: { ColumnName: string }) => c.ColumnName),
      header,
      'the schema lists the columns of the file, in order',
    );
    const types = Object.fromEntries(
      meta.Schema.ColumnDefinition.map((c: { ColumnName: string; DataType: string }) => [c.ColumnName, c.DataType]),
    );
    assert.equal(types.BilledCost, 'DECIMAL');
    assert.equal(types.ChargePeriodStart, 'DATETIME');
    assert.equal(types.ChargeCategory, 'STRING');
    assert.equal(headers['x-focus-schema-id'], meta.Schema.SchemaId);
    assert.match(String(headers.link), /exports\/focusMetadata\?api-version=2026-11-01>; rel="describedby"/);
    const anonymous = await t.call('GET', `${billing('exports/focusMetadata')}?${V}`, {});
    assert.equal(anonymous.status, 401);
    assert.ok(anonymous.body.error.code);
  });

  it("the partner's invoice has one line per customer, subscription, meter, resource and day whatever the tiers", async () => {
    const inv = (await ok(t.call('GET', `${t.b.hub.partnerCenter}/v1/invoices`, { token: cspPc }), 200)).items.find(
      (i: { billingPeriodStartDate: string }) => i.billingPeriodStartDate.startsWith('2026-03'),
    );
    const items = await ok(
      t.call(
        'GET',
        `${t.b.hub.partnerCenter}/v1/invoices/${inv.id}/lineitems?provider=onetime&invoicelineitemtype=usagelineitems&size=2000`,
        {
          token: cspPc,
        },
      ),
      200,
    );
    const bTable = items.items
      .filter((i: { subscriptionId: string }) => i.subscriptionId === b.subscriptionId)
      .map((i: { usageDate: string; quantity: number; unitPrice: number; billingPreTaxTotal: number }) => [
        i.usageDate,
        i.quantity,
        i.unitPrice,
        i.billingPreTaxTotal,
      ]);
    // 6 March crosses the tier at 100: 40 at 0.01 and 20 at 0.005, one line at the blended 0.5 / 60.
    assert.deepEqual(bTable, [
      ['2026-03-05T00:00:00Z', 60, 0.01, 0.6],
      ['2026-03-06T00:00:00Z', 60, 0.008333, 0.5],
    ]);
    // The split is told in the line's description, which FOCUS's ChargeDescription carries.
    const focus = (await exportCsv('')).rows.filter((r) => r.SubAccountId === b.subscriptionId);
    assert.deepEqual(
      focus.map((r) => r.ChargeDescription),
      ['TableCapacity', 'TableCapacity. Blended unit price of its tiers: 40 at 0.01 (tier 1); 20 at 0.005 (tier 2)'],
    );
  });

  it('a negative correction is priced at the tiers it takes back', async () => {
    // C: 150 on 5 March (100 at 0.01, 50 at 0.005 = 1.25), −80 on 6 March takes back the 50 at
    // 0.005 and 30 at 0.01 (−0.55): 70 at 0.01 = 0.70, as if 70 had been used.
    const list = await ok(
      t.call('GET', `${billing('invoices')}?${V}&period=2026-03&customerId=${c.customerId}`, { token: csp }),
      200,
    );
    const inv = await ok(t.call('GET', `${billing(`invoices/${list.value[0].name}`)}?${V}`, { token: csp }), 200);
    assert.equal(inv.properties.total, '0.70');
    const partnerRows = (await exportCsv('')).rows.filter((r) => r.SubAccountId === c.subscriptionId);
    assert.deepEqual(
      partnerRows.map((r) => [r.ChargePeriodStart, new Decimal(r.PricingQuantity).toString(), r.BilledCost]),
      [
        ['2026-03-05T00:00:00Z', '150', '1.25'],
        ['2026-03-06T00:00:00Z', '-80', '-0.55'],
      ],
    );
  });

  it("the provider's credit to a partner is on the partner's invoice; only system administrators grant one", async () => {
    const partner = await exportCsv('');
    const credits = partner.rows.filter((r) => r.ChargeCategory === 'Credit');
    assert.deepEqual(
      credits.map((r) => [r.BilledCost, r.ListCost, r.ChargeDescription, r.ChargeClass]),
      [['-3.00', '-3.00', 'Service credit', '']],
    );
    const usage = partner.rows.filter((r) => r.ChargeCategory === 'Usage');
    // A 17.00, B 0.60 + 0.50, C 1.25 − 0.55, less the credit.
    assert.equal(sum(usage, 'BilledCost').toFixed(2), '18.80');
    assert.equal(sum(partner.rows, 'BilledCost').toFixed(2), '15.80');

    // A partner cannot grant itself one; bad references and a credit note are refused.
    const other = await secondPartner(t, 'focus-other');
    const otherToken = await other.token(t.b.hub.arm);
    const body = {
      level: 'provider',
      partnerId: other.partner.tenantId,
      kind: 'credit',
      amount: '-1',
      description: 'x',
      reason: 'y',
    };
    const self = await t.call('POST', `${billing('adjustments')}?${V}`, { token: otherToken, body });
    assert.equal(self.status, 403);
    assert.equal(self.body.error.code, 'AuthorizationFailed');
    const unknown = await t.call('POST', `${billing('adjustments')}?${V}`, {
      token: csp,
      body: { ...body, partnerId: a.customerId },
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, 'PartnerNotFound');
    const note = await t.call('POST', `${billing('adjustments')}?${V}`, {
      token: csp,
      body: { ...body, creditNoteFor: 'G000000001' },
    });
    assert.equal(note.status, 400);
    assert.equal(note.body.error.code, 'InvalidCreditNote');
    const notTheirs = await t.call('POST', `${billing('adjustments')}?${V}`, {
      token: csp,
      body: { ...body, subscriptionId: a.subscriptionId },
    });
    assert.equal(notTheirs.status, 400);
    assert.equal(notTheirs.body.error.code, 'InvalidResourceReference');
    // Nothing of it reached the other partner's open period.
    const unbilled = await t.call(
      'GET',
      `${t.b.hub.partnerCenter}/v1/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=usagelineitems&currencycode=USD&period=current`,
      { token: await other.token(t.b.hub.partnerCenter) },
    );
    assert.equal(unbilled.status, 200, JSON.stringify(unbilled.body));
    assert.deepEqual(unbilled.body.items, []);
  });
});
