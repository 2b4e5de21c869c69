// `stackledger billing …` against a running system: the commands a CSP's billing analyst runs,
// their output for people and for scripts, and their exit codes on failure.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from './helpers/cli.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';

describe('stackledger billing', () => {
  let t: TestSystem;
  let customer: CustomerWithSubscription;
  const run = (...args: string[]) => cli([...args, '--data', t.dataDir]);

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-01-01T00:00:00Z') });
    customer = await customerWithSubscription(t, 'clibill');
    const csp = await t.appToken('csp', t.b.hub.arm);
    // Usage is reported once it has happened: the clock first passes it.
    await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
      token: csp,
      body: { to: '2026-01-10T09:00:00Z' },
    });
    // 250 vCPU hours on 10 January, at 0.008: 2.00.
    const events = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?api-version=2026-11-01`, {
      token: csp,
      body: [
        {
          specversion: '1.0',
          id: randomUUID(),
          source: 'urn:test',
          type: 'usage',
          subject: customer.subscriptionId,
          time: '2026-01-10T08:00:00Z',
          data: { meterId: BASE, quantity: '250', resourceUri: '/vm/x' },
        },
      ],
    });
    assert.equal(events.status, 200, JSON.stringify(events.body));
  });
  after(async () => t?.stop());

  it("refuses to close a period that has not ended, with the server's code and a non-zero exit", async () => {
    const r = await run('billing', 'run', '--period', '2026-01');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /BillingPeriodNotEnded/);
    const bad = await run('billing', 'run', '--period', 'January');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /InvalidBillingPeriod/);
  });

  it('closes January when the clock passes its end; a run confirms it and changes nothing', async () => {
    const advance = await run('clock', 'advance', 'P22DT1H');
    assert.equal(advance.code, 0, advance.stderr);
    const again = await run('billing', 'run', '--period', '2026-01', '--json');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).invoicesAdded, 0);
    const human = await run('billing', 'run', '--period', '2026-01');
    assert.match(human.stdout, /2026-01 is closed; nothing changed/);
  });

  it('lists and shows invoices, for people and for scripts', async () => {
    const list = await run('billing', 'invoices', '--period', '2026-01', '--customer', customer.customerId, '--json');
    assert.equal(list.code, 0, list.stderr);
    const [invoice] = JSON.parse(list.stdout);
    assert.equal(invoice.properties.total, '2.00');
    const table = await run('billing', 'invoices', '--period', '2026-01');
    assert.match(table.stdout, new RegExp(`${invoice.name}.*clibill Ltd.*2026-01.*2\\.00`));
    const one = await run('billing', 'invoice', invoice.name);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /Base VM Size Hours.*2026-01-10.*250.*0\.008000.*2\.00/);
    assert.match(one.stdout, /Total 2\.00 USD/);
    const provider = await run('billing', 'invoices', '--provider', '--json');
    const [g] = JSON.parse(provider.stdout);
    assert.equal(g.totalCharges, 2);
    const missing = await run('billing', 'invoice', 'INV999999999');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /InvoiceNotFound/);
  });

  it('exports the period to a file, streamed', async () => {
    const out = path.join(t.dataDir, 'focus.csv');
    const r = await run('billing', 'export', '--period', '2026-01', '--format', 'focus', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const [header, row] = (await readFile(out, 'utf8')).trim().split('\n');
    assert.ok(header.startsWith('BilledCost,BillingAccountId,'));
    assert.ok(row.startsWith('2.00,'));
  });

  it('prices, markups and credits', async () => {
    const price = await run(
      'billing',
      'price',
      '--meter',
      BASE,
      '--from',
      '2026-02-10',
      '--tier',
      '0=0.008',
      '--tier',
      '1000=0.006',
      '--json',
    );
    assert.equal(price.code, 0, price.stderr);
    assert.equal(JSON.parse(price.stdout).tiers.length, 2);
    const past = await run('billing', 'price', '--meter', BASE, '--from', '2026-01-10', '--price', '1');
    assert.equal(past.code, 1);
    assert.match(past.stderr, /InvalidEffectiveDate/);
    const markup = await run(
      'billing',
      'markup',
      '--value',
      '15',
      '--from',
      '2026-02-02',
      '--reason',
      'support',
      '--customer',
      customer.customerId,
    );
    assert.equal(markup.code, 0, markup.stderr);
    const credit = await run(
      'billing',
      'credit',
      '--customer',
      customer.customerId,
      '--amount',
      '-1.50',
      '--description',
      'goodwill',
      '--reason',
      'late VM',
      '--json',
    );
    assert.equal(credit.code, 0, credit.stderr);
    assert.equal(JSON.parse(credit.stdout).amount, '-1.50');
    const open = await run('billing', 'invoice', '--unbilled', '--customer', customer.customerId, '--json');
    assert.equal(open.code, 0, open.stderr);
    assert.equal(JSON.parse(open.stdout).properties.total, '-1.50');
  });
  it('sets a grace period; voids an invoice with a reason: a credit note and a new invoice', async () => {
    const profile = await run('billing', 'profile', customer.customerId, '--grace-days', '3', '--json');
    assert.equal(profile.code, 0, profile.stderr);
    assert.equal(JSON.parse(profile.stdout).gracePeriodDays, 3);
    const list = await run('billing', 'invoices', '--period', '2026-01', '--customer', customer.customerId, '--json');
    const [invoice] = JSON.parse(list.stdout);
    assert.equal(invoice.properties.status, 'Finalized');
    const finalize = await run('billing', 'invoice', invoice.name, '--finalize');
    assert.equal(finalize.code, 1);
    assert.match(finalize.stderr, /InvoiceNotDraft/);
    const noReason = await run('billing', 'invoice', invoice.name, '--void');
    assert.notEqual(noReason.code, 0);
    assert.match(noReason.stderr, /--reason/);
    const voided = await run('billing', 'invoice', invoice.name, '--void', '--reason', 'wrong customer');
    assert.equal(voided.code, 0, voided.stderr);
    // The new invoice takes January's usage again and the credit no invoice had taken yet.
    assert.match(
      voided.stdout,
      new RegExp(`Voided ${invoice.name}: credit note CN\\d{9} \\(-2\\.00\\), new invoice INV\\d{9} \\(0\\.50\\)`),
    );
  });
});
