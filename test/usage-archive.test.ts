// Monthly partitions and archives of the hub's usage: a month runs through usage and its invoices,
// is archived (its file sums to its invoices, its partitions are gone), and a later usage query over
// it says where the archive is. A month billing is not done with is refused, changing nothing; only
// system administrators archive. The counters equal a recount after concurrent batches.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { StartupError } from '../src/core/errors.ts';
import { archiveFolder } from '../src/system/roles.ts';
import { customerWithSubscription, secondPartner, type CustomerWithSubscription } from './helpers/partner.ts';
import { cli } from './helpers/cli.ts';
import { stackApplicationToken } from './helpers/secrets.ts';
import { postUsageEvents } from './helpers/usage-events.ts';
import { advanceClockTo, startTestSystem, type TestSystem, withHubDatabase } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const V = 'api-version=2026-11-01';
const COMMERCE = 'api-version=2015-06-01-preview';

/** An error in ARM's shape or the partner center's. */
type ErrorBody = { error: { code: string; message: string } } | { code: string; description: string };

describe('usage archive', () => {
  let t: TestSystem;
  let csp: string;
  let a: CustomerWithSubscription;
  const usageApi = (sys: string) => `${t.b.hub.arm}/providers/Stackledger.System/usage/${sys}`;
  const withHub = <T>(work: (c: pg.Client) => Promise<T>) => withHubDatabase(t, work);
  const advanceTo = (to: string) => advanceClockTo(t, csp, to);
  const archive = (before: string, token = csp) =>
    t.call('POST', `${usageApi('archive')}?${V}&before=${before}`, { token });
  /** What the database holds of usage: partitions, rows, daily aggregates, counters, archives. */
  const state = () =>
    withHub(async (c) => ({
      // the aggregates read as every reader reads them: after a fold
      folded: (await c.query('select usage_daily_fold() >= 0 as done')).rows[0].done,
      partitions: (
        await c.query(`select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
                       where i.inhparent in ('usage_received'::regclass, 'usage_attributed'::regclass) order by 1`)
      ).rows.map((r) => r.relname as string),
      rows: (
        await c.query(
          `select (select count(*) from usage_received)::int as received, (select count(*) from usage_attributed)::int as attributed`,
        )
      ).rows[0],
      daily: (await c.query(`select usage_date::text, quantity::text from usage_daily order by 1`)).rows,
      counters: (
        await c.query(
          `select source, month::text, sum(records)::text as records, sum(received)::text as received from usage_counters group by 1, 2 order by 1, 2`,
        )
      ).rows,
      archives: (await c.query(`select to_char(month, 'YYYY-MM') as month from usage_archives`)).rows,
    }));
  const events = (list: { day: string; quantity: string }[]) =>
    postUsageEvents(
      t,
      csp,
      list.map((e) => ({
        subject: a.subscriptionId,
        meterId: BASE,
        quantity: e.quantity,
        time: e.day,
        resourceUri: '/a/vm1',
      })),
      'urn:test:archive',
    );

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-01-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    a = await customerWithSubscription(t, 'archive-a');
    await advanceTo('2026-01-25T00:00:00Z');
    await events([
      { day: '2026-01-05', quantity: '10' },
      { day: '2026-01-06', quantity: '2.5' },
      { day: '2026-01-20', quantity: '4' },
    ]);
  });
  after(async () => t?.stop());

  it('creates partitions ahead (the clock month and the next two) and moves rows out of the default one', async () => {
    const { partitions } = await state();
    for (const m of ['2026_01', '2026_02', '2026_03'])
      for (const table of ['usage_received', 'usage_attributed']) assert.ok(partitions.includes(`${table}_${m}`), m);
    assert.ok(partitions.includes('usage_received_default') && partitions.includes('usage_attributed_default'));
    await withHub(async (c) => {
      // A record of a month without partitions waits in the default ones, then moves with its attribution.
      await c.query(`
        with r as (
          insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, location, tags, received_at, batch_id)
          values ('test:default', 'far', '/far', '${BASE}', '2027-06-03T00:00:00Z', 1, 1, 'local', '{}', now(), gen_random_uuid())
          returning id, source, hour, quantity)
        insert into usage_attributed (source, hour, received_id, billed_subscription_id, reason, quantity, attributed_at)
        select source, hour, id, '${a.subscriptionId}', 'test', quantity, now() from r`);
      const where = async () =>
        (
          await c.query(`select r.tableoid::regclass::text as r, a.tableoid::regclass::text as a
                         from usage_received r join usage_attributed a on a.received_id = r.id where r.source = 'test:default'`)
        ).rows[0];
      assert.deepEqual(await where(), { r: 'usage_received_default', a: 'usage_attributed_default' });
      assert.equal((await c.query(`select usage_create_month('2027-06-01') as made`)).rows[0].made, true);
      assert.equal((await c.query(`select usage_create_month('2027-06-01') as made`)).rows[0].made, false);
      assert.deepEqual(await where(), { r: 'usage_received_2027_06', a: 'usage_attributed_2027_06' });
      // Taken out again, so that the months below hold only the test's usage (this is test data).
      await c.query(`drop table usage_attributed_2027_06; drop table usage_received_2027_06;
                     delete from usage_counters where source = 'test:default'`);
    });
  });

  it('refuses a month whose billing period is not closed, and changes nothing', async () => {
    const was = await state();
    const res = await archive('2026-02');
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'MonthNotArchivable');
    assert.match(res.body.error.message, /2026-01.*not closed/);
    assert.deepEqual(await state(), was);
  });

  it('refuses the partner and a customer admin: only system administrators archive', async () => {
    const partner = await secondPartner(t, 'archive-p');
    const customerAdmin = await t.userToken(a.customerId, a.admin.userName, a.admin.password, t.b.hub.arm);
    const was = await state();
    for (const token of [await partner.token(t.b.hub.arm), customerAdmin]) {
      const res = await archive('2026-02', token);
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'AuthorizationFailed');
      const list = await t.call('GET', `${usageApi('archives')}?${V}`, { token });
      assert.equal(list.status, 403, JSON.stringify(list.body));
    }
    assert.deepEqual(await state(), was);
  });

  it('refuses a month with unbilled usage, archiving no month of the run', async () => {
    await advanceTo('2026-02-02T00:00:00Z'); // January closes
    await events([{ day: '2026-02-01', quantity: '3' }]);
    const was = await state();
    const res = await archive('2026-03');
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'MonthNotArchivable');
    assert.match(res.body.error.message, /2026-02/);
    assert.deepEqual(await state(), was);
    for (const bad of ['2026-13', 'x', '']) assert.equal((await archive(bad)).status, 400);
  });

  it('archives a closed, invoiced month: its file sums to its invoices, its partitions are gone', async () => {
    // Two runs at once: one archives January, the other finds nothing left to do.
    const both = await Promise.all([archive('2026-02'), archive('2026-02')]);
    for (const r of both) assert.equal(r.status, 200, JSON.stringify(r.body));
    const [res, twin] = both[0].body.value.length > 0 ? both : [both[1], both[0]];
    assert.deepEqual(twin.body.value, []);
    assert.equal(res.body.value.length, 1);
    const [archived] = res.body.value;
    assert.equal(archived.month, '2026-01');
    assert.equal(archived.name, 'usage-2026-01.csv.gz');
    assert.equal(archived.file, path.join(t.dataDir, 'archives', 'hub', 'usage-2026-01.csv.gz'));
    assert.equal(archived.records, 3);
    assert.equal(archived.attributions, 3);
    assert.equal(
      createHash('sha256')
        .update(await readFile(archived.file))
        .digest('hex'),
      archived.sha256,
    );

    await withHub(async (c) => {
      // The file, read back by PostgreSQL itself: its attributed quantity is what January's invoices billed.
      await c.query(`create temp table archived (record_id text, source text, cloud_id text, registration_id text, resource_id text,
        resource_uri text, meter_id uuid, hour timestamptz, revision int, record_quantity numeric, stack_subscription_id text, tenant_id text,
        location text, tags jsonb, received_at timestamptz, batch_id text, attribution_id text, billed_subscription_id uuid, link_id text,
        reason text, quantity numeric, attributed_at timestamptz, reattribution_id text)`);
      await pipeline(
        createReadStream(archived.file),
        createGunzip(),
        c.query(copyFrom('copy archived from stdin with (format csv, header)')),
      );
      const file = (
        await c.query(
          `select count(*)::int as n, sum(quantity)::text as q, min(hour) as first, max(hour) as last from archived
                       where billed_subscription_id = $1 and meter_id = $2`,
          [a.subscriptionId, BASE],
        )
      ).rows[0];
      assert.equal(file.n, 3);
      assert.equal(Number(file.q), 16.5);
      assert.equal(archived.quantities[BASE], file.q);
      assert.ok(file.first >= new Date('2026-01-01T00:00:00Z') && file.last < new Date('2026-02-01T00:00:00Z'));
      const invoiced = (
        await c.query(
          `select i.stream, sum(l.quantity)::text as q from invoice_lines l join invoices i on i.id = l.invoice_id
                       where i.period = '2026-01' and l.line_type in ('usage', 'late usage') and l.subscription_id = $1 and l.meter_id = $2
                       group by i.stream order by 1`,
          [a.subscriptionId, BASE],
        )
      ).rows;
      assert.deepEqual(
        invoiced.map((r) => [r.stream, Number(r.q)]),
        [
          ['customer', 16.5],
          ['partner', 16.5],
        ],
      );
    });

    const now = await state();
    assert.ok(!now.partitions.some((p) => p.endsWith('_2026_01')), now.partitions.join());
    assert.ok(now.partitions.includes('usage_received_2026_02'));
    assert.ok(!now.daily.some((d) => d.usage_date.startsWith('2026-01')));
    assert.ok(!now.counters.some((d) => d.month.startsWith('2026-01')));
    assert.deepEqual(now.archives, [{ month: '2026-01' }]);

    // Again: nothing more to do.
    const again = await archive('2026-02');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(again.body.value, []);
    assert.deepEqual(await state(), now);
    const list = await t.call('GET', `${usageApi('archives')}?${V}`, { token: csp });
    assert.deepEqual(list.body.value, [archived]);
  });

  it('answers a later usage query over the archived month with where its archive is', async () => {
    const aggregates = `${t.b.hub.arm}/subscriptions/${a.subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?${COMMERCE}&reportedStartTime=2026-01-01T00:00:00Z&reportedEndTime=2026-02-01T00:00:00Z&aggregationGranularity=Daily`;
    const tenant = await t.userToken(a.customerId, a.admin.userName, a.admin.password, t.b.hub.arm);
    const asTenant = await t.call('GET', aggregates, { token: tenant });
    assert.equal(asTenant.status, 410, JSON.stringify(asTenant.body));
    assert.equal(asTenant.body.error.code, 'UsageArchived');
    assert.match(asTenant.body.error.message, /2026-01.*usage-2026-01\.csv\.gz/);
    assert.ok(!asTenant.body.error.message.includes(t.dataDir), 'a tenant is not told server paths');
    const asOperator = await t.call('GET', aggregates, { token: csp });
    assert.equal(asOperator.status, 410);
    assert.ok(asOperator.body.error.message.includes(path.join(t.dataDir, 'archives', 'hub', 'usage-2026-01.csv.gz')));
    // The route's look-ups run at once, but a request wrong in two ways is told what it was told
    // when they ran one after another: an archived range before a bad token, and a missing
    // subscription (404) before the caller's rights on it.
    const withBadToken = await t.call('GET', `${aggregates}&continuationToken=not-a-token`, { token: tenant });
    assert.equal(withBadToken.status, 410, JSON.stringify(withBadToken.body));
    assert.equal(withBadToken.body.error.code, 'UsageArchived');
    const missing = await t.call('GET', aggregates.replace(a.subscriptionId, randomUUID()), { token: tenant });
    assert.equal(missing.status, 404, JSON.stringify(missing.body));
    assert.equal(missing.body.error.code, 'SubscriptionNotFound');
    const verify = await t.call('GET', `${usageApi('verify')}?${V}&from=2026-01-15T00:00:00Z&to=2026-02-15T00:00:00Z`, {
      token: csp,
    });
    assert.equal(verify.status, 410, JSON.stringify(verify.body));
    assert.match(verify.body.error.message, /usage-2026-01\.csv\.gz/);
    // After the archived month, usage is answered as before.
    const february = await t.call(
      'GET',
      `${usageApi('verify')}?${V}&from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z`,
      {
        token: csp,
      },
    );
    assert.equal(february.status, 200, JSON.stringify(february.body));
    assert.equal(february.body.received, '3.000000000');
  });

  it("answers every other read of the archived month's usage the same 410, and a range after it as before", async () => {
    /** A 410 UsageArchived naming January's archive, in either API's error shape; its path only when `pathShown`. */
    const assertArchived = (res: { status: number; body: ErrorBody }, pathShown: boolean) => {
      assert.equal(res.status, 410, JSON.stringify(res.body));
      const error = 'error' in res.body ? res.body.error : res.body;
      assert.equal(error.code, 'UsageArchived');
      const message = 'message' in error ? error.message : error.description;
      assert.match(message, /2026-01.*usage-2026-01\.csv\.gz/);
      assert.equal(message.includes(t.dataDir), pathShown, message);
    };
    const pc = t.b.hub.partnerCenter;
    const utilizations = (from: string, to: string) =>
      `${pc}/v1/customers/${a.customerId}/subscriptions/${a.subscriptionId}/utilizations/azure?start_time=${from}&end_time=${to}`;
    const seller = await t.appToken('csp', pc);
    // The partner center's utilization records, by usage time, over the end of January.
    assertArchived(
      await t.call('GET', utilizations('2026-01-20T00:00:00Z', '2026-02-02T00:00:00Z'), { token: seller }),
      true,
    );
    // Another partner is still told nothing about a subscription it did not sell.
    const other = await secondPartner(t, 'archive-q');
    const foreign = await t.call('GET', utilizations('2026-01-20T00:00:00Z', '2026-02-02T00:00:00Z'), {
      token: await other.token(pc),
    });
    assert.equal(foreign.status, 404, JSON.stringify(foreign.body));
    const february = await t.call('GET', utilizations('2026-02-01T00:00:00Z', '2026-02-02T00:00:00Z'), {
      token: seller,
    });
    assert.equal(february.status, 200, JSON.stringify(february.body));
    assert.equal(
      february.body.items.reduce((sum: number, u: { quantity: number }) => sum + u.quantity, 0),
      3,
    );

    // A deployment's summary of what the hub received (the bridge's reconciliation): not an empty one.
    const summary = (from: string, to: string) =>
      `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports/summary?${V}&cloudId=${t.b.stacks.local.cloudId}&from=${from}&to=${to}`;
    const deployment = await stackApplicationToken(t, t.b.hub.arm);
    assertArchived(
      await t.call('GET', summary('2026-01-31T00:00:00Z', '2026-02-01T01:00:00Z'), { token: deployment }),
      false,
    );
    assertArchived(await t.call('GET', summary('2026-01-31T00:00:00Z', '2026-02-01T01:00:00Z'), { token: csp }), true);
    const after = await t.call('GET', summary('2026-02-01T00:00:00Z', '2026-02-02T00:00:00Z'), { token: deployment });
    assert.equal(after.status, 200, JSON.stringify(after.body));
  });

  it('keeps counters equal to a recount after concurrent batches; the whole ledger reads them', async () => {
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        events([
          { day: '2026-02-01', quantity: `${i + 1}` },
          { day: '2026-02-01T05:00:00Z', quantity: '0.5' },
        ]),
      ),
    );
    await withHub(async (c) => {
      const counters = (
        await c.query(
          `select source, month::text, sum(records)::int as records, sum(received)::text as received, sum(attributed)::text as attributed
           from usage_counters group by 1, 2 order by 1, 2`,
        )
      ).rows;
      const recount = (
        await c.query(`with r as (
                         select source, date_trunc('month', hour at time zone 'UTC')::date::text as month, count(*)::int as records,
                                sum(quantity) as received from usage_received group by 1, 2
                       ), a as (
                         select source, date_trunc('month', hour at time zone 'UTC')::date::text as month, sum(quantity) as attributed
                         from usage_attributions group by 1, 2
                       )
                       select r.source, r.month, r.records, r.received::text, a.attributed::text
                       from r full join a using (source, month) order by 1, 2`)
      ).rows;
      assert.deepEqual(counters, recount);
      assert.equal(recount[0].records, 13);
    });
    // The partition job sums each source's and month's rows into one, totals unchanged.
    await advanceTo('2026-02-02T01:00:00Z');
    await withHub(async (c) => {
      const rows = (await c.query(`select count(*)::int as n from usage_counters group by source, month`)).rows;
      assert.ok(
        rows.every((r) => r.n === 1),
        JSON.stringify(rows),
      );
    });
    const whole = await t.call('GET', `${usageApi('verify')}?${V}`, { token: csp });
    assert.equal(whole.status, 200, JSON.stringify(whole.body));
    assert.equal(whole.body.records, 13);
    assert.equal(whole.body.balanced, true);
    assert.deepEqual(whole.body.archived, ['2026-01']);
  });

  it('lists and runs archives from the command line', async () => {
    const run = async (...args: string[]) => {
      const r = await cli([...args, '--data', t.dataDir, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    assert.deepEqual(
      (await run('usage', 'archives')).value.map((a: { month: string; name: string }) => [a.month, a.name]),
      [['2026-01', 'usage-2026-01.csv.gz']],
    );
    assert.deepEqual((await run('usage', 'archive', '--before', '2026-02')).value, []);
    const ledger = await run('usage', 'verify');
    assert.equal(ledger.balanced, true);
    assert.deepEqual(ledger.archived, ['2026-01']);
    const refused = await cli(['usage', 'archive', '--before', '2026-03', '--data', t.dataDir]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr + refused.stdout, /MonthNotArchivable|2026-02/);
  });

  it("finds an archive written to the folder of before by the path stored with it; no stack takes the hub's folder", async () => {
    // As a hub before archives/hub wrote it: the file in the data folder's `archive/`, its row naming it there.
    const [current] = (await t.call('GET', `${usageApi('archives')}?${V}`, { token: csp })).body.value;
    const old = path.join(t.dataDir, 'archive', 'usage-2026-01.csv.gz');
    await mkdir(path.dirname(old), { recursive: true });
    await rename(current.file, old);
    await withHub((c) => c.query(`update usage_archives set file = $1 where month = '2026-01-01'`, [old]));
    try {
      const [listed] = (await t.call('GET', `${usageApi('archives')}?${V}`, { token: csp })).body.value;
      assert.equal(listed.file, old);
      assert.equal(
        createHash('sha256')
          .update(await readFile(listed.file))
          .digest('hex'),
        current.sha256,
      );
      const verify = await t.call(
        'GET',
        `${usageApi('verify')}?${V}&from=2026-01-15T00:00:00Z&to=2026-02-15T00:00:00Z`,
        {
          token: csp,
        },
      );
      assert.equal(verify.status, 410, JSON.stringify(verify.body));
      assert.ok(verify.body.error.message.includes(old), verify.body.error.message);
    } finally {
      await rename(old, current.file);
      await withHub((c) => c.query(`update usage_archives set file = $1 where month = '2026-01-01'`, [current.file]));
    }
    for (const stack of ['hub', '..', 'a/b'])
      assert.throws(() => archiveFolder(t.dataDir, { stack }), StartupError, stack);
    assert.equal(archiveFolder(t.dataDir, { stack: 'local' }), path.join(t.dataDir, 'archives', 'local'));
  });

  it("refuses a deployment's records of an archived month, naming each, and stores nothing of the batch", async () => {
    const record = (hour: string) => ({
      resourceId: `late-${hour}`,
      resourceUri: `/subscriptions/${a.subscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/late`,
      meterId: BASE,
      hour,
      revision: 1,
      quantity: '1',
      subscriptionId: a.subscriptionId,
      tenantId: a.customerId,
      location: 'local',
    });
    const was = await state();
    const res = await t.call('POST', `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports?${V}`, {
      token: await stackApplicationToken(t, t.b.hub.arm),
      body: {
        cloudId: t.b.stacks.local.cloudId,
        batchId: randomUUID(),
        records: [record('2026-02-01T03:00:00Z'), record('2026-01-31T23:00:00Z')],
      },
    });
    assert.equal(res.status, 410, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'UsageArchived');
    assert.deepEqual(
      res.body.error.details.map((d: { target: string }) => d.target),
      ['records[1]'],
    );
    assert.deepEqual(await state(), was);
  });

  it('refuses a closed month that late usage reached after its close, naming the day it has not billed', async () => {
    await advanceTo('2026-03-02T00:00:00Z'); // February closes
    const late = await t.call('POST', `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports?${V}`, {
      token: await stackApplicationToken(t, t.b.hub.arm),
      body: {
        cloudId: t.b.stacks.local.cloudId,
        batchId: randomUUID(),
        records: [
          {
            resourceId: 'late-feb',
            resourceUri: `/subscriptions/${a.subscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/late`,
            meterId: BASE,
            hour: '2026-02-15T03:00:00Z',
            revision: 1,
            quantity: '2',
            subscriptionId: a.subscriptionId,
            tenantId: a.customerId,
            location: 'local',
          },
        ],
      },
    });
    assert.equal(late.status, 200, JSON.stringify(late.body));
    const was = await state();
    const res = await archive('2026-03');
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'MonthNotArchivable');
    assert.match(res.body.error.message, /usage of 2026-02-15 is not billed to (partner|customer) /);
    assert.deepEqual(await state(), was);
  });

  it("refuses a reported-time page that reaches an archived month's records received after it", async () => {
    await advanceTo('2026-04-02T00:00:00Z'); // March closes, billing February's late record
    const res = await archive('2026-03');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [february] = res.body.value;
    assert.equal(february.month, '2026-02');
    // Its last record came on 2026-03-02, after its month.
    assert.equal(february.lastReportedAt, '2026-03-02T00:00:00.000Z');
    assert.ok(february.firstReportedAt < '2026-03-01', february.firstReportedAt);
    const tenant = await t.userToken(a.customerId, a.admin.userName, a.admin.password, t.b.hub.arm);
    const reported = (from: string, to: string) =>
      t.call(
        'GET',
        `${t.b.hub.arm}/subscriptions/${a.subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?${COMMERCE}&reportedStartTime=${from}&reportedEndTime=${to}&aggregationGranularity=Daily`,
        { token: tenant },
      );
    // March by reported time held February's late record: answered without it, it would read as no usage.
    const march = await reported('2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z');
    assert.equal(march.status, 410, JSON.stringify(march.body));
    assert.equal(march.body.error.code, 'UsageArchived');
    assert.match(march.body.error.message, /2026-02.*usage-2026-02\.csv\.gz/);
    const later = await reported('2026-03-03T00:00:00Z', '2026-04-02T00:00:00Z');
    assert.equal(later.status, 200, JSON.stringify(later.body));
  });

  it('refuses a batch of a month archived while the batch waited, storing none of it, and archives the month', async () => {
    /** Waits until `n` sessions wait for a lock that `matching` names (pg_stat_activity, seen from a connection of its own). */
    const waiting = (n: number) =>
      withHub(async (c) => {
        for (let i = 0; i < 400; i++) {
          const r = await c.query(
            `select count(*)::int as n, string_agg(left(query, 60), ' | ') as q from pg_stat_activity where wait_event_type = 'Lock'`,
          );
          if (r.rows[0].n >= n) return r.rows[0].q as string;
          await new Promise((done) => setTimeout(done, 50));
        }
        throw new Error(`fewer than ${n} sessions waited for a lock`);
      });
    const batch = {
      cloudId: t.b.stacks.local.cloudId,
      batchId: randomUUID(),
      records: [
        {
          resourceId: 'in-flight',
          resourceUri: `/subscriptions/${a.subscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/in-flight`,
          meterId: BASE,
          hour: '2026-03-20T03:00:00Z',
          revision: 1,
          quantity: '1',
          subscriptionId: a.subscriptionId,
          tenantId: a.customerId,
          location: 'local',
        },
      ],
    };
    const deployment = await stackApplicationToken(t, t.b.hub.arm);
    // The archive of March is held just before it records itself (its month's partitions locked,
    // its file written); a batch of March comes in meanwhile, then the archive goes on.
    const [archived, refused] = await withHub(async (blocker) => {
      await blocker.query('begin');
      await blocker.query('lock table usage_archives in share mode');
      const archiving = archive('2026-04');
      await waiting(1);
      const sending = t.call('POST', `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports?${V}`, {
        token: deployment,
        body: batch,
      });
      await waiting(2);
      await blocker.query('commit');
      return Promise.all([archiving, sending]);
    });
    assert.equal(archived.status, 200, JSON.stringify(archived.body));
    assert.deepEqual(
      archived.body.value.map((m: { month: string }) => m.month),
      ['2026-03'],
    );
    assert.equal(refused.status, 410, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'UsageArchived');
    assert.deepEqual(
      refused.body.error.details.map((d: { target: string }) => d.target),
      ['records[0]'],
    );
    const held = await withHub(
      async (c) =>
        (await c.query(`select count(*)::int as n from usage_received where resource_id = 'in-flight'`)).rows[0].n,
    );
    assert.equal(held, 0);
  });
});
