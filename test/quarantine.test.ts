// The pipeline never stops and never loses: a record the hub refuses is set aside in the stack's
// quarantine with the hub's reason while everything else is delivered; the operator retries it
// after a fix (delivered once) or drops it with a reason; a record under a received key with
// another quantity is a conflict, refused and counted; the stack and the hub reconcile per hour.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import Fastify from 'fastify';
import { HttpClient } from '../src/core/http-client.ts';
import { openDatabase, withDatabase } from '../src/db/database.ts';
import { UsageBridge } from '../src/stack/bridge/job.ts';
import { recordIndexOf, verdictOf } from '../src/stack/bridge/refusal.ts';
import { cli } from './helpers/cli.ts';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody, vmUrl } from './helpers/stack.ts';
import { stackApplicationToken } from './helpers/secrets.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';
import type { UndeclaredJson } from '../src/core/http-client.ts';
import type { BridgeTables } from '../src/stack/bridge/tables.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const API = 'api-version=2026-11-01';

describe("the bridge's verdict on the hub's answer", () => {
  it('finds the refused record in the target, in either form, and only inside the batch', () => {
    assert.equal(recordIndexOf('records[3].tags.cost'), 3);
    assert.equal(recordIndexOf('records.12.resourceUri'), 12);
    assert.equal(recordIndexOf('records[7]'), 7);
    assert.equal(recordIndexOf('records'), undefined);
    assert.equal(recordIndexOf('recordsX[1]'), undefined);
    assert.equal(recordIndexOf('cloudId'), undefined);
    const named = verdictOf(
      { status: 400, body: { error: { code: 'InvalidTags', message: 'm', target: 'records[2].tags' } } },
      5,
    );
    assert.equal(named.kind, 'records');
    assert.deepEqual(named.kind === 'records' && [...named.refused.keys()], [2]);
    const outside = verdictOf(
      { status: 400, body: { error: { code: 'X', message: 'm', target: 'records[9].tags' } } },
      5,
    );
    assert.equal(outside.kind, 'split', 'an index beyond the batch names nothing');
  });

  it('stops on refusals of the whole batch, splits what names no record or is too large, retries failures', () => {
    const kind = (status: number, error: object = {}) => verdictOf({ status, body: { error } }, 4).kind;
    assert.equal(kind(200), 'delivered');
    assert.equal(kind(403, { code: 'AuthorizationFailed' }), 'stop');
    assert.equal(kind(404, { code: 'RegistrationNotFound' }), 'stop');
    assert.equal(kind(400, { code: 'InvalidApiVersionParameter' }), 'stop');
    assert.equal(kind(400, { code: 'InvalidRequestContent', target: 'cloudId' }), 'stop');
    assert.equal(kind(413, { code: 'RequestEntityTooLarge' }), 'split');
    assert.equal(kind(400, { code: 'Something' }), 'split');
    assert.equal(kind(409, { code: 'Conflict', target: 'records' }), 'split');
    assert.equal(kind(500), 'retry');
    assert.equal(kind(429), 'retry');
    assert.equal(kind(401, { code: 'ExpiredAuthenticationToken' }), 'retry');
  });
});

