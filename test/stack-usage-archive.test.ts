// The stack's outbox by month: a month the hub has all of is archived to a gzip CSV and its
// partition dropped; a month that is not (open, or with hours to close again) is refused and
// nothing changes; usage queries over an archived month say where it went; only the operator
// archives. The outbox's counters equal a recount after closes and deliveries running at once.
import assert from 'node:assert/strict';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { openDatabase, withDatabase } from '../src/db/database.ts';
import type { StackTables } from '../src/stack/app.ts';
import { recloseDirtyHours } from '../src/stack/metering/service.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody, vmUrl } from './helpers/stack.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const V = 'api-version=2026-11-01';

describe("archiving a stack's delivered months", () => {
  let t: TestSystem;
  let stackDb: pg.Client;
  let customer: CustomerWithSubscription;
  let tenant: { user: string; sub: string };
  let vmId: string;
  let admin: string;

  const operator = () => t.appToken('operator', admin);
  const advance = async (duration: string) => {
    const res = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
      token: await t.appToken('csp', t.b.hub.arm),
      body: { duration },
    });
    assert.ok(res.status < 300, JSON.stringify(res.body));
  };
  const archive = async (before: string, token?: string) =>
    t.call('POST', `${admin}/providers/Stackledger.Metering/archives?${V}`, {
      token: token ?? (await operator()),
      body: { before },
    });
  const lateReport = async (at: string, resourceId = vmId) =>
    t.call(
      'POST',
      `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Stackledger.System/lateStateReports?${V}`,
      { token: await operator(), body: { resourceId, at, powerState: 'deallocated' } },
    );
  const one = async <T>(text: string, params: unknown[] = []): Promise<T> =>
    (await stackDb.query(text, params)).rows[0];
  const state = async () => ({
    partitions: (
      await stackDb.query(
        `select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'usage_records'::regclass order by 1`,
      )
    ).rows.map((r) => r.relname),
    archives: Number((await one<{ n: string }>('select count(*) as n from outbox_archives')).n),
    records: Number((await one<{ n: string }>('select count(*) as n from usage_records')).n),
  });
  const counters = async () =>
    one('select sum(undelivered)::int as undelivered, sum(delivered)::int as delivered from usage_record_counts');
  const recount = async () =>
    one<{ undelivered: number; delivered: number }>(
      'select (count(*) filter (where delivered_at is null))::int as undelivered, (count(*) filter (where delivered_at is not null))::int as delivered from usage_records',
    );

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-05-01T00:00:00Z') });
    admin = t.b.stacks.local.adminArm;
    customer = await customerWithSubscription(t, 'archive');
    tenant = await tenantSubscription(t, customer, 'archive');
    const vm = await t.call('PUT', vmUrl(t, tenant.sub, 'vm1'), { token: tenant.user, body: vmBody('Standard_A2_v2') });
    assert.equal(vm.status, 201, JSON.stringify(vm.body));
    vmId = vm.body.id;
    stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await stackDb.connect();
    await advance('P31DT1H'); // 2026-06-01T01:00: May closed and delivered
  });
  after(async () => {
    await stackDb?.end();
    await t?.stop();
  });

  it('keeps partitions ahead of the clock: the current month and the next two, and a default', async () => {
    const { partitions } = await state();
    for (const p of [
      'usage_records_2026_05',
      'usage_records_2026_06',
      'usage_records_2026_07',
      'usage_records_2026_08',
    ])
      assert.ok(partitions.includes(p), `${p} in ${partitions}`);
    assert.ok(partitions.includes('usage_records_default'));
    assert.equal(Number((await one<{ n: string }>('select count(*) as n from usage_records_default')).n), 0);
  });

  it('refuses anyone but the operator, before reading the body, and changes nothing', async () => {
    const before = await state();
    const csp = await archive('2026-06', await t.appToken('csp', admin));
    assert.equal(csp.status, 403, JSON.stringify(csp.body));
    const tenantOnAdmin = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      admin,
    );
    const asTenant = await archive('2026-06', tenantOnAdmin);
    assert.ok([401, 403].includes(asTenant.status), JSON.stringify(asTenant.body));
    assert.ok(asTenant.body.error.code);
    const bad = await archive('2026-13');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'InvalidParameter');
    assert.deepEqual(await state(), before);
  });

  it('refuses a month with hours to close again, one with a held record, and one not closed, naming the month and why; nothing changes', async () => {
    const report = await lateReport('2026-05-20T10:30:00Z');
    assert.equal(report.status, 200, JSON.stringify(report.body));
    const before = await state();
    const dirty = await archive('2026-06');
    assert.equal(dirty.status, 409, JSON.stringify(dirty.body));
    assert.equal(dirty.body.error.code, 'MonthNotArchivable');
    assert.match(dirty.body.error.message, /2026-05.*closed again/);
    assert.deepEqual(await state(), before);
    // The re-close writes corrections, which the bridge delivers in the same step.
    await advance('PT1H');
    // A record the hub refused, held in the quarantine, keeps its month (set aside here as the bridge does).
    await stackDb.query(
      `insert into usage_quarantine (hour, resource_id, meter_id, revision, state, status, code, message, quarantined_at, refused_at)
       select hour, resource_id, meter_id, revision, 'held', 400, 'InvalidProperty', 'refused', now(), now()
       from usage_records where hour = '2026-05-10T00:00:00Z' limit 1`,
    );
    const held = await archive('2026-06');
    assert.equal(held.status, 409, JSON.stringify(held.body));
    assert.match(held.body.error.message, /2026-05.*1 of its records are held in the bridge's quarantine/);
    await stackDb.query(`delete from usage_quarantine where hour = '2026-05-10T00:00:00Z'`);
    const open = await archive('2026-07');
    assert.equal(open.status, 409);
    assert.match(open.body.error.message, /2026-06.*not all of its hours are closed/);
    const after = await state();
    assert.ok(after.partitions.includes('usage_records_2026_05'), 'May was not archived either');
    assert.equal(after.archives, 0);
  });

  it('archives a delivered month: a gzip CSV of exactly its records, the partition gone, idempotently', async () => {
    const may = await one<{ n: number; undelivered: number }>(
      `select count(*)::int as n, (count(*) filter (where delivered_at is null))::int as undelivered
       from usage_records where hour >= '2026-05-01Z' and hour < '2026-06-01Z'`,
    );
    assert.ok(may.n > 24 * 30, `May has its records: ${may.n}`);
    assert.equal(may.undelivered, 0);
    const june = Number(
      (await one<{ n: string }>(`select count(*) as n from usage_records where hour >= '2026-06-01Z'`)).n,
    );
    const res = await archive('2026-06');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.value.length, 1);
    const a = res.body.value[0];
    assert.equal(a.month, '2026-05');
    assert.equal(a.rows, may.n);
    assert.equal(a.file, path.join(t.dataDir, 'archives', 'local', 'usage-2026-05.csv.gz'));
    const gz = await readFile(a.file);
    assert.equal(createHash('sha256').update(gz).digest('hex'), a.sha256);
    const lines = gunzipSync(gz).toString('utf8').trimEnd().split('\n');
    assert.equal(lines[0].split(',')[0], 'resource_id');
    assert.equal(lines.length - 1, may.n);
    assert.ok(lines.slice(1).every((l) => l.includes(',2026-05-')));
    const after = await state();
    assert.ok(!after.partitions.includes('usage_records_2026_05'));
    assert.equal(after.records, june);
    assert.equal(await one('select month from usage_record_counts where month = $1', ['2026-05-01Z']), undefined);
    assert.deepEqual(await counters(), await recount());
    const again = await archive('2026-06');
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.value, res.body.value);
  });

  it('answers a usage query, a chargeback or a late report over the archived month with where it went', async () => {
    const usage = await t.call(
      'GET',
      `${t.b.stacks.local.tenantArm}/subscriptions/${tenant.sub}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-05-10T00:00:00Z&reportedEndTime=2026-05-11T00:00:00Z`,
      { token: tenant.user },
    );
    assert.equal(usage.status, 410, JSON.stringify(usage.body));
    assert.equal(usage.body.error.code, 'UsageArchived');
    assert.match(usage.body.error.message, /2026-05.*usage-2026-05\.csv\.gz/);
    const chargeback = await t.call(
      'GET',
      `${admin}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Stackledger.Billing/chargeback?${V}&period=2026-05`,
      { token: await operator() },
    );
    assert.equal(chargeback.status, 410, JSON.stringify(chargeback.body));
    assert.equal(chargeback.body.error.code, 'UsageArchived');
    const late = await lateReport('2026-05-25T00:00:00Z');
    assert.equal(late.status, 410, JSON.stringify(late.body));
    assert.equal(late.body.error.code, 'UsageArchived');
    // June is still answered (from after the corrections of May, reported at June's first hours).
    await advance('PT2H'); // 2026-06-01T04:00
    const june = await t.call(
      'GET',
      `${t.b.stacks.local.tenantArm}/subscriptions/${tenant.sub}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-06-01T03:00:00Z&reportedEndTime=2026-06-01T04:00:00Z&aggregationGranularity=Hourly`,
      { token: tenant.user },
    );
    assert.equal(june.status, 200, JSON.stringify(june.body));
    assert.deepEqual(june.body.value, []); // vm1 is deallocated since the late report of 20 May
  });

  it('keeps the outbox counters equal to a recount after closes and deliveries at once', async () => {
    const { db, close } = openDatabase<StackTables>(withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`), 4);
    try {
      // A late report marks a second VM's closed hours dirty; they close again from here while the
      // clock's own step closes hours and the bridge delivers.
      const vm2 = await t.call('PUT', vmUrl(t, tenant.sub, 'vm2'), {
        token: tenant.user,
        body: vmBody('Standard_A2_v2'),
      });
      assert.equal(vm2.status, 201, JSON.stringify(vm2.body));
      await advance('PT3H'); // 2026-06-01T07:00
      const r = await lateReport('2026-06-01T04:30:00Z', vm2.body.id);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.reopenedHours, 3);
      await Promise.all([
        advance('PT12H'),
        ...Array.from({ length: 4 }, () =>
          recloseDirtyHours(db, new Date('2026-06-01T07:00:00Z'), new Date('2026-06-01T07:00:00Z')),
        ),
      ]);
      assert.deepEqual(await counters(), await recount());
      const status = await t.call('GET', `${admin}/providers/Stackledger.System/bridge?${V}`, {
        token: await operator(),
      });
      const now = await recount();
      assert.equal(status.body.outbox, now.undelivered);
      assert.equal(status.body.delivered, now.delivered);
    } finally {
      await close();
    }
  });
});
