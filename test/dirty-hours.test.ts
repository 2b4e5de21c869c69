// Late reports and the closing of hours are crash-safe: dirty hours leave their list only with the
// re-close that corrects them (one transaction), a late report waits for an hour being closed, and
// an hour both due and dirty (a late report before any closing) is written once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { CLOSING_LOCK } from '../src/stack/metering/store.ts';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody } from './helpers/stack.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const START = Date.parse('2026-07-01T00:00:00Z');
const hourAt = (k: number) => new Date(START + k * 3_600_000).toISOString();

/** A system on the simulated clock at START with the running VM vm1 on its stack, and a client of the stack's database. */
async function systemWithVm(name: string) {
  const t = await startTestSystem({ clock: new Date(START) });
  const customer = await customerWithSubscription(t, name);
  const { user, sub } = await tenantSubscription(t, customer, name);
  const vmId = `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1`;
  const created = await t.call('PUT', `${t.b.stacks.local.tenantArm}${vmId}?api-version=2020-06-01`, {
    token: user,
    body: vmBody('Standard_A2_v2'),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
  await stackDb.connect();
  return { t, stackDb, vmId };
}

const clockAdvance = async (t: TestSystem, body: { duration?: string; to?: string }) =>
  t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
    token: await t.appToken('csp', t.b.hub.arm),
    body,
  });

/** vm1's Base VM Size Hours records, by hour and revision, those not yet delivered marked so. */
const baseRecordsOf = async (stackDb: pg.Client) =>
  (
    await stackDb.query(
      `select to_char(hour at time zone 'UTC', 'HH24') as h, revision, quantity::text as q, delivered_at is not null as sent
       from usage_records where resource_id = (select id from resources where name = 'vm1') and meter_id = $1 order by hour, revision`,
      [BASE],
    )
  ).rows.map((r) => `${r.h} r${r.revision} ${r.q}${r.sent ? '' : ' (outbox)'}`);

/** The fabric's late report that vm1 was in `powerState` from `at`. */
const lateReportOf = async (t: TestSystem, vmId: string, at: string, powerState: string) =>
  t.call(
    'POST',
    `${t.b.stacks.local.adminArm}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Stackledger.System/lateStateReports?api-version=2026-11-01`,
    {
      token: await t.appToken('operator', t.b.stacks.local.adminArm),
      body: { resourceId: vmId, at, powerState },
    },
  );

