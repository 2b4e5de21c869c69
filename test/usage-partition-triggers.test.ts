// A deployment's fresh batch is copied straight into its month's partition of usage_received
// (migration 0564: into the parent, PostgreSQL would insert it row by row for its statement
// triggers). Each month's partition carries the parent's statement triggers, and what they keep
// (counters, days received, pending daily keys) counts each record once, whichever table a batch
// went into: its month's partition, or the parent for a batch of two months.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { stackApplicationToken } from './helpers/secrets.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const SYS = 'api-version=2026-11-01';
const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const SUBSCRIPTION = randomUUID();

describe("usage_received's month partitions and their statement triggers", () => {
  let t: TestSystem;
  let hub: pg.Client;
  let token: string;
  let source: string;

  /** The statement triggers after insert of a table (name, function, transition table), sorted. */
  const insertTriggers = async (table: string) =>
    (
      await hub.query(
        `select tgname || ' ' || tgfoid::regproc::text || ' ' || coalesce(tgnewtable, '-') as t from pg_trigger
         where tgrelid = $1::regclass and tgtype = 4 order by 1`,
        [table],
      )
    ).rows.map((r) => r.t as string);
  const monthPartitions = async () =>
    (
      await hub.query(`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
                       where i.inhparent = 'usage_received'::regclass and c.relname ~ '_[0-9]{4}_[0-9]{2}$' order by 1`)
    ).rows.map((r) => r.relname as string);
  /** Sends a batch of one record per hour, as the bridge does. */
  const send = async (resourceId: string, hours: string[]) => {
    const res = await t.call('POST', `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports?${SYS}`, {
      token,
      body: {
        cloudId: t.b.stacks.local.cloudId,
        batchId: randomUUID(),
        records: hours.map((hour) => ({
          resourceId,
          resourceUri: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${resourceId}`,
          meterId: BASE,
          hour,
          revision: 1,
          quantity: '1.5',
          subscriptionId: SUBSCRIPTION,
          tenantId: randomUUID(),
          location: 'local',
        })),
      },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.new, hours.length);
  };
  /** Where a resource's records are, table by table. */
  const tablesOf = async (resourceId: string) =>
    (
      await hub.query(
        `select tableoid::regclass::text as t, count(*)::int as n from usage_received
         where source = $1 and resource_id = $2 group by 1 order by 1`,
        [source, resourceId],
      )
    ).rows;
  /** What the statement triggers keep of the deployment, against a recount of its records. */
  const kept = async () => {
    const { rows } = await hub.query(
      `select
         (select json_agg(x order by month) from (select month::text, sum(records)::int as records, sum(received)::text as received
            from usage_counters where source = $1 group by month) x) as counters,
         (select json_agg(x order by month) from (select date_trunc('month', hour at time zone 'UTC')::date::text as month,
            count(*)::int as records, sum(quantity)::text as received from usage_received where source = $1 group by 1) x) as recount,
         (select coalesce(sum(cardinality(quantities)), 0)::int from usage_daily_pending where source = $1) as pending,
         (select count(*)::int from usage_received where source = $1) as records,
         (select json_agg(x order by day) from (select received_day::text as day, min(min_hour) as min, max(max_hour) as max
            from usage_received_days where source = $1 group by 1) x) as days,
         (select json_agg(x order by day) from (select (received_at at time zone 'UTC')::date::text as day, min(hour) as min,
            max(hour) as max from usage_received where source = $1 group by 1) x) as received_days`,
      [source],
    );
    return rows[0];
  };

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-05-10T00:00:00Z') });
    token = await stackApplicationToken(t);
    source = `deployment:${t.b.stacks.local.cloudId}`;
    hub = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await hub.connect();
  });
  after(async () => {
    await hub?.end();
    await t?.stop();
  });

  it("gives every month's partition the parent's statement triggers, a month made later too", async () => {
    const parent = await insertTriggers('usage_received');
    assert.equal(parent.length, 3, parent.join('; '));
    await hub.query(`select usage_create_month('2027-06-01')`);
    const months = await monthPartitions();
    assert.ok(months.includes('usage_received_2026_05') && months.includes('usage_received_2027_06'), months.join());
    for (const m of months) assert.deepEqual(await insertTriggers(m), parent, m);
    // The default partition takes none: only the parent copies into it.
    assert.deepEqual(await insertTriggers('usage_received_default'), []);
    await hub.query('drop table usage_attributed_2027_06; drop table usage_received_2027_06');
  });

  it("copies a month's batch into its partition and a batch of two months through the parent, each record kept once", async () => {
    await hub.query('select usage_daily_fold()');
    // May has its partition (the clock's month); April has none, so its records wait in the default.
    await send('one-month', ['2026-05-01T00:00:00Z', '2026-05-01T01:00:00Z', '2026-05-02T00:00:00Z']);
    assert.deepEqual(await tablesOf('one-month'), [{ t: 'usage_received_2026_05', n: 3 }]);
    await send('two-months', ['2026-04-30T23:00:00Z', '2026-05-01T00:00:00Z']);
    assert.deepEqual(await tablesOf('two-months'), [
      { t: 'usage_received_2026_05', n: 1 },
      { t: 'usage_received_default', n: 1 },
    ]);
    const state = await kept();
    assert.equal(state.records, 5);
    assert.deepEqual(state.counters, state.recount);
    assert.equal(state.pending, 5);
    assert.deepEqual(state.days, state.received_days);
    // And once more after a fold: each record in the aggregates once.
    await hub.query('select usage_daily_fold()');
    const { rows } = await hub.query(
      `select sum(quantity)::text as q from usage_daily where billed_subscription_id is not null and resource_uri like $1`,
      [`/subscriptions/${SUBSCRIPTION}/%`],
    );
    assert.equal(rows[0].q, '7.500000000');
  });
});
