// Incremental rating: the daily aggregates follow every attribution in its own transaction, and a
// close bills (aggregate − already billed) per key, so it stays exact whatever order attributions
// commit in, with no id watermark and no table lock.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { postUsageEvents } from './helpers/usage-events.ts';
import { advanceClockTo, startTestSystem, type TestSystem, withHubDatabase } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const V = 'api-version=2026-11-01';

describe('incremental rating over daily aggregates', () => {
  let t: TestSystem;
  let csp: string;
  let a: CustomerWithSubscription;
  const advanceTo = (to: string) => advanceClockTo(t, csp, to);
  const events = (subject: string, list: { day: string; quantity: string; resource: string }[]) =>
    postUsageEvents(
      t,
      csp,
      list.map((e) => ({ subject, meterId: BASE, quantity: e.quantity, time: e.day, resourceUri: e.resource })),
      'urn:test:incremental',
    );
  /** A connection of its own to the hub's database, closed after `work`. */
  const withHub = <T>(work: (c: pg.Client) => Promise<T>) => withHubDatabase(t, work);

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-03-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    a = await customerWithSubscription(t, 'incr-a');
    await advanceTo('2026-03-10T00:00:00Z');
  });
  after(async () => t?.stop());

  it('keeps usage_daily equal to the attributions, per subscription, day, meter, resource and location', async () => {
    await events(a.subscriptionId, [
      { day: '2026-03-05', quantity: '10', resource: '/a/vm1' },
      { day: '2026-03-05', quantity: '2.5', resource: '/a/vm1' },
      { day: '2026-03-06', quantity: '7', resource: '/a/vm2' },
    ]);
    await withHub(async (c) => {
      await c.query('select usage_daily_fold()');
      const { rows } = await c.query(`
        select coalesce(d.billed_subscription_id, x.billed_subscription_id)::text as sub, d.quantity::text as daily, x.quantity::text as attributed
        from usage_daily d full join (
          select a.billed_subscription_id, (r.hour at time zone 'UTC')::date as usage_date, r.meter_id, r.resource_uri, r.location, sum(a.quantity) as quantity
          from usage_attributions a join usage_received r on r.id = a.received_id group by 1, 2, 3, 4, 5
        ) x using (billed_subscription_id, usage_date, meter_id, resource_uri, location)
        where d.quantity is distinct from x.quantity`);
      assert.deepEqual(rows, []);
      const mine = await c.query(
        `select usage_date::text as day, resource_uri, quantity::text from usage_daily where billed_subscription_id = $1 order by 1, 2`,
        [a.subscriptionId],
      );
      assert.deepEqual(mine.rows, [
        { day: '2026-03-05', resource_uri: '/a/vm1', quantity: '12.500000000' },
        { day: '2026-03-06', resource_uri: '/a/vm2', quantity: '7.000000000' },
      ]);
    });
  });

  it("pages the partner center's unbilled line items by key: every line once, a bad token refused", async () => {
    // A third line, so that a page of one after the first continues past a key it did not show.
    await events(a.subscriptionId, [{ day: '2026-03-07', quantity: '1', resource: '/a/vm3' }]);
    const pc = await t.appToken('csp', t.b.hub.partnerCenter);
    const url = `${t.b.hub.partnerCenter}/v1/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=usagelineitems&currencycode=USD&period=current`;
    const whole = await t.call('GET', url, { token: pc });
    assert.equal(whole.status, 200, JSON.stringify(whole.body));
    const paged: unknown[] = [];
    let token: string | undefined;
    do {
      const res = await t.call('GET', `${url}&size=1`, {
        token: pc,
        headers: token ? { 'MS-ContinuationToken': token } : {},
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.items.length <= 1);
      paged.push(...res.body.items);
      token = res.body.links?.next?.headers?.[0]?.value;
    } while (token);
    assert.equal(whole.body.items.length, 3);
    assert.deepEqual(paged, whole.body.items);
    for (const bad of [
      'bm90IGpzb24',
      Buffer.from('["x"]').toString('base64url'),
      Buffer.from(JSON.stringify([a.subscriptionId, BASE, '/a', '2026-02-31', 'local', 1])).toString('base64url'),
    ]) {
      const res = await t.call('GET', url, { token: pc, headers: { 'MS-ContinuationToken': bad } });
      assert.equal(res.status, 400, JSON.stringify(res.body));
    }
  });

  it('stays exact while attributions commit out of id order: no loss, no double count, no lock to wait for', async () => {
    /** Receives and attributes one record on `c`, in whatever transaction `c` is in; answers the attribution's id. */
    const attribute = async (c: pg.Client, day: string, quantity: string) => {
      const received = await c.query(
        `insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, location, tags, received_at, batch_id)
         values ('cloudevents:urn:test:held', $1, '/a/vm1', $2, $3, 1, $4, $5, 'local', '{}', '2026-03-10T00:00:00Z', $6) returning id`,
        [randomUUID(), BASE, `${day}T10:00:00Z`, quantity, a.subscriptionId, randomUUID()],
      );
      const attributed = await c.query(
        `insert into usage_attributed (source, hour, received_id, billed_subscription_id, reason, quantity, attributed_at)
         values ('cloudevents:urn:test:held', $4, $1, $2, 'external meter', $3, '2026-03-10T00:00:00Z') returning id`,
        [received.rows[0].id, a.subscriptionId, quantity, `${day}T10:00:00Z`],
      );
      return BigInt(attributed.rows[0].id);
    };
    const baseLines = async (period: string) => {
      const list = await t.call(
        'GET',
        `${t.b.hub.arm}/providers/Stackledger.Billing/invoices?${V}&period=${period}&customerId=${a.customerId}`,
        {
          token: csp,
        },
      );
      assert.equal(list.status, 200, JSON.stringify(list.body));
      assert.equal(list.body.value.length, 1);
      const one = await t.call(
        'GET',
        `${t.b.hub.arm}/providers/Stackledger.Billing/invoices/${list.body.value[0].name}?${V}`,
        {
          token: csp,
        },
      );
      return (one.body.properties.lines as { meterId: string; lineType: string; usageDate: string; quantity: string }[])
        .filter((l) => l.meterId === BASE)
        .map((l) => ({ type: l.lineType, from: l.usageDate, quantity: Number(l.quantity) }));
    };

    await withHub(async (held) => {
      await held.query('begin');
      const early = await attribute(held, '2026-03-07', '3'); // a lower id, still uncommitted...
      const late = await withHub((other) => attribute(other, '2026-03-08', '4')); // ...while a higher one commits
      assert.ok(late > early, 'the committed attribution has the higher id');
      // March closes (the billing job, on the clock) while the lower id is still in flight.
      await advanceTo('2026-04-01T01:00:00Z');
      await held.query('commit');
    });
    assert.deepEqual(await baseLines('2026-03'), [
      { type: 'usage', from: '2026-03-05', quantity: 12.5 + 4 }, // vm1: the 5th and the committed 8th, not the 7th
      { type: 'usage', from: '2026-03-06', quantity: 7 }, // vm2
      { type: 'usage', from: '2026-03-07', quantity: 1 }, // vm3
    ]);
    await advanceTo('2026-05-01T01:00:00Z');
    assert.deepEqual(
      await baseLines('2026-04'),
      [{ type: 'late usage', from: '2026-03-07', quantity: 3 }],
      'the attribution that committed after the close is billed once, on the next invoice',
    );
    await withHub(async (c) => {
      const { rows } = await c.query(
        `select i.stream, sum(l.quantity)::float8 as quantity from invoice_lines l join invoices i on i.id = l.invoice_id
         where l.subscription_id = $1 and l.meter_id = $2 group by i.stream order by 1`,
        [a.subscriptionId, BASE],
      );
      assert.deepEqual(rows, [
        { stream: 'customer', quantity: 27.5 },
        { stream: 'partner', quantity: 27.5 },
      ]);
    });
  });
});
