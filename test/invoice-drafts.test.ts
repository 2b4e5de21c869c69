// Invoice drafts with a grace period, approval (finalize), void and regenerate (issue #19): late
// usage of a draft's days lands on the draft; the billing job finalizes it when the grace ends, an
// administrator earlier; a finalized invoice never changes; voiding one issues a credit note and a
// new invoice for the period from its current usage, linked to it; numbers stay gapless per seller.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { customerWithSubscription, secondPartner, type CustomerWithSubscription } from './helpers/partner.ts';
import { postUsageEvents } from './helpers/usage-events.ts';
import { keptApartFromRule } from './helpers/kept-lines.ts';
import { advanceClockTo, startTestSystem, type TestSystem, withHubDatabase } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const V = 'api-version=2026-11-01';

interface Line {
  lineType: string;
  usageDate: string;
  quantity: string;
  amount: string;
}

describe('invoice drafts, finalization, void and regenerate', () => {
  let t: TestSystem;
  let csp: string;
  let cspPc: string;
  let a: CustomerWithSubscription;
  let b: CustomerWithSubscription;
  let aAdmin: string;
  let other: string;
  const billing = (path: string) => `${t.b.hub.arm}/providers/Stackledger.Billing/${path}`;
  const call = (method: string, path: string, token: string, body?: unknown) =>
    t.call(method, `${billing(path)}${path.includes('?') ? '&' : '?'}${V}`, { token, body });
  const advanceTo = (to: string) => advanceClockTo(t, csp, to);
  const usage = (subject: string, time: string, quantity: string) =>
    postUsageEvents(t, csp, [{ subject, meterId: BASE, quantity, time, resourceUri: '/vm1' }], 'urn:test:drafts');
  /** The partner's March invoice of a customer, as the partner's list shows it. */
  const marchOf = async (customerId: string) => {
    const res = await call('GET', `invoices?period=2026-03&customerId=${customerId}`, csp);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.value.filter((i: { properties: { kind: string } }) => i.properties.kind === 'invoice');
  };
  const detail = async (name: string, token = csp) => {
    const res = await call('GET', `invoices/${name}`, token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { name: string; properties: Record<string, unknown> & { lines: Line[] } };
  };
  const withHub = <T>(work: (c: pg.Client) => Promise<T>) => withHubDatabase(t, work);

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-03-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    cspPc = await t.appToken('csp', t.b.hub.partnerCenter);
    a = await customerWithSubscription(t, 'draft-a');
    b = await customerWithSubscription(t, 'draft-b');
    for (const [target, body] of [
      [a.customerId, { gracePeriodDays: 3 }],
      [b.customerId, { gracePeriodDays: 3 }],
      ['default', { level: 'provider', gracePeriodDays: 2 }],
    ] as const)
      assert.equal((await call('PUT', `billingProfiles/${target}`, csp, body)).status, 200);
    aAdmin = await t.userToken(a.customerId, a.admin.userName, a.admin.password, t.b.hub.arm);
    const second = await secondPartner(t, 'draftother');
    other = await second.token(t.b.hub.arm);
    // Another partner's customer bills from the 15th: its open period keeps mid-March open for usage.
    const late = await customerWithSubscription(t, 'draft-late', await second.token(t.b.hub.partnerCenter));
    assert.equal((await call('PUT', `billingProfiles/${late.customerId}`, other, { billingDay: 15 })).status, 200);
    await advanceTo('2026-03-10T00:00:00Z');
    await usage(a.subscriptionId, '2026-03-05', '100');
    await usage(b.subscriptionId, '2026-03-06', '50');
  });
  after(async () => t?.stop());

  it('refuses a grace period out of range, changing nothing', async () => {
    for (const days of [-1, 28, 1.5]) {
      const res = await call('PUT', `billingProfiles/${a.customerId}`, csp, { gracePeriodDays: days });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(['InvalidGracePeriod', 'InvalidRequestContent'].includes(res.body.error.code), res.body.error.code);
    }
  });

  it('keeps the grace period: a record for the last hour of March arriving a day late lands on the draft; the job finalizes one, approval another; nothing changes after', async () => {
    await advanceTo('2026-04-01T01:00:00Z');
    const [draftA] = await marchOf(a.customerId);
    const [draftB] = await marchOf(b.customerId);
    for (const d of [draftA, draftB]) {
      assert.equal(d.properties.status, 'Draft');
      assert.equal(d.properties.invoiceNumber, null);
      assert.match(d.name, /^DRAFT-/);
    }
    // The buyer sees no draft: not in its list, not by name, and cannot finalize it.
    const mine = await call('GET', 'invoices?period=2026-03', aAdmin);
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.value, []);
    assert.equal((await call('GET', `invoices/${draftA.name}`, aAdmin)).status, 404);
    for (const token of [aAdmin, other]) {
      const res = await call('POST', `invoices/${draftA.name}/finalize`, token);
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'InvoiceNotFound');
    }
    // The provider's invoice to the partner is a draft too: its administrators see it, the partner center does not.
    const provider = await call('GET', 'invoices?stream=partner&period=2026-03', csp);
    assert.equal(provider.status, 200, JSON.stringify(provider.body));
    assert.deepEqual(
      provider.body.value.map((i: { properties: { status: string } }) => i.properties.status),
      ['Draft', 'Draft'],
      'one per partner',
    );
    const pcList = await t.call('GET', `${t.b.hub.partnerCenter}/v1/invoices`, { token: cspPc });
    assert.equal(pcList.status, 200);
    assert.equal(pcList.body.totalCount ?? pcList.body.items.length, 0);
    assert.equal(
      (await t.call('GET', `${t.b.hub.partnerCenter}/v1/invoices/${provider.body.value[0].name}`, { token: cspPc }))
        .status,
      404,
    );
    // A partner, even as the customer's seller elsewhere, sees none of them.
    assert.deepEqual((await call('GET', 'invoices?period=2026-03', other)).body.value, []);

    // No invoice.finalized event for a draft: it fires at finalization.
    const finalizedEvents = () =>
      withHub(async (c) => {
        const { rows } = await c.query(
          `select data->>'invoiceNumber' as number from notification_events where type = 'invoice.finalized' and customer_id = any($1::uuid[]) order by 1`,
          [[a.customerId, b.customerId]],
        );
        return rows.map((r) => r.number);
      });
    assert.deepEqual(await finalizedEvents(), []);
    // The drafts' events are the sellers': the partner's reach the partner, never its customer.
    await withHub(async (c) => {
      const { rows } = await c.query(
        `select data->>'invoiceName' as name, partner_id::text as partner, customer_id from notification_events
         where type = 'invoice.draft_created' and data->>'customerId' = $1`,
        [a.customerId],
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0].name, draftA.name);
      assert.equal(rows[0].customer_id, null);
      assert.ok(rows[0].partner);
    });

    // A day late, the last hour of March arrives: it is March's, so it lands on the draft; so
    // does a credit given during the grace period (a credit note needs a finalized invoice).
    await advanceTo('2026-04-02T00:00:00Z');
    await usage(a.subscriptionId, '2026-03-31T23:00:00Z', '7');
    const credit = {
      customerId: a.customerId,
      kind: 'credit',
      amount: '-1.00',
      description: 'goodwill',
      reason: 'outage',
    };
    const onDraft = await call('POST', 'adjustments', csp, { ...credit, creditNoteFor: draftA.name });
    assert.equal(onDraft.status, 404, JSON.stringify(onDraft.body));
    assert.equal((await call('POST', 'adjustments', csp, credit)).status, 201);
    const rerated = await detail(draftA.name);
    assert.equal(rerated.properties.status, 'Draft');
    assert.deepEqual(
      rerated.properties.lines.map((l) => [l.lineType, l.usageDate, l.quantity === null ? null : Number(l.quantity)]),
      [
        ['usage', '2026-03-05', 107],
        ['credit', '2026-04-02', null],
      ],
      'one usage line over the period, the late hour included, and the credit',
    );
    assert.notEqual(rerated.properties.total, draftA.properties.total);

    // Approval: two at once finalize once and take one number.
    const both = await Promise.all([1, 2].map(() => call('POST', `invoices/${draftB.name}/finalize`, csp)));
    const statuses = both.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 409], JSON.stringify(both.map((r) => r.body)));
    const approved = both.find((r) => r.status === 200)!.body;
    const refused = both.find((r) => r.status === 409)!.body;
    assert.equal(refused.error.code, 'InvoiceNotDraft');
    assert.equal(approved.properties.status, 'Finalized');
    assert.equal(approved.properties.invoiceNumber, 'INV000000001');
    assert.equal(approved.name, 'INV000000001');
    assert.deepEqual(await finalizedEvents(), ['INV000000001'], 'one event, at finalization');
    // Now addressed by its number; the draft name is gone; finalizing again is refused.
    assert.equal((await call('GET', `invoices/${draftB.name}`, csp)).status, 404);
    const again = await call('POST', 'invoices/INV000000001/finalize', csp);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'InvoiceNotDraft');
    // By its draft name too, as the second of the two at once answered: one after the other, a
    // finalization of the draft answers 409 whether it read the draft before the first committed or after.
    const late = await call('POST', `invoices/${draftB.name}/finalize`, csp);
    assert.equal(late.status, 409, JSON.stringify(late.body));
    assert.equal(late.body.error.code, 'InvoiceNotDraft');
    const unknown = await call('POST', 'invoices/DRAFT-nothing/finalize', csp);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'InvoiceNotFound');

    // The grace period ends: the job finalizes A's (with the late hour) and the provider's by itself.
    await advanceTo('2026-04-04T00:00:00Z');
    const [finalA] = await marchOf(a.customerId);
    assert.equal(finalA.properties.status, 'Finalized');
    assert.equal(finalA.properties.invoiceNumber, 'INV000000002');
    assert.equal(finalA.properties.total, rerated.properties.total);
    const provided = await t.call('GET', `${t.b.hub.partnerCenter}/v1/invoices`, { token: cspPc });
    assert.equal(provided.body.items.length, 1);
    assert.match(provided.body.items[0].id, /^G00000000[12]$/, "the provider's two, numbered as they were finalized");
    assert.deepEqual(await finalizedEvents(), ['INV000000001', 'INV000000002']);
    const shownToBuyer = await detail('INV000000002', aAdmin);
    assert.equal(shownToBuyer.properties.total, finalA.properties.total);

    // The provider's drafts, rated again with the late hour, gave back what they had billed and billed it again.
    assert.deepEqual(await keptApartFromRule(t), []);

    // Nothing changes after finalization: not the job, not a statement on the database.
    await advanceTo('2026-04-06T00:00:00Z');
    assert.deepEqual((await detail('INV000000002')).properties.total, finalA.properties.total);
    await withHub(async (c) => {
      await assert.rejects(
        c.query(`update invoices set total = 0 where number = 'INV000000002'`),
        /finalized invoice never changes/,
      );
      await assert.rejects(
        c.query(`delete from invoice_lines where invoice_id = (select id from invoices where number = 'INV000000002')`),
        /finalized invoice never changes/,
      );
      const { rows } = await c.query(
        `select actor_name from activity_log where operation = 'FinalizeInvoice' order by id`,
      );
      assert.deepEqual(
        rows.map((r) => r.actor_name),
        [rows[0].actor_name, ...Array(3).fill('stackledger-billing-job')],
        "B by approval; the provider's two and A's by the job",
      );
    });
  });

  it('voids and regenerates after a re-attribution: the credit note, the new invoice, the links, gapless numbers', async () => {
    // Usage moved from A to B for a day of March (as a re-attribution does): A's invoice is now wrong.
    const moved = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?${V}`, {
      token: csp,
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: [
        [a.subscriptionId, '-40'],
        [b.subscriptionId, '40'],
      ].map(([subject, quantity]) => ({
        specversion: '1.0',
        id: randomUUID(),
        source: 'urn:test:drafts',
        type: 'usage',
        subject,
        time: '2026-03-20T10:00:00Z',
        data: {
          meterId: BASE,
          quantity,
          resourceUri: '/vm1',
          location: 'local',
          reason: 'attributed to the wrong customer',
        },
      })),
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    const before = await detail('INV000000002');

    // Who may not, and bad input: nothing changes.
    for (const token of [aAdmin, other]) {
      const res = await call('POST', 'invoices/INV000000002/void', token, { reason: 'mine' });
      assert.equal(res.status, 404, JSON.stringify(res.body));
    }
    for (const body of [{}, { reason: '' }, { reason: '   ' }]) {
      const res = await call('POST', 'invoices/INV000000002/void', csp, body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(res.body.error.code && res.body.error.message);
    }
    assert.equal((await call('POST', 'invoices/INV000000404/void', csp, { reason: 'x' })).status, 404);
    assert.equal((await detail('INV000000002')).properties.status, 'Finalized');

    const res = await call('POST', 'invoices/INV000000002/void', csp, { reason: 're-attributed usage' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { creditNote, replacement } = res.body;
    assert.equal(res.body.properties.status, 'Voided');
    assert.equal(res.body.properties.voidReason, 're-attributed usage');
    assert.equal(res.body.properties.replacedBy, 'INV000000003');
    assert.equal(creditNote.name, 'CN000000001');
    assert.equal(creditNote.properties.kind, 'creditNote');
    assert.equal(creditNote.properties.creditNoteFor, 'INV000000002');
    assert.equal(Number(creditNote.properties.total), -Number(before.properties.total));
    assert.equal(replacement.name, 'INV000000003');
    assert.equal(replacement.properties.status, 'Finalized');
    assert.equal(replacement.properties.replaces, 'INV000000002');
    assert.equal(replacement.properties.period, '2026-03');

    // The new invoice holds March as it is now: A's 107 less the 40 moved away, and the credit
    // the voided one took.
    const regenerated = await detail('INV000000003', aAdmin);
    const quantities = regenerated.properties.lines.map((l) => [
      l.lineType,
      l.quantity === null ? null : Number(l.quantity),
      l.amount,
    ]);
    assert.deepEqual(
      quantities.map(([type, quantity]) => [type, quantity]),
      [
        ['usage', 67],
        ['credit', null],
      ],
    );
    assert.equal(quantities[1][2], '-1.00');
    assert.ok(Number(regenerated.properties.total) < Number(before.properties.total));
    // The voided invoice itself never changed but for its status.
    const voided = await detail('INV000000002');
    assert.equal(voided.properties.total, before.properties.total);
    assert.deepEqual(voided.properties.lines, before.properties.lines);
    assert.equal(voided.properties.replacedBy, 'INV000000003');

    // Voiding again, or voiding the credit note, is refused.
    for (const name of ['INV000000002', 'CN000000001']) {
      const r = await call('POST', `invoices/${name}/void`, csp, { reason: 'again' });
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'InvoiceNotFinalized');
    }

    // Every step is in the activity log.
    await withHub(async (c) => {
      const { rows } = await c.query(
        `select operation from activity_log where operation in ('VoidInvoice', 'IssueCreditNote', 'RegenerateInvoice') order by id`,
      );
      assert.deepEqual(
        rows.map((r) => r.operation),
        ['VoidInvoice', 'IssueCreditNote', 'RegenerateInvoice'],
      );
      // Numbers are gapless per seller and prefix.
      const numbers = await c.query(
        `select number from invoices where buyer_id = any($1::uuid[]) and seller <> 'provider' order by number`,
        [[a.customerId, b.customerId]],
      );
      assert.deepEqual(
        numbers.rows.map((r) => r.number),
        ['CN000000001', 'INV000000001', 'INV000000002', 'INV000000003'],
      );
    });

    // April bills neither the moved usage nor A's March again: only B's 40 arrives late on B's.
    await advanceTo('2026-05-01T01:00:00Z');
    const april = async (customerId: string) => {
      const list = await call('GET', `invoices?period=2026-04&customerId=${customerId}`, csp);
      return detail(list.body.value[0].name);
    };
    assert.deepEqual((await april(a.customerId)).properties.lines, []);
    assert.deepEqual(
      (await april(b.customerId)).properties.lines.map((l) => [l.lineType, l.usageDate, Number(l.quantity)]),
      [['late usage', '2026-03-20', 40]],
    );
  });
});
