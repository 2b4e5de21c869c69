// A partner close bills the kept unbilled lines by deleting them (migration 0695). Here a fold
// commits more usage of a key while the close's statement is waiting on that key's row: the close
// must bill the key's newer quantity, once, and leave nothing of it unbilled or billed twice.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { lockCounters, writeInvoices } from '../src/billing/invoice-writes.ts';
import type { BillingTables } from '../src/billing/tables.ts';
import { openDatabase, withDatabase } from '../src/db/database.ts';
import { dailyStore } from '../src/usage/daily-store.ts';
import { customerWithSubscription } from './helpers/partner.ts';
import { postUsageEvents } from './helpers/usage-events.ts';
import { advanceClockTo, startTestSystem, type TestSystem, testServerUrl } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';

describe('a partner close while a fold adds to a key it is billing', () => {
  let t: TestSystem;
  let hub: ReturnType<typeof openDatabase<BillingTables>>;
  let subscriptionId: string;

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-03-01T00:00:00Z') });
    const csp = await t.appToken('csp', t.b.hub.arm);
    subscriptionId = (await customerWithSubscription(t, 'race')).subscriptionId;
    await advanceClockTo(t, csp, '2026-03-10T00:00:00Z');
    await postUsageEvents(
      t,
      csp,
      ['2026-03-02', '2026-03-03', '2026-03-04'].map((day) => ({
        subject: subscriptionId,
        meterId: BASE,
        quantity: '5',
        time: day,
        resourceUri: '/race/vm',
      })),
      'urn:test:race',
    );
    hub = openDatabase<BillingTables>(withDatabase(testServerUrl(), `${t.dbPrefix}_hub`), 4);
  });
  after(async () => {
    await hub?.close();
    await t?.stop();
  });

  it('bills the quantity the fold committed, once, and keeps nothing of the key', async () => {
    const folded = await dailyStore.fold(hub.db);
    const kept = await hub.pool.query<{ partner_id: string }>(
      `select partner_id::text from partner_unbilled_lines where subscription_id = $1 and usage_date = '2026-03-03'`,
      [subscriptionId],
    );
    assert.equal(kept.rows.length, 1, 'the 3rd is kept unbilled');
    const partnerId = kept.rows[0].partner_id;

    // A writer holds 4 more of the 3rd: attributed and folded in its transaction, not committed.
    const writer = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await writer.connect();
    try {
      await writer.query('begin');
      const received = await writer.query(
        `insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, location, tags, received_at, batch_id)
         values ('cloudevents:urn:test:race', $1, '/race/vm', $2, '2026-03-03T11:00:00Z', 1, 4, $3, 'local', '{}', '2026-03-10T00:00:00Z', $4) returning id`,
        [randomUUID(), BASE, subscriptionId, randomUUID()],
      );
      await writer.query(
        `insert into usage_attributed (source, hour, received_id, billed_subscription_id, reason, quantity, attributed_at)
         values ('cloudevents:urn:test:race', '2026-03-03T11:00:00Z', $1, $2, 'external meter', 4, '2026-03-10T00:00:00Z')`,
        [received.rows[0].id, subscriptionId],
      );
      await writer.query('select usage_daily_fold()');

      // The close, folded before the writer's fold (as a billing run folds just before it closes).
      const closing = hub.db.transaction().execute(async (tx) => {
        await lockCounters(tx, ['provider'], 'G');
        return writeInvoices(tx, {
          stream: 'partner',
          period: '2026-03',
          windows: [
            {
              invoiceId: randomUUID(),
              seller: 'provider',
              buyerId: partnerId,
              periodStart: new Date('2026-03-01T00:00:00Z'),
              periodEnd: new Date('2026-04-01T00:00:00Z'),
              taxRate: '0',
            },
          ],
          invoiceDate: new Date('2026-04-01T00:00:00Z'),
          currency: 'USD',
          status: 'finalized',
          write: 'insert',
          folded,
        });
      });
      // Only once the close waits on the writer's row is the writer's fold committed.
      let waiting = false;
      for (let i = 0; i < 200 && !waiting; i++) {
        const w = await hub.pool.query(
          `select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%partner_unbilled_lines%'`,
        );
        waiting = (w.rowCount ?? 0) > 0;
        if (!waiting) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(waiting, 'the close waits on the row the writer holds');
      await writer.query('commit');
      const closed = await closing;
      assert.equal(closed.invoices, 1);
    } finally {
      await writer.end();
    }

    const lines = await hub.pool.query<{ day: string; quantity: string }>(
      `select l.usage_date::text as day, l.quantity::float8::text as quantity from invoice_lines l join invoices i on i.id = l.invoice_id
       where i.stream = 'partner' and l.subscription_id = $1 order by 1`,
      [subscriptionId],
    );
    assert.deepEqual(lines.rows, [
      { day: '2026-03-02', quantity: '5' },
      { day: '2026-03-03', quantity: '9' }, // the 5 posted and the writer's 4, committed while the close waited
      { day: '2026-03-04', quantity: '5' },
    ]);
    // The lines say what the invoice billed: no row of billed_daily repeats them.
    const billed = await hub.pool.query<{ in_lines: boolean; rows: number }>(
      `select bool_and(i.billed_in_lines) as in_lines,
              (select count(*)::int from billed_daily b where b.stream = 'partner' and b.subscription_id = $1) as rows
       from invoices i where i.stream = 'partner' and i.kind = 'invoice'`,
      [subscriptionId],
    );
    assert.deepEqual(billed.rows[0], { in_lines: true, rows: 0 });
    const left = await hub.pool.query(`select 1 from partner_unbilled_lines where subscription_id = $1`, [
      subscriptionId,
    ]);
    assert.equal(left.rowCount, 0, 'nothing of the subscription is still kept unbilled');
  });
});