describe('dirty hours and late reports under failure', () => {
  let t: TestSystem;
  let stackDb: pg.Client;
  let vmId: string;

  const advance = (body: { duration?: string; to?: string }) => clockAdvance(t, body);
  const lateReport = (at: string, powerState: string) => lateReportOf(t, vmId, at, powerState);
  const baseRecords = () => baseRecordsOf(stackDb);
  const dirty = async () =>
    (
      await stackDb.query(
        `select to_char(hour at time zone 'UTC', 'HH24') as h from metering_dirty_hours order by hour`,
      )
    ).rows.map((r) => r.h);

  before(async () => {
    ({ t, stackDb, vmId } = await systemWithVm('dirty'));
    const moved = await advance({ to: hourAt(3) });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
  });
  after(async () => {
    await stackDb?.end();
    await t?.stop();
  });

  it('keeps a correction whose re-close failed mid-way, and writes it on the next run', async () => {
    assert.deepEqual(await baseRecords(), ['00 r1 2.000000000', '01 r1 2.000000000', '02 r1 2.000000000']);
    // The fabric reports that the VM was deallocated half an hour into hour 01: hours 01 and 02 are dirty.
    const report = await lateReport(new Date(START + 90 * 60_000).toISOString(), 'deallocated');
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.equal(report.body.reopenedHours, 2);
    assert.deepEqual(await dirty(), ['01', '02']);

    // A real failure inside the re-close's transaction: the correction of hour 02 cannot be written,
    // after hour 01's was.
    await stackDb.query(
      `create function fail_correction() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$`,
    );
    await stackDb.query(
      `create trigger fail_correction before insert on usage_records for each row when (new.hour = '${hourAt(2)}' and new.revision > 1) execute function fail_correction()`,
    );
    try {
      const failed = await advance({ duration: 'PT1H' });
      assert.equal(failed.status, 500, JSON.stringify(failed.body));
      assert.equal(failed.body.error.code, 'InternalServerError');
      assert.doesNotMatch(JSON.stringify(failed.body), /injected/, 'never the internal message');
    } finally {
      await stackDb.query('drop trigger fail_correction on usage_records');
      await stackDb.query('drop function fail_correction()');
    }
    // Nothing of the re-close is left, hour 01's correction included, and both hours are still dirty.
    assert.deepEqual(await dirty(), ['01', '02']);
    assert.deepEqual(await baseRecords(), ['00 r1 2.000000000', '01 r1 2.000000000', '02 r1 2.000000000']);

    // The next run (the same instant again) writes both corrections, and delivers them.
    const again = await advance({ to: hourAt(4) });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(await dirty(), []);
    assert.deepEqual(await baseRecords(), [
      '00 r1 2.000000000',
      '01 r1 2.000000000',
      '01 r2 -1.000000000',
      '02 r1 2.000000000',
      '02 r2 -2.000000000',
    ]);
    const verify = await t.call(
      'GET',
      `${t.b.hub.arm}/providers/Stackledger.System/usage/verify?api-version=2026-11-01&from=${hourAt(0)}&to=${hourAt(4)}`,
      { token: await t.appToken('csp', t.b.hub.arm) },
    );
    assert.equal(verify.status, 200, JSON.stringify(verify.body));
    assert.equal(verify.body.balanced, true);
  });

  it('makes a late report wait while an hour is being closed', async () => {
    // Stand in for a closing in progress: hold the closing lock from another session.
    const holder = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1)', [CLOSING_LOCK]);
      let answered = false;
      // The VM was in fact deallocated from half an hour into hour 00.
      const pending = lateReport(new Date(START + 30 * 60_000).toISOString(), 'deallocated').then((r) => {
        answered = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(answered, false, 'the report waits for the closing');
      await holder.query('select pg_advisory_unlock($1)', [CLOSING_LOCK]);
      const report = await pending;
      assert.equal(report.status, 200, JSON.stringify(report.body));
      assert.deepEqual(await dirty(), ['00', '01', '02', '03']);
    } finally {
      await holder.end();
    }
    const moved = await advance({ to: hourAt(4) });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    const sums = (
      await stackDb.query(
        `select to_char(hour at time zone 'UTC', 'HH24') as h, sum(quantity)::text as q from usage_records
       where resource_id = (select id from resources where name = 'vm1') and meter_id = $1 group by hour order by hour`,
        [BASE],
      )
    ).rows.map((r) => `${r.h} ${r.q}`);
    assert.deepEqual(sums, ['00 1.000000000', '01 0.000000000', '02 0.000000000']);
  });
});

describe('a late report before any hour has closed', () => {
  let t: TestSystem;
  let stackDb: pg.Client;
  let vmId: string;
  const advance = (to: string) => clockAdvance(t, { to });

  before(async () => {
    ({ t, stackDb, vmId } = await systemWithVm('first'));
  });
  after(async () => {
    await stackDb?.end();
    await t?.stop();
  });

  it('closes an hour that is both due and dirty once', async () => {
    // The first closing fails (no record can be written): no hour is closed, there is no watermark.
    await stackDb.query(
      `create function fail_closing() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$`,
    );
    await stackDb.query(
      'create trigger fail_closing before insert on usage_records for each row execute function fail_closing()',
    );
    try {
      assert.equal((await advance(hourAt(3))).status, 500);
    } finally {
      await stackDb.query('drop trigger fail_closing on usage_records');
      await stackDb.query('drop function fail_closing()');
    }
    assert.equal((await stackDb.query('select 1 from metering_watermark')).rows.length, 0);
    // The VM was deallocated half an hour into hour 01: without a watermark, the hours up to now are dirty.
    const report = await lateReportOf(t, vmId, new Date(START + 90 * 60_000).toISOString(), 'deallocated');
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.equal(report.body.reopenedHours, 2);
    // The first closing that succeeds: hours 01 and 02 are due and dirty, and each is written once.
    assert.equal((await advance(hourAt(4))).status, 200);
    // Written once each, and delivered.
    assert.deepEqual(await baseRecordsOf(stackDb), ['00 r1 2.000000000', '01 r1 1.000000000']);
    assert.equal((await stackDb.query('select 1 from metering_dirty_hours')).rows.length, 0);
  });
});
