// The daily aggregates are folded out of ingestion (migration 0530): batches append their keys to
// usage_daily_pending and a fold moves them into usage_daily. Every accepted record must be in
// the aggregates exactly once: with batches sent side by side while folds run, with a fold cut
// mid-way (its connection killed). (That every reader folds first, over HTTP: the unbilled pages of
// incremental-billing.test.ts read events no job has folded.)
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { stackApplicationToken } from './helpers/secrets.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const SYS = 'api-version=2026-11-01';
const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const TENANT = randomUUID();
const SUBSCRIPTION = randomUUID();

interface Sent {
  resourceId: string;
  hour: string;
  quantity: string;
}

describe('the daily aggregates, folded out of ingestion', () => {
  let t: TestSystem;
  let hub: pg.Client;
  let token: string;
  let cloudId: string;

  const connect = async () => {
    const c = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await c.connect();
    return c;
  };
  /** A batch as the bridge sends it: each record its resource, hour and quantity. */
  const send = (records: Sent[]) =>
    t.call('POST', `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports?${SYS}`, {
      token,
      body: {
        cloudId,
        batchId: randomUUID(),
        records: records.map((r) => ({
          resourceId: r.resourceId,
          resourceUri: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${r.resourceId}`,
          meterId: BASE,
          hour: r.hour,
          revision: 1,
          quantity: r.quantity,
          subscriptionId: SUBSCRIPTION,
          tenantId: TENANT,
          location: 'local',
        })),
      },
    });
  const accepted = async (records: Sent[]) => {
    const res = await send(records);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  /** This test's aggregates, per day and resource, as usage_daily holds them (not folded here). */
  const daily = async () =>
    Object.fromEntries(
      (
        await hub.query(
          `select usage_date::text || ' ' || resource_uri as k, quantity::text as q from usage_daily
           where resource_uri like $1 order by 1`,
          [`/subscriptions/${SUBSCRIPTION}/%`],
        )
      ).rows.map((r) => [r.k, r.q]),
    );
  /** What usage_daily must hold for these records: each key once (a duplicate adds nothing), per day and resource. */
  const expected = (records: Sent[]) => {
    const once = new Map(records.map((r) => [`${r.resourceId} ${r.hour}`, r]));
    const sums = new Map<string, number>();
    for (const r of once.values()) {
      const k = `${r.hour.slice(0, 10)} /subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${r.resourceId}`;
      sums.set(k, (sums.get(k) ?? 0) + Number(r.quantity));
    }
    return Object.fromEntries([...sums].sort().map(([k, q]) => [k, q.toFixed(9)]));
  };
  const pending = async () =>
    Number(
      (await hub.query('select coalesce(sum(cardinality(quantities)), 0) as n from usage_daily_pending')).rows[0].n,
    );
  const fold = async (c: pg.Client = hub) => (await c.query('select usage_daily_fold() as n')).rows[0].n;

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-05-10T00:00:00Z') });
    cloudId = t.b.stacks.local.cloudId;
    token = await stackApplicationToken(t);
    hub = await connect();
  });
  after(async () => {
    await hub?.end();
    await t?.stop();
  });

  it('adds every accepted record once, with batches sent side by side while folds run', async () => {
    // 6 batches of 120 records over four days and 20 resources; each batch repeats 40 records of
    // the one before it (duplicates: accepted, added nothing).
    const record = (n: number): Sent => ({
      resourceId: `side-${n % 20}`,
      hour: new Date(Date.UTC(2026, 4, 1) + Math.floor(n / 20) * 3_600_000 * 3).toISOString(),
      quantity: `${(n % 7) + 1}.5`,
    });
    const batches = Array.from({ length: 6 }, (_, b) => Array.from({ length: 120 }, (_, i) => record(b * 80 + i)));
    const folders = await Promise.all([connect(), connect()]);
    let sending = true;
    const folding = folders.map(async (c) => {
      let runs = 0;
      while (sending) {
        await fold(c);
        runs++;
      }
      return runs;
    });
    let runs: number[];
    try {
      await Promise.all(batches.map(accepted));
    } finally {
      sending = false;
      runs = await Promise.all(folding);
      await Promise.all(folders.map((c) => c.end()));
    }
    assert.ok(
      runs.every((n) => n > 0),
      `both folders folded while the batches were sent: ${runs}`,
    );
    await fold();
    assert.equal(await pending(), 0);
    assert.deepEqual(await daily(), expected(batches.flat()));
    // And what the attributions say, key by key (the whole hub, not only this test's keys).
    const { rows } = await hub.query(`
      select count(*)::int as differences from usage_daily d full join (
        select billed_subscription_id, (hour at time zone 'UTC')::date as usage_date, meter_id, resource_uri, location, sum(quantity) as quantity
        from usage_attributions group by 1, 2, 3, 4, 5
      ) x using (billed_subscription_id, usage_date, meter_id, resource_uri, location)
      where d.quantity is distinct from x.quantity`);
    assert.equal(rows[0].differences, 0);
  });

  it('leaves the rows of a fold killed mid-way pending, and the next fold adds them once', async () => {
    const first: Sent[] = [1, 2, 3].map((i) => ({ resourceId: 'cut', hour: `2026-05-05T0${i}:00:00Z`, quantity: '1' }));
    await accepted(first);
    await fold();
    const before = await daily();
    assert.deepEqual(before, { ...before, ...expected(first) });
    const second: Sent[] = [4, 5].map((i) => ({ resourceId: 'cut', hour: `2026-05-05T0${i}:00:00Z`, quantity: '10' }));
    await accepted(second);
    assert.equal(await pending(), 2);

    // A writer holds the aggregate the fold must update, so the fold stops inside its statement
    // (its rows taken from usage_daily_pending, its upsert waiting); then its connection is killed.
    const holder = await connect();
    const folder = await connect();
    try {
      await holder.query('begin');
      await holder.query(`select 1 from usage_daily where resource_uri like '%/cut' for update`);
      const pid = (await folder.query('select pg_backend_pid() as pid')).rows[0].pid;
      const cut = folder.query('select usage_daily_fold()').then(
        () => 'folded',
        (e: Error) => e.message,
      );
      folder.on('error', () => {});
      // waiting for the holder's transaction: inside the upsert, after the delete
      for (let tries = 0; ; tries++) {
        const r = await hub.query(`select wait_event from pg_stat_activity where pid = $1`, [pid]);
        if (r.rows[0]?.wait_event === 'transactionid') break;
        assert.ok(tries < 500, `the fold never waited for the held aggregate: ${JSON.stringify(r.rows)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await hub.query('select pg_terminate_backend($1)', [pid]);
      assert.match(await cut, /terminat/);
      await holder.query('rollback');
    } finally {
      await holder.end();
      await folder.end().catch(() => {});
    }
    assert.equal(await pending(), 2, 'the killed fold took nothing');
    assert.deepEqual(await daily(), before, 'and added nothing');

    // The next fold adds them; one more finds nothing left.
    await fold();
    await fold();
    assert.equal(await pending(), 0);
    assert.deepEqual(await daily(), { ...before, ...expected([...first, ...second]) });
  });
});
