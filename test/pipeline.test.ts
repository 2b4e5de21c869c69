// Step 5 of the seed: usage a customer's tenant generates on the deployment is reported under that
// customer's subscription; usage of a tenant that was never registered goes to the registration
// subscription. Over the bridge, stored once, attributed, and the ledger balances.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody, vmUrl } from './helpers/stack.ts';
import { cli } from './helpers/cli.ts';
import { stackRecord } from './helpers/secrets.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';
import type { JsonResponse } from '../src/core/http-client.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';

describe('the usage pipeline, hub and stack in one process', () => {
  let t: TestSystem;
  /** `stackledger usage verify` from the start of July 1st. */
  const verifyUsageOfJuly1 = (to: string, more: string[] = []) =>
    cli(['usage', 'verify', '--data', t.dataDir, '--from', '2026-07-01T00:00:00Z', '--to', to, ...more]);
  let csp: string;
  let stackDb: pg.Client;
  let tenants: Record<string, { c: CustomerWithSubscription; user: string; sub: string }>;

  const advance = async (duration: string) =>
    t.http.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`, {
      token: csp,
      body: { duration },
    });
  const tenantOnStack = async (prefix: string, cores: string) => {
    const c = await customerWithSubscription(t, prefix);
    const { user, sub } = await tenantSubscription(t, c, prefix);
    await t.http.call('PUT', vmUrl(t, sub, 'vm'), { token: user, body: vmBody(cores) });
    return { c, user, sub };
  };
  const hubUsage = async (token: string, subscriptionId: string, granularity = 'Hourly') =>
    t.call(
      'GET',
      `${t.b.hub.arm}/subscriptions/${subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-07-01T00:00:00Z&reportedEndTime=2026-07-01T12:00:00Z&aggregationGranularity=${granularity}&showDetails=true`,
      { token },
    );
  const baseHours = (res: JsonResponse) =>
    res.body.value
      .filter((r: { properties: { meterId: unknown } }) => r.properties.meterId === BASE)
      .reduce((n: number, r: { properties: { quantity: number } }) => n + r.properties.quantity, 0);

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-07-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    tenants = {
      a: await tenantOnStack('pipe-a', 'Standard_A2_v2'),
      c: await tenantOnStack('pipe-c', 'Standard_A1_v2'),
    };
    // Customer A's CSP subscription is registered on the deployment; customer C is not.
    const reg = `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/${t.b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${t.b.csp.registrationName}`;
    await t.http.call('PUT', `${reg}/customerSubscriptions/${tenants.a.c.subscriptionId}?api-version=2017-06-01`, {
      token: csp,
      body: { properties: {} },
    });
    // Two moves: the hub accepts what a move delivers at the move's end (hours 00 to 10 at 11:00,
    // hour 11 at 12:00; see ARCHITECTURE.md, Time).
    await advance('PT11H');
    await advance('PT1H');
    stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await stackDb.connect();
  });
  after(async () => {
    await stackDb.end();
    await t.stop();
  });

  it('delivers every closed hour before the clock returns: the outbox is empty', async () => {
    const { rows } = await stackDb.query(
      'select count(*) filter (where delivered_at is null)::int as pending, count(*)::int as closed from usage_records',
    );
    assert.equal(rows[0].pending, 0);
    assert.equal(rows[0].closed, 2 * 2 * 12, 'two VMs, two meters, twelve hours');
  });

  it("bills each customer's usage to its own subscription, and unregistered usage to the registration subscription", async () => {
    // Customer A's subscription, read by A's admin (its Owner) and by the CSP that sold it.
    const adminA = await t.userToken(
      tenants.a.c.customerId,
      tenants.a.c.admin.userName,
      tenants.a.c.admin.password,
      t.b.hub.arm,
    );
    const forA = await hubUsage(adminA, tenants.a.c.subscriptionId);
    assert.equal(forA.status, 200, JSON.stringify(forA.body));
    // Reported before 12:00: hours 00 to 10, accepted at 11:00 (hour 11 was accepted at 12:00, the window's exclusive end).
    assert.equal(baseHours(forA), 2 * 11, 'two vCPUs for eleven reported hours');
    const data = JSON.parse(forA.body.value[0].properties.instanceData)['Microsoft.Resources'];
    assert.equal(data.location, 'local', "the deployment's location");
    assert.match(
      data.resourceUri,
      new RegExp(`/subscriptions/${tenants.a.sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm$`),
    );
    // The aggregate's bytes, pinned: compact JSON, keys in this order, times as the vendor writes them.
    const first = forA.body.value[0].properties;
    const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
    assert.match(
      first.instanceData,
      new RegExp(
        `^\\{"Microsoft\\.Resources":\\{"resourceUri":"${data.resourceUri}","location":"local","tags":\\{[^}]*\\},"additionalInfo":\\{"DeploymentId":"${uuid}","SubscriptionId":"${tenants.a.sub}"\\}\\}\\}$`,
      ),
    );
    assert.match(first.usageStartTime, /^2026-\d\d-\d\dT\d\d:00:00\+00:00$/);
    assert.equal(Date.parse(first.usageEndTime) - Date.parse(first.usageStartTime), 3_600_000);
    assert.match(first.usageEndTime, /^2026-\d\d-\d\dT\d\d:00:00\+00:00$/);
    assert.equal((await hubUsage(csp, tenants.a.c.subscriptionId)).status, 200, 'the partner that sold it reads it');
    // Customer C was never registered: its usage is the CSP's, on the registration subscription.
    const forRegistration = await hubUsage(csp, t.b.csp.registrationSubscriptionId);
    assert.equal(baseHours(forRegistration), 1 * 11);
    const adminC = await t.userToken(
      tenants.c.c.customerId,
      tenants.c.c.admin.userName,
      tenants.c.c.admin.password,
      t.b.hub.arm,
    );
    assert.equal(baseHours(await hubUsage(adminC, tenants.c.c.subscriptionId)), 0, "nothing on C's own subscription");
    assert.equal(
      (await hubUsage(adminC, t.b.csp.registrationSubscriptionId)).status,
      403,
      'the registration subscription is for its Owners',
    );
    assert.equal(
      (await hubUsage(adminC, tenants.a.c.subscriptionId)).status,
      403,
      "one customer never reads another's",
    );
  });

  it('stores each record once: the same batch again changes nothing, and says so', async () => {
    const { rows } = await stackDb.query(
      `select resource_id::text as "resourceId", resource_uri as "resourceUri", meter_id::text as "meterId", to_char(hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as hour,
              revision, quantity::text as quantity, subscription_id::text as "subscriptionId", tenant_id::text as "tenantId", location, tags
       from usage_records order by hour limit 10`,
    );
    const stackApp = await stackRecord(stackDb, t.dataDir);
    const token = (
      await t.http.call('POST', `${t.b.hub.login}/${stackApp.homeDirectory}/oauth2/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: stackApp.applicationId,
          client_secret: stackApp.applicationSecret,
          resource: t.b.hub.arm,
        },
      })
    ).access_token;
    const url = `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports?api-version=2026-11-01`;
    const again = await t.call('POST', url, {
      token,
      body: { cloudId: t.b.stacks.local.cloudId, batchId: randomUUID(), records: rows },
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual([again.body.received, again.body.new, again.body.duplicates], [10, 0, 10]);
    // Only the deployment itself may report: the CSP's own identity is refused, and so is an unknown deployment.
    const notTheDeployment = await t.call('POST', url, {
      token: csp,
      body: { cloudId: t.b.stacks.local.cloudId, batchId: randomUUID(), records: rows },
    });
    assert.equal(notTheDeployment.status, 403);
    const unknown = await t.call('POST', url, {
      token,
      body: { cloudId: randomUUID(), batchId: randomUUID(), records: rows },
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'RegistrationNotFound');
    // An hour that is not an instant (February has no 30th) is refused by the first record that
    // names it, however many records share its text; and a refused batch stores nothing.
    const noSuchDay = rows.map((r: { hour: string }, i: number) =>
      i === 2 || i === 4 ? { ...r, resourceId: `${i}-new`, hour: '2026-02-30T00:00:00Z' } : r,
    );
    const badHour = await t.call('POST', url, {
      token,
      body: { cloudId: t.b.stacks.local.cloudId, batchId: randomUUID(), records: noSuchDay },
    });
    assert.equal(badHour.status, 400, JSON.stringify(badHour.body));
    assert.equal(badHour.body.error.code, 'InvalidRequestContent');
    assert.match(badHour.body.error.message, /records\[2\] has the hour '2026-02-30T00:00:00Z'/);
  });

  it('keeps the ledger: what was received equals what was attributed, per deployment, meter and hour', async () => {
    const verify = await t.call(
      'GET',
      `${t.b.hub.arm}/providers/Stackledger.System/usage/verify?api-version=2026-11-01&from=2026-07-01T00:00:00Z&to=2026-07-02T00:00:00Z`,
      { token: csp },
    );
    assert.equal(verify.status, 200);
    assert.equal(verify.body.balanced, true);
    assert.equal(verify.body.records, 48);
    assert.equal(verify.body.received, verify.body.attributed);
    const { rows } = await stackDb.query('select sum(quantity)::text as q from usage_records');
    assert.equal(
      Number(verify.body.received),
      Number(rows[0].q),
      "the totals match the stack's meters to the last decimal",
    );
  });

  it('proves the ledger from the command line, and exits non-zero on a difference', async () => {
    const ok = await verifyUsageOfJuly1('2026-07-02T00:00:00Z', ['--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).balanced, true);
    // A record received but never attributed (written behind the API's back) breaks the invariant.
    const hub = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await hub.connect();
    try {
      await hub.query(
        `insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, location, tags, received_at, batch_id)
         values ('test', 'x', '/x', $1, '2026-07-01T03:00:00Z', 1, 1.5, 'local', '{}', now(), gen_random_uuid())`,
        [BASE],
      );
    } finally {
      await hub.end();
    }
    const bad = await verifyUsageOfJuly1('2026-07-02T00:00:00Z');
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /NOT BALANCED/);
    assert.match(
      bad.stdout,
      /2026-07-01T03:00:00.000Z test fab6eb84-500b-4a09-a8ca-7358f8bbaea5: received 1.500000000, attributed 0/,
    );
  });

  it('keeps the records of a deleted registration and says why, then delivers them once it is registered again', async () => {
    const operator = await t.appToken('operator', t.b.stacks.local.adminArm);
    const status = async () =>
      (
        await t.call('GET', `${t.b.stacks.local.adminArm}/providers/Stackledger.System/bridge?api-version=2026-11-01`, {
          token: operator,
        })
      ).body;
    const reg = `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/${t.b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${t.b.csp.registrationName}`;
    assert.equal((await t.call('DELETE', `${reg}?api-version=2017-06-01`, { token: csp })).status, 200);
    await advance('PT2H');
    const stuck = await status();
    assert.equal(stuck.outbox, 2 * 2 * 2, 'two hours of two VMs stay in the outbox');
    assert.match(stuck.lastError, /RegistrationNotFound/);
    const metrics = await t.call('GET', `${t.b.stacks.local.adminArm}/metrics`, { token: operator });
    assert.match(String(metrics.body), /stackledger_bridge_outbox_records\{stack="local"\} 8/);
    assert.match(String(metrics.body), /stackledger_bridge_failing\{stack="local"\} 1/);

    const again = await cli(['stack', 'register', '--data', t.dataDir, '--approve', '--json']);
    assert.equal(again.code, 0, again.stderr);
    await advance('PT1H');
    const after = await status();
    assert.equal(after.outbox, 0);
    assert.equal(after.lastError, null);
    assert.equal(after.delivered, 2 * 2 * 15);
    const verify = await cli([
      'usage',
      'verify',
      '--data',
      t.dataDir,
      '--from',
      '2026-07-01T04:00:00Z',
      '--to',
      '2026-07-02T00:00:00Z',
      '--json',
    ]);
    assert.equal(JSON.parse(verify.stdout).records, 2 * 2 * 11, 'hours 04 to 14 of both VMs, each once');
  });

  it('re-attributes a range after links changed, with reversing entries, and the ledger still balances', async () => {
    // Both customers are linked now (A's link ended when the registration was deleted; C's never existed).
    const reg = `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/${t.b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${t.b.csp.registrationName}`;
    for (const x of [tenants.a, tenants.c]) {
      assert.equal(
        (
          await t.call('PUT', `${reg}/customerSubscriptions/${x.c.subscriptionId}?api-version=2017-06-01`, {
            token: csp,
            body: { properties: {} },
          })
        ).status,
        200,
      );
    }
    const window = (end: string) =>
      `/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-07-01T00:00:00Z&reportedEndTime=${end}&aggregationGranularity=Hourly`;
    let end = '2026-07-01T15:00:00Z';
    const base = async (subscriptionId: string) =>
      baseHours(await t.call('GET', `${t.b.hub.arm}/subscriptions/${subscriptionId}${window(end)}`, { token: csp }));
    // Hours already attributed stay as they were...
    const before = {
      a: await base(tenants.a.c.subscriptionId),
      c: await base(tenants.c.c.subscriptionId),
      registration: await base(t.b.csp.registrationSubscriptionId),
    };
    assert.equal(before.c, 0);
    assert.ok(before.registration > 0);
    // ...until the operator re-attributes the range.
    // Twice at the same moment: one after the other, the second finds nothing left to change.
    const reattribute = () =>
      t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/usage/reattribute?api-version=2026-11-01`, {
        token: csp,
        body: { from: '2026-07-01T00:00:00Z', to: '2026-07-01T15:00:00Z', cloudId: t.b.stacks.local.cloudId },
      });
    const both = await Promise.all([reattribute(), reattribute()]);
    for (const r of both) assert.equal(r.status, 200, JSON.stringify(r.body));
    const [done, twin] = both[0].body.reversed > 0 ? both : [both[1], both[0]];
    assert.ok(done.body.reversed > 0 && done.body.added === done.body.reversed);
    assert.deepEqual([twin.body.reversed, twin.body.added], [0, 0], 'the concurrent twin changed nothing');
    await advance('PT1H'); // so that the entries written now fall inside a reported window
    end = '2026-07-01T16:00:00Z';
    assert.equal(await base(tenants.a.c.subscriptionId), 2 * 15, "all of A's hours 00 to 14");
    assert.equal(await base(tenants.c.c.subscriptionId), 1 * 15, "all of C's hours 00 to 14");
    assert.equal(await base(t.b.csp.registrationSubscriptionId), 0, 'nothing left on the registration subscription');
    const hub = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await hub.connect();
    try {
      const { rows } = await hub.query(
        `select reason, count(*)::int as n from usage_attributed where reattribution_id = $1 group by reason order by reason`,
        [done.body.reattributionId],
      );
      assert.deepEqual(
        rows.map((r) => r.reason),
        ['reattribution: linked', 'reattribution: reversed'],
      );
      await assert.rejects(hub.query('update usage_attributed set quantity = 0'), /never edited/);
      // Nor the attribution a record holds, nor its quantity.
      await assert.rejects(
        hub.query(
          'update usage_received set billed_subscription_id = gen_random_uuid() where billed_subscription_id is not null',
        ),
        /never edited/,
      );
      await assert.rejects(hub.query('update usage_received set quantity = quantity + 1'), /never edited/);
    } finally {
      await hub.end();
    }
    const again = await t.call(
      'POST',
      `${t.b.hub.arm}/providers/Stackledger.System/usage/reattribute?api-version=2026-11-01`,
      {
        token: csp,
        body: { from: '2026-07-01T00:00:00Z', to: '2026-07-01T15:00:00Z' },
      },
    );
    assert.deepEqual([again.body.reversed, again.body.added], [0, 0], 'running it again changes nothing');
    const verify = await t.call(
      'GET',
      `${t.b.hub.arm}/providers/Stackledger.System/usage/verify?api-version=2026-11-01&from=2026-07-01T00:00:00Z&to=2026-07-01T15:00:00Z`,
      { token: csp },
    );
    assert.equal(
      verify.body.differences.filter((d: { source: unknown }) => d.source !== 'test').length,
      0,
      'balanced, apart from the record written behind its back',
    );
  });

  it("answers the partner center's utilization records of a customer's subscription, by usage time", async () => {
    const pc = t.b.hub.partnerCenter;
    const token = await t.appToken('csp', pc);
    const url = (q: string) =>
      `${pc}/v1/customers/${tenants.a.c.customerId}/subscriptions/${tenants.a.c.subscriptionId}/utilizations/azure?start_time=2026-07-01T00:00:00Z&end_time=2026-07-01T16:00:00Z${q}`;
    const hourly = await t.call('GET', url('&granularity=hourly&show_details=true'), { token });
    assert.equal(hourly.status, 200, JSON.stringify(hourly.body));
    const base = hourly.body.items.filter((r: { resource: { id: unknown } }) => r.resource.id === BASE);
    assert.equal(base.length, 16);
    assert.ok(
      base.every(
        (r: { quantity: unknown; unit: unknown; resource: { name: unknown }; attributes: { objectType: unknown } }) =>
          r.quantity === 2 &&
          r.unit === 'vCPU hours' &&
          r.resource.name === 'Base VM Size Hours' &&
          r.attributes.objectType === 'AzureUtilizationRecord',
      ),
    );
    assert.equal(base[0].usageStartTime, '2026-07-01T00:00:00+00:00');
    assert.equal(base[0].usageEndTime, '2026-07-01T01:00:00+00:00');
    assert.match(base[0].instanceData.resourceUri, /virtualMachines\/vm$/);
    assert.equal(base[0].resource.region, 'local');
    const daily = await t.call('GET', url('&granularity=daily&show_details=false'), { token });
    assert.equal(daily.body.items.find((r: { resource: { id: unknown } }) => r.resource.id === BASE).quantity, 32);
    const bad = await t.call('GET', url('&granularity=weekly'), { token });
    assert.equal(bad.status, 400);
    const wrongCustomer = await t.call(
      'GET',
      `${pc}/v1/customers/${tenants.c.c.customerId}/subscriptions/${tenants.a.c.subscriptionId}/utilizations/azure?start_time=2026-07-01T00:00:00Z`,
      { token },
    );
    assert.equal(wrongCustomer.status, 404);
  });

  it('accepts usage from any external meter as CloudEvents, each event once', async () => {
    const url = `${t.b.hub.arm}/providers/Stackledger.Usage/events?api-version=2026-11-01`;
    const events = [1, 2, 3].map((n) => ({
      specversion: '1.0',
      id: `evt-${n}`,
      source: 'https://backup.example/meter',
      type: 'com.example.backup.gb-stored',
      subject: tenants.a.c.subscriptionId,
      time: `2026-07-01T0${n}:30:00Z`,
      data: { meterId: '09f8879e-87e9-4305-a572-4b7be209f857', quantity: '10.5', resourceUri: '/backups/a' },
    }));
    const headers = { 'content-type': 'application/cloudevents-batch+json' };
    const first = await t.call('POST', url, { token: csp, headers, body: events });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual([first.body.received, first.body.new, first.body.duplicates], [3, 3, 0]);
    const again = await t.call('POST', url, { token: csp, headers, body: events });
    assert.deepEqual([again.body.new, again.body.duplicates], [0, 3]);
    // A subscription the caller may not write to, and a malformed event, are refused whole.
    const adminC = await t.userToken(
      tenants.c.c.customerId,
      tenants.c.c.admin.userName,
      tenants.c.c.admin.password,
      t.b.hub.arm,
    );
    const foreign = await t.call('POST', url, { token: adminC, headers, body: [{ ...events[0], id: 'evt-x' }] });
    assert.equal(foreign.status, 403);
    const malformed = await t.call('POST', url, {
      token: csp,
      headers,
      body: [{ ...events[0], id: 'evt-y', data: { meterId: 'nope', quantity: 1 } }],
    });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.target, '[0].data.meterId');
    await advance('PT1H');
    const usage = await t.call(
      'GET',
      `${t.b.hub.arm}/subscriptions/${tenants.a.c.subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=2026-07-01T16:00:00Z&reportedEndTime=2026-07-01T17:00:00Z&aggregationGranularity=Hourly`,
      { token: csp },
    );
    const external = usage.body.value.filter(
      (r: { properties: { meterId: unknown } }) => r.properties.meterId === '09f8879e-87e9-4305-a572-4b7be209f857',
    );
    assert.equal(
      external.reduce((n: number, r: { properties: { quantity: number } }) => n + r.properties.quantity, 0),
      31.5,
    );
    const verify = await verifyUsageOfJuly1('2026-07-01T03:00:00Z', ['--json']);
    assert.equal(JSON.parse(verify.stdout).balanced, true);
  });

  it('shows usage per customer and per registration subscription, hourly and daily, from the command line', async () => {
    const shown = await cli([
      'usage',
      'show',
      '--data',
      t.dataDir,
      '--subscription',
      tenants.a.c.subscriptionId,
      '--granularity',
      'Hourly',
      '--from',
      '2026-07-01T00:00:00Z',
      '--to',
      '2026-07-01T16:00:00Z',
      '--json',
    ]);
    assert.equal(shown.code, 0, shown.stderr);
    const lines = JSON.parse(shown.stdout);
    assert.equal(
      lines
        .filter((l: { meterId: unknown; quantity: unknown }) => l.meterId === BASE)
        .reduce((n: number, l: { quantity: number }) => n + l.quantity, 0),
      2 * 15,
    );
    assert.ok(lines.every((l: { location: unknown }) => l.location));
    const table = await cli([
      'usage',
      'show',
      '--data',
      t.dataDir,
      '--subscription',
      t.b.csp.registrationSubscriptionId,
      '--by-meter',
    ]);
    assert.equal(table.code, 0, table.stderr);
    const denied = await cli(['usage', 'show', '--data', t.dataDir, '--subscription', randomUUID()]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /SubscriptionNotFound/);
  });

  it("keeps the daily aggregates equal to a recount of the attributions with their records' keys", async () => {
    // Ingestion, events and re-attribution write attributions that carry their record's meter,
    // resource and location (the daily trigger reads them instead of joining back): the aggregates
    // must be what the join back gives, and every carried key must be its record's.
    const hub = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await hub.connect();
    try {
      await hub.query('select usage_daily_fold()');
      const recount = await hub.query(`
        with recount as (
          select a.billed_subscription_id, (r.hour at time zone 'UTC')::date as usage_date, r.meter_id, r.resource_uri, r.location, sum(a.quantity) as quantity
          from usage_attributions a join usage_received r on r.source = a.source and r.hour = a.hour and r.id = a.received_id
          group by 1, 2, 3, 4, 5
        )
        select count(*)::int as keys,
               count(*) filter (where d.quantity is distinct from x.quantity)::int as differences
        from recount x full join usage_daily d using (billed_subscription_id, usage_date, meter_id, resource_uri, location)`);
      assert.ok(recount.rows[0].keys > 0);
      assert.equal(recount.rows[0].differences, 0);
      const carried = await hub.query(`
        select count(*)::int as carried,
               count(*) filter (where (a.meter_id, a.resource_uri, a.location) is distinct from (r.meter_id, r.resource_uri, r.location))::int as wrong
        from usage_attributed a join usage_received r on r.source = a.source and r.hour = a.hour and r.id = a.received_id
        where a.meter_id is not null`);
      assert.ok(carried.rows[0].carried > 0);
      assert.equal(carried.rows[0].wrong, 0);
      // Every writer's reason shows: deployments' batches, events and re-attribution.
      const { rows } = await hub.query(
        `select array_agg(distinct reason order by reason) as reasons from usage_attributions`,
      );
      assert.deepEqual(rows[0].reasons, [
        'external meter',
        'linked',
        'not registered',
        'reattribution: linked',
        'reattribution: reversed',
      ]);
    } finally {
      await hub.end();
    }
  });
});