describe('quarantine, not blockage; the two sides reconcile', () => {
  let t: TestSystem;
  /** `stackledger usage quarantine <command>` on stack `local`. */
  const quarantineCli = (command: string, more: string[]) =>
    cli(['usage', 'quarantine', command, '--data', t.dataDir, '--stack', 'local', ...more]);
  let csp: string;
  let operator: string;
  let stackDb: pg.Client;
  let hubDb: pg.Client;
  let tenant: { user: string; sub: string; tenantId: string; admin: { userName: string; password: string } };

  const advance = async (duration: string) => {
    const res = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${API}`, {
      token: csp,
      body: { duration },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  const bridge = () => `${t.b.stacks.local.adminArm}/providers/Stackledger.System/bridge`;
  const status = async () => (await t.call('GET', `${bridge()}?${API}`, { token: operator })).body;
  const quarantine = async () => {
    const res = await t.call('GET', `${bridge()}/quarantine?${API}`, { token: operator });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.value as UndeclaredJson[];
  };
  /** A record written behind the API's back, as an old or broken deployment may hold it. */
  const writeRecord = async (hour: string, resourceUri: string) => {
    const resourceId = randomUUID();
    await stackDb.query(
      `insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
       values ($1, $2, $3, 1, 1.25, $4, $5, $6, 'local', '{}', $3::timestamptz + interval '1 hour')`,
      [resourceId, BASE, hour, tenant.sub, tenant.tenantId, resourceUri],
    );
    return resourceId;
  };
  const received = async (resourceId: string) =>
    (
      await hubDb.query(
        `select count(*)::int as n, coalesce(sum(quantity), 0)::text as q from usage_received where resource_id = $1`,
        [resourceId],
      )
    ).rows[0];
  const verify = (...extra: string[]) => cli(['usage', 'verify', '--data', t.dataDir, '--stack', 'local', ...extra]);

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-07-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    operator = await t.appToken('operator', t.b.stacks.local.adminArm);
    const c = await customerWithSubscription(t, 'quarantine');
    const { user, sub } = await tenantSubscription(t, c, 'quarantine');
    tenant = { user, sub, tenantId: c.customerId, admin: c.admin };
    assert.equal(
      (await t.call('PUT', vmUrl(t, sub, 'vm'), { token: user, body: vmBody('Standard_A2_v2') })).status,
      201,
    );
    stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await stackDb.connect();
    hubDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await hubDb.connect();
    await advance('PT3H');
  });
  after(async () => {
    await stackDb?.end();
    await hubDb?.end();
    await t?.stop();
  });

  it('reconciles on its own: the bridge shows the last closed hours balanced, and `usage verify --stack` exits 0', async () => {
    const s = await status();
    assert.equal(s.outbox, 0);
    assert.deepEqual(s.quarantine, { held: 0, dropped: 0 });
    assert.equal(s.reconciliation.balanced, true, JSON.stringify(s.reconciliation));
    // At the first run, then every 6 hours of domain time: the 24 hours closed then. The clock
    // moves a step at a time (PT3H here is one step), and the bridge reconciles at its end.
    assert.equal(s.reconciliation.checkedAt, '2026-07-01T03:00:00.000Z');
    assert.equal(s.reconciliation.to, '2026-07-01T03:00:00.000Z');
    assert.equal(s.reconciliation.from, '2026-06-30T03:00:00.000Z');
    const ok = await verify('--json');
    assert.equal(ok.code, 0, ok.stderr);
    const result = JSON.parse(ok.stdout);
    assert.equal(result.balanced, true);
    assert.deepEqual(result.differences, []);
    const metrics = String((await t.call('GET', `${t.b.stacks.local.adminArm}/metrics`, { token: operator })).body);
    assert.match(metrics, /stackledger_bridge_reconciliation_differences\{stack="local"\} 0/);
    assert.match(metrics, /stackledger_bridge_quarantined_records\{stack="local"\} 0/);
  });

  it('reports a difference made on purpose on the hub, and exits 1 until it is undone', async () => {
    const row = (
      await hubDb.query(`select id from usage_received where meter_id = $1 and hour = '2026-07-01T01:00:00Z'`, [BASE])
    ).rows[0];
    // As someone with the database's keys would: past the triggers that keep records unedited.
    await hubDb.query('set session_replication_role = replica');
    await hubDb.query(`update usage_received set quantity = quantity + 0.5 where id = $1`, [row.id]);
    try {
      const bad = await verify('--from', '2026-07-01T00:00:00Z', '--to', '2026-07-01T03:00:00Z');
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(bad.stdout, /1 DIFFERENCES/);
      assert.match(
        bad.stdout,
        /2026-07-01T01:00:00Z Base VM Size Hours: stack delivered 1 records, 2; hub received 1 records, 2\.5/,
      );
    } finally {
      await hubDb.query(`update usage_received set quantity = quantity - 0.5 where id = $1`, [row.id]);
      await hubDb.query('reset session_replication_role');
    }
    const good = await verify('--from', '2026-07-01T00:00:00Z', '--to', '2026-07-01T03:00:00Z');
    assert.equal(good.code, 0, good.stdout);
    // The range is checked, and only the operator reconciles.
    const odd = await t.call(
      'GET',
      `${bridge()}/reconciliation?${API}&from=2026-07-01T00:30:00Z&to=2026-07-01T03:00:00Z`,
      { token: operator },
    );
    assert.equal(odd.status, 400);
    assert.equal(odd.body.error.code, 'InvalidTimeRange');
    const customer = await t.call('GET', `${bridge()}/reconciliation?${API}`, { token: tenant.user });
    assert.ok([401, 403].includes(customer.status), String(customer.status));
  });

  it("sets exactly the refused record aside with the hub's reason, delivers the others, and keeps delivering later hours", async () => {
    const poison = await writeRecord('2026-07-01T03:00:00Z', '');
    await advance('PT1H');
    const s = await status();
    assert.equal(s.lastError, null, s.lastError);
    assert.equal(s.outbox, 0, 'everything else was delivered');
    assert.deepEqual(s.quarantine, { held: 1, dropped: 0 });
    const [entry] = await quarantine();
    assert.equal(entry.resourceId, poison);
    assert.equal(entry.state, 'held');
    assert.equal(entry.refusal.status, 400);
    assert.equal(entry.refusal.code, 'InvalidRequestContent');
    assert.match(entry.refusal.message, /resourceUri/);
    assert.equal((await received(poison)).n, 0);
    // The VM's hour 03 reached the hub, and hour 04 does too.
    await advance('PT1H');
    const { rows } = await stackDb.query(
      `select count(*)::int as n from usage_records where delivered_at is null and resource_id <> $1`,
      [poison],
    );
    assert.equal(rows[0].n, 0);
    const hub = await hubDb.query(
      `select count(*)::int as n from usage_received where meter_id = $1 and hour >= '2026-07-01T03:00:00Z'`,
      [BASE],
    );
    assert.equal(hub.rows[0].n, 2, 'hours 03 and 04 of the VM');
    const metrics = String((await t.call('GET', `${t.b.stacks.local.adminArm}/metrics`, { token: operator })).body);
    assert.match(metrics, /stackledger_bridge_quarantined_records\{stack="local"\} 1/);
    assert.match(metrics, /stackledger_bridge_failing\{stack="local"\} 0/);
    const listed = await quarantineCli('list', []);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /held/);
    assert.match(listed.stdout, /InvalidRequestContent/);
  });

  it('delivers a retried record after its fix exactly once', async () => {
    const [entry] = await quarantine();
    await stackDb.query(`update usage_records set resource_uri = $2 where resource_id = $1`, [
      entry.resourceId,
      `/subscriptions/${tenant.sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/fixed`,
    ]);
    const retried = await quarantineCli('retry', ['--id', String(entry.id), '--json']);
    assert.equal(retried.code, 0, retried.stderr);
    assert.deepEqual(JSON.parse(retried.stdout).retried, [entry.id]);
    // Retried once, it is no longer held: a second retry is refused and changes nothing.
    const again = await t.call('POST', `${bridge()}/quarantine/retry?${API}`, {
      token: operator,
      body: { ids: [entry.id] },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'QuarantinedRecordNotHeld');
    await advance('PT1H');
    await advance('PT1H');
    assert.deepEqual(
      await received(entry.resourceId),
      { n: 1, q: '1.250000000' },
      'on the hub once, with its quantity',
    );
    const [after] = await quarantine();
    assert.equal(after.state, 'released');
    assert.equal(after.retries, 1);
    assert.ok(after.deliveredAt);
    assert.match(after.retriedBy, /application/);
    assert.deepEqual((await status()).quarantine, { held: 0, dropped: 0 });
  });

  it('keeps a dropped record out, and says who dropped it and why', async () => {
    const poison = await writeRecord('2026-07-01T06:00:00Z', '');
    await advance('PT1H');
    const entry = (await quarantine()).find((e) => e.resourceId === poison);
    assert.equal(entry?.state, 'held');
    // A drop needs a reason; a customer may not drop; bad requests change nothing.
    const noReason = await t.call('POST', `${bridge()}/quarantine/drop?${API}`, {
      token: operator,
      body: { ids: [entry.id] },
    });
    assert.equal(noReason.status, 400);
    assert.equal(noReason.body.error.code, 'DropReasonRequired');
    const neither = await t.call('POST', `${bridge()}/quarantine/drop?${API}`, {
      token: operator,
      body: { reason: 'x' },
    });
    assert.equal(neither.body.error.code, 'InvalidQuarantineSelection');
    const unknown = await t.call('POST', `${bridge()}/quarantine/drop?${API}`, {
      token: operator,
      body: { ids: [entry.id, 999999], reason: 'x' },
    });
    assert.equal(unknown.status, 404);
    const byTenant = await t.call('POST', `${bridge()}/quarantine/drop?${API}`, {
      token: tenant.user,
      body: { all: true, reason: 'x' },
    });
    assert.ok([401, 403].includes(byTenant.status));
    assert.equal((await quarantine()).find((e) => e.resourceId === poison).state, 'held');
    const noReasonCli = await quarantineCli('drop', ['--id', String(entry.id)]);
    assert.equal(noReasonCli.code, 1, 'commander refuses a missing --reason');

    const dropped = await quarantineCli('drop', ['--all', '--reason', 'test meter, never billable', '--json']);
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.deepEqual(JSON.parse(dropped.stdout).dropped, [entry.id]);
    await advance('PT1H');
    const after = (await quarantine()).find((e) => e.resourceId === poison);
    assert.equal(after.state, 'dropped');
    assert.equal(after.dropped.reason, 'test meter, never billable');
    assert.match(after.dropped.by, /application .*\(/);
    assert.equal(after.deliveredAt, null);
    assert.equal((await received(poison)).n, 0);
    const { rows } = await stackDb.query(`select count(*)::int as n from usage_records where resource_id = $1`, [
      poison,
    ]);
    assert.equal(rows[0].n, 1, 'the usage record itself stays in the ledger');
    const s = await status();
    assert.deepEqual([s.outbox, s.quarantine.dropped, s.lastError], [0, 1, null]);
  });

  it('refuses a record under a received key with another quantity, counts it, and the stack quarantines it', async () => {
    const key = (
      await stackDb.query(
        `select resource_id::text as r, quantity::text as q from usage_records where hour = '2026-07-01T00:00:00Z' and meter_id = $1`,
        [BASE],
      )
    ).rows[0];
    await stackDb.query(
      `update usage_records set quantity = quantity + 1, delivered_at = null where hour = '2026-07-01T00:00:00Z' and meter_id = $1 and resource_id = $2`,
      [BASE, key.r],
    );
    await advance('PT1H');
    const entry = (await quarantine()).find((e) => e.resourceId === key.r);
    assert.equal(entry?.state, 'held');
    assert.equal(entry.refusal.status, 409);
    assert.equal(entry.refusal.code, 'UsageRecordConflict');
    assert.match(entry.refusal.message, /already received with 2\.000000000/);
    const s = await status();
    assert.deepEqual([s.outbox, s.quarantine.held, s.lastError], [0, 1, null]);
    // The hub kept the first quantity and counted the conflict.
    const hubRows = await hubDb.query(
      `select quantity::text as q from usage_received where resource_id = $1 and hour = '2026-07-01T00:00:00Z' and meter_id = $2`,
      [key.r, BASE],
    );
    assert.deepEqual(hubRows.rows, [{ q: key.q }]);
    const summary = await t.call(
      'GET',
      `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports/summary?${API}&cloudId=${t.b.stacks.local.cloudId}&from=2026-07-01T00:00:00Z&to=2026-07-01T01:00:00Z`,
      { token: csp },
    );
    assert.equal(summary.status, 200, JSON.stringify(summary.body));
    assert.equal(summary.body.conflicts.records, 1);
    assert.deepEqual(
      summary.body.value.find((v: { meterId: unknown }) => v.meterId === BASE),
      { hour: '2026-07-01T00:00:00Z', meterId: BASE, records: 1, quantity: key.q },
    );
    const ledger = await t.call(
      'GET',
      `${t.b.hub.arm}/providers/Stackledger.System/usage/verify?${API}&from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z`,
      { token: csp },
    );
    assert.equal(ledger.body.conflicts.records, 1);
    // The stack's record no longer matches what the hub holds: the reconciliation says so.
    const diff = await verify('--from', '2026-07-01T00:00:00Z', '--to', '2026-07-01T01:00:00Z', '--json');
    assert.equal(diff.code, 1);
    assert.deepEqual(
      JSON.parse(diff.stdout).differences.map(
        (d: { meterId: unknown; stack: { records: unknown }; hub: { records: unknown } }) => [
          d.meterId,
          d.stack.records,
          d.hub.records,
        ],
      ),
      [[BASE, 0, 1]],
    );
    // The bridge finds the same on its own, at its next reconciliation.
    await advance('PT6H');
    const { reconciliation } = await status();
    assert.equal(reconciliation.balanced, false);
    assert.deepEqual(
      reconciliation.differences.map((d: { hour: unknown; meterId: unknown }) => [d.hour, d.meterId]),
      [['2026-07-01T00:00:00Z', BASE]],
    );
    const metrics = String((await t.call('GET', `${t.b.stacks.local.adminArm}/metrics`, { token: operator })).body);
    assert.match(metrics, /stackledger_bridge_reconciliation_differences\{stack="local"\} 1/);
  });

  it("answers a deployment's conflicting batch with the code and the record's target, storing nothing of it; an exact duplicate is fine", async () => {
    const token = await stackApplicationToken(t);
    const { rows } = await stackDb.query(
      `select resource_id::text as "resourceId", resource_uri as "resourceUri", meter_id::text as "meterId", to_char(hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as hour,
              revision, quantity::text as quantity, subscription_id::text as "subscriptionId", tenant_id::text as "tenantId", location
       from usage_records where delivered_at is not null and hour = '2026-07-01T01:00:00Z' order by meter_id`,
    );
    const url = `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports?${API}`;
    const fresh = { ...rows[0], resourceId: randomUUID() };
    const send = (records: unknown[]) =>
      t.call('POST', url, { token, body: { cloudId: t.b.stacks.local.cloudId, batchId: randomUUID(), records } });
    const duplicate = await send(rows);
    assert.equal(duplicate.status, 200);
    assert.equal(duplicate.body.duplicates, rows.length);
    const conflict = await send([fresh, rows[0], { ...rows[1], quantity: '7' }]);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, 'UsageRecordConflict');
    assert.equal(conflict.body.error.target, 'records[2]');
    assert.deepEqual(
      conflict.body.error.details.map((d: { target: unknown }) => d.target),
      ['records[2]'],
    );
    assert.equal((await received(fresh.resourceId)).n, 0, 'nothing of a refused batch is stored');
    // Two records of one key with two quantities in one batch conflict as well.
    const twice = await send([fresh, { ...fresh, quantity: '9' }]);
    assert.equal(twice.status, 409);
    assert.equal(twice.body.error.target, 'records[1]');
    // Sent again, the same conflict is counted once, with how often it came.
    await send([{ ...rows[1], quantity: '7' }]);
    const counted = await hubDb.query(
      `select refusals from usage_conflicts where resource_id = $1 and offered_quantity = 7`,
      [rows[1].resourceId],
    );
    assert.deepEqual(counted.rows, [{ refusals: 2 }]);
    // Each conflict refused for the first time is one event for the system's webhooks.
    const told = await hubDb.query(
      `select data from notification_events where type = 'usage.quarantined' and data->>'resourceId' = $1 and (data->>'offered')::numeric = 7`,
      [rows[1].resourceId],
    );
    assert.equal(told.rows.length, 1, 'one event, however often the conflict is sent');
    assert.equal(Number(told.rows[0].data.offered), 7);
    assert.equal(told.rows[0].data.cloudId, t.b.stacks.local.cloudId);
    // The summary is the deployment's own and the system administrators'.
    const summaryUrl = `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports/summary?${API}&cloudId=${t.b.stacks.local.cloudId}&from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z`;
    assert.equal((await t.call('GET', summaryUrl, { token })).status, 200);
    const customer = await t.userToken(tenant.tenantId, tenant.admin.userName, tenant.admin.password, t.b.hub.arm);
    assert.equal((await t.call('GET', summaryUrl, { token: customer })).status, 403);
    const tooLong = await t.call('GET', summaryUrl.replace('to=2026-07-02', 'to=2028-07-02'), { token });
    assert.equal(tooLong.status, 400);
    // A cloud id that is not a GUID: 400 with the vendor's code, for the deployment and for an administrator.
    const notGuid = summaryUrl.replace(t.b.stacks.local.cloudId, 'east');
    const asDeployment = await t.call('GET', notGuid, { token });
    assert.equal(asDeployment.status, 400);
    assert.equal(asDeployment.body.error.code, 'InvalidRequestContent');
    const asAdministrator = await t.call('GET', notGuid, { token: csp });
    assert.equal(asAdministrator.status, 400);
    assert.equal(asAdministrator.body.error.code, 'InvalidCloudId');
  });

  it("takes one deployment's batches side by side as it would one after the other: no deadlock, each record once, the first quantity kept", async () => {
    const token = await stackApplicationToken(t);
    const { rows } = await stackDb.query(
      `select resource_uri as "resourceUri", meter_id::text as "meterId", to_char(hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as hour,
              revision, quantity::text as quantity, subscription_id::text as "subscriptionId", tenant_id::text as "tenantId", location
       from usage_records where delivered_at is not null and hour = '2026-07-01T01:00:00Z' order by meter_id limit 1`,
    );
    const url = `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports?${API}`;
    const send = (records: unknown[]) =>
      t.call('POST', url, { token, body: { cloudId: t.b.stacks.local.cloudId, batchId: randomUUID(), records } });
    const records = (n: number) => Array.from({ length: n }, () => ({ ...rows[0], resourceId: randomUUID() }));
    const stored = async (ids: string[]) =>
      (
        await hubDb.query(
          `select resource_id, quantity::text from usage_received where resource_id = any($1) order by 1`,
          [ids],
        )
      ).rows;
    // The same 400 records, forwards and backwards, six batches at once (a retry beside its first try).
    const same = records(400);
    const answers = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => send(i % 2 === 0 ? same : [...same].reverse())));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200, 200],
    );
    assert.equal(
      answers.reduce((n, a) => n + a.body.new, 0),
      400,
      'each record stored by exactly one batch',
    );
    for (const a of answers) assert.equal(a.body.new + a.body.duplicates, 400);
    assert.equal((await stored(same.map((r) => r.resourceId))).length, 400);
    // Two batches that disagree on one record's quantity, at once: one is stored whole, the other
    // refused whole, naming that record, as if it had come second.
    for (let round = 0; round < 5; round++) {
      const shared = records(1)[0];
      const first = [...records(200), shared];
      const second = [{ ...shared, quantity: '5' }, ...records(200)];
      const [a, b] = await Promise.all([send(first), send(second)]);
      assert.deepEqual([a.status, b.status].sort(), [200, 409], JSON.stringify([a.body, b.body]));
      const [kept, keptBatch, refused, refusedIndex] = a.status === 200 ? [a, first, b, 0] : [b, second, a, 200];
      assert.equal(kept.body.new, 201);
      assert.equal(refused.body.error.code, 'UsageRecordConflict');
      assert.equal(refused.body.error.target, `records[${refusedIndex}]`);
      const held = await stored([...first, ...second].map((r) => r.resourceId));
      assert.equal(held.length, 201, 'nothing of the refused batch');
      const sharedRow = held.find((r) => r.resource_id === shared.resourceId);
      assert.equal(
        Number(sharedRow.quantity),
        Number(keptBatch.find((r) => r.resourceId === shared.resourceId)!.quantity),
      );
    }
  });

  it('finds refused records that the hub does not name by halving the batch, in a bounded number of requests', async () => {
    // A hub that refuses any batch holding a poison record, naming none (over real HTTP), and
    // the bridge on the stack's own database.
    const hub = Fastify();
    hub.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
      done(null, body),
    );
    let requests = 0;
    hub.post('/login/:tenant/oauth2/token', async () => ({
      access_token: 'token',
      token_type: 'Bearer',
      expires_in: 3600,
    }));
    hub.post('/providers/Microsoft.AzureStack/usageReports', async (request, reply) => {
      requests++;
      const records = (request.body as { records: { resourceUri: string }[] }).records;
      if (records.some((r) => r.resourceUri.includes('poison')))
        return reply
          .code(400)
          .send({ error: { code: 'UnnamedRefusal', message: 'Something in this batch is wrong.' } });
      return { received: records.length };
    });
    const url = await hub.listen({ port: 0, host: '127.0.0.1' });
    const db = openDatabase<BridgeTables>(withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`), 2);
    const http = new HttpClient();
    try {
      const hour = '2026-07-02T00:00:00Z';
      const written: string[] = [];
      for (let i = 0; i < 16; i++)
        written.push(await writeRecord(hour, i === 3 || i === 12 ? `/poison/${i}` : `/fine/${i}`));
      const stub = new UsageBridge({
        db: db.db,
        http,
        hubArm: () => url,
        hubLogin: () => `${url}/login`,
        homeDirectory: () => tenant.tenantId,
        application: { appId: () => randomUUID(), secret: () => 'secret' },
        cloudId: () => t.b.stacks.local.cloudId,
        attempts: 1,
      });
      assert.equal(await stub.deliver(new Date(hour)), true, 'the outbox is empty afterwards');
      assert.ok(requests <= 1 + 2 * 2 * Math.log2(16), `${requests} requests for 2 refused records among 16`);
      const held = (await quarantine()).filter((e) => written.includes(e.resourceId));
      assert.deepEqual(held.map((e) => [e.resourceUri, e.state, e.refusal.code]).sort(), [
        ['/poison/12', 'held', 'UnnamedRefusal'],
        ['/poison/3', 'held', 'UnnamedRefusal'],
      ]);
      const { rows } = await stackDb.query(
        `select count(*)::int as n from usage_records where resource_id = any($1::uuid[]) and delivered_at is not null`,
        [written],
      );
      assert.equal(rows[0].n, 14, 'every other record was delivered');
    } finally {
      await http.close();
      await db.close();
      await hub.close();
    }
  });
  // Last: the registration goes away for good.
  it('answers a reconciliation 409 once the hub has no registration for the deployment, and `usage verify --stack` says so', async () => {
    const b = t.b;
    const registration = `${b.hub.arm}/subscriptions/${b.csp.registrationSubscriptionId}/resourceGroups/${b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${b.csp.registrationName}?api-version=2017-06-01`;
    const deleted = await t.call('DELETE', registration, { token: csp });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    const res = await t.call('GET', `${bridge()}/reconciliation?${API}`, { token: operator });
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'DeploymentNotRegistered');
    assert.match(res.body.error.message, /RegistrationNotFound/);
    const verified = await verify();
    assert.notEqual(verified.code, 0);
    assert.match(verified.stderr, /DeploymentNotRegistered/);
  });

  it("keeps the status's counts of held and dropped records equal to a recount of the quarantine", async () => {
    const kept = (await stackDb.query(`select state, records::int as n from usage_quarantine_counts order by state`))
      .rows;
    const recount = (
      await stackDb.query(
        `select s as state, (select count(*)::int from usage_quarantine where state = s) as n
         from unnest(array['dropped', 'held', 'released']) s order by s`,
      )
    ).rows;
    assert.deepEqual(kept, recount);
    // This file's records went through every state: held, released by a retry, dropped.
    assert.ok(
      recount.every((r) => r.n > 0),
      JSON.stringify(recount),
    );
    const byState = Object.fromEntries(recount.map((r) => [r.state, r.n]));
    assert.deepEqual((await status()).quarantine, { held: byState.held, dropped: byState.dropped });
  });
});
