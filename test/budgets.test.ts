// Budgets: a customer subscription's and a customer's monthly cost budget, set by the partner or the
// customer's admin, with actual and forecast thresholds that fire once per period and reach the
// webhooks of those who may read the budget.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { cli } from './helpers/cli.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const V = 'api-version=2026-11-01';

describe('budgets', { timeout: 600_000 }, () => {
  let t: TestSystem;
  let csp: string;
  let a: CustomerWithSubscription;
  let b: CustomerWithSubscription;
  let adminA: string;
  let adminB: string;
  const events: Array<{ path: string; event: { id: string; type: string; data: Record<string, unknown> } }> = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      events.push({ path: req.url ?? '', event: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  const subBudget = (sub: string, name: string) =>
    `${t.b.hub.arm}/subscriptions/${sub}/providers/Stackledger.Billing/budgets/${name}?${V}`;
  const customerBudget = (customer: string, name: string) =>
    `${t.b.hub.arm}/providers/Stackledger.Billing/customers/${customer}/budgets/${name}?${V}`;
  const advance = (to: string) =>
    t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, { token: csp, body: { to } });
  const budget = (amount: number | string, notifications: Record<string, unknown>) => ({
    properties: {
      category: 'Cost',
      amount,
      timeGrain: 'Monthly',
      timePeriod: { startDate: '2026-03-01T00:00:00Z' },
      notifications,
    },
  });
  /** Waits until the receiver has `n` events at `path` (bounded by the suite's timeout). */
  const eventsAt = async (path: string, n: number) => {
    while (events.filter((e) => e.path === path).length < n) await new Promise((r) => setTimeout(r, 50));
    return events.filter((e) => e.path === path);
  };

  before(async () => {
    t = await startTestSystem({
      clock: new Date('2026-03-01T00:00:00Z'),
      policies: { webhooks: { allowInternalAddresses: true, pollMs: 50 } },
    });
    csp = await t.appToken('csp', t.b.hub.arm);
    a = await customerWithSubscription(t, 'budget-a');
    b = await customerWithSubscription(t, 'budget-b');
    adminA = await t.userToken(a.customerId, a.admin.userName, a.admin.password, t.b.hub.arm);
    adminB = await t.userToken(b.customerId, b.admin.userName, b.admin.password, t.b.hub.arm);
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    for (const [token, name] of [
      [adminA, 'budgets-a'],
      [adminB, 'budgets-b'],
    ]) {
      const hook = await t.call('PUT', `${t.b.hub.arm}/providers/Stackledger.Notifications/webhooks/${name}?${V}`, {
        token,
        body: {
          properties: {
            url: `${base}/${name}`,
            events: ['budget.threshold_crossed'],
            secret: 'budget-hook-secret-0123',
          },
        },
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
    }
  });
  after(async () => {
    receiver.close();
    await t?.stop();
  });

  it('lets the partner and the customer admin set budgets, and nobody else', async () => {
    const mine = await t.call('PUT', subBudget(a.subscriptionId, 'monthly'), {
      token: adminA,
      body: budget(2, {
        actual80: { enabled: true, operator: 'GreaterThan', threshold: 80, thresholdType: 'Actual' },
        forecast100: { enabled: true, operator: 'GreaterThanOrEqualTo', threshold: 100, thresholdType: 'Forecasted' },
        actual500: { enabled: true, operator: 'GreaterThan', threshold: 500, thresholdType: 'Actual' },
      }),
    });
    assert.equal(mine.status, 201, JSON.stringify(mine.body));
    assert.equal(mine.body.properties.amount, 2);
    assert.equal(mine.body.properties.currentSpend.amount, 0);
    const partner = await t.call('PUT', customerBudget(a.customerId, 'all'), {
      token: csp,
      body: budget('50.00', { half: { operator: 'GreaterThanOrEqualTo', threshold: 50 } }),
    });
    assert.equal(partner.status, 201, JSON.stringify(partner.body));
    assert.equal((await t.call('GET', customerBudget(a.customerId, 'all'), { token: adminA })).status, 200);

    // Another customer's admin sees nothing of A's and sets nothing there.
    const read = await t.call('GET', subBudget(a.subscriptionId, 'monthly'), { token: adminB });
    assert.ok(read.status === 403 || read.status === 404, String(read.status));
    const write = await t.call('PUT', customerBudget(a.customerId, 'mine'), { token: adminB, body: budget(1, {}) });
    assert.equal(write.status, 404);
    assert.equal((await t.call('GET', customerBudget(a.customerId, 'mine'), { token: adminA })).status, 404);
    assert.equal((await t.call('GET', customerBudget(a.customerId, 'x'), { token: adminB })).status, 404);

    for (const [body, target] of [
      [budget(-1, {}), 'properties.amount'],
      [budget('1.001', {}), 'properties.amount'],
      [{ properties: { ...budget(1, {}).properties, timeGrain: 'Quarterly' } }, 'properties.timeGrain'],
      [budget(1, { x: { operator: 'LessThan', threshold: 5 } }), 'properties.notifications.x.operator'],
      [budget(1, { x: { operator: 'GreaterThan', threshold: 0 } }), 'properties.notifications.x.threshold'],
    ] as const) {
      const res = await t.call('PUT', subBudget(a.subscriptionId, 'bad'), { token: adminA, body });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'InvalidBudget');
      assert.equal(res.body.error.target, target);
    }
    assert.equal((await t.call('GET', subBudget(a.subscriptionId, 'bad'), { token: adminA })).status, 404);
  });

  it('fires each threshold once per period as usage comes in, to the webhooks of who may read it', async () => {
    assert.equal((await advance('2026-03-05T12:00:00Z')).status, 200);
    // 250 vCPU hours at the list price of 0.008: 2.00, all of the budget's amount.
    const usage = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?${V}`, {
      token: csp,
      body: [
        {
          specversion: '1.0',
          id: randomUUID(),
          source: 'urn:test:budgets',
          type: 'usage',
          subject: a.subscriptionId,
          time: '2026-03-05T10:00:00Z',
          data: { meterId: BASE, quantity: '250', resourceUri: '/vm/budget' },
        },
      ],
    });
    assert.equal(usage.status, 200, JSON.stringify(usage.body));
    assert.equal((await advance('2026-03-05T14:00:00Z')).status, 200);

    const got = await eventsAt('/budgets-a', 2);
    assert.deepEqual(got.map((e) => e.event.data.notification).sort(), ['actual80', 'forecast100']);
    for (const e of got) {
      assert.equal(e.event.type, 'budget.threshold_crossed');
      assert.equal(e.event.data.budget, 'monthly');
      assert.equal(e.event.data.period, '2026-03');
    }
    assert.equal(got.find((e) => e.event.data.notification === 'actual80')?.event.data.spend, '2.00');
    const read = await t.call('GET', subBudget(a.subscriptionId, 'monthly'), { token: csp });
    assert.equal(read.status, 200);
    assert.equal(read.body.properties.currentSpend.amount, 2);
    assert.ok(read.body.properties.forecastSpend.amount > 10, JSON.stringify(read.body.properties.forecastSpend));
    assert.deepEqual(read.body.properties.alerts.map((x: { notification: string }) => x.notification).sort(), [
      'actual80',
      'forecast100',
    ]);

    // Time passes and the spend stays over: nothing fires again in March.
    assert.equal((await advance('2026-03-09T00:00:00Z')).status, 200);
    assert.equal(
      (await t.call('GET', subBudget(a.subscriptionId, 'monthly'), { token: csp })).body.properties.alerts.length,
      2,
    );
    assert.equal(events.filter((e) => e.path === '/budgets-a').length, 2);
    // B's admin may not read A's budget: nothing reached its webhook.
    assert.equal(events.filter((e) => e.path === '/budgets-b').length, 0);
  });

  it('sets and lists budgets with `stackledger billing budget` and `billing budgets`', async () => {
    const run = (...args: string[]) => cli([...args, '--data', t.dataDir]);
    const set = await run(
      'billing',
      'budget',
      'cli',
      '--subscription',
      b.subscriptionId,
      '--amount',
      '5',
      '--actual',
      '80,100',
      '--forecast',
      '100',
      '--from',
      '2026-03',
    );
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /Budget cli: 5 a month \(actual_80, actual_100, forecast_100\)/);
    const list = await run('billing', 'budgets', '--subscription', b.subscriptionId, '--json');
    assert.equal(list.code, 0, list.stderr);
    const [only] = JSON.parse(list.stdout);
    assert.equal(only.name, 'cli');
    assert.deepEqual(Object.keys(only.properties.notifications).sort(), ['actual_100', 'actual_80', 'forecast_100']);
    const human = await run('billing', 'budgets', '--customer', a.customerId);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /all/);
    const neither = await run('billing', 'budgets');
    assert.equal(neither.code, 2);
  });
});
