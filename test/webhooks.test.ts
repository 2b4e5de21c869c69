// Signed webhooks: who may make which, what reaches whom, the signature, retries with the same id,
// order per webhook, a receiver that always fails, the delivery log and re-sending. Receivers are
// HTTP servers on the loopback; the hub posts to them for real.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, withDatabase } from '../src/db/database.ts';
import type { HubTables } from '../src/hub/app.ts';
import { customerWithSubscription, secondPartner } from './helpers/partner.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const API = 'api-version=2026-11-01';
const SECRET = 'a-secret-long-enough-to-sign';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  event: { id: string; type: string; time: string; data: Record<string, unknown> };
}

/**
 * A loopback receiver: `/ok/*` answers 204, `/flaky/*` fails its first two requests, `/fail/*`
 * always 500, `/hang/*` never answers, `/gate/*` answers 204 once the test opens the gate.
 */
async function startReceiver() {
  const received: Received[] = [];
  let flakyFailures = 0;
  let openGate!: () => void;
  const gate = new Promise<void>((r) => {
    openGate = r;
  });
  const waiting: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ path: req.url ?? '', headers: req.headers, body, event: JSON.parse(body) });
      for (const w of waiting.splice(0)) w();
      if (req.url?.startsWith('/hang/')) return;
      if (req.url?.startsWith('/gate/')) return void gate.then(() => res.writeHead(204).end());
      if (req.url?.startsWith('/fail/')) return void res.writeHead(500).end();
      if (req.url?.startsWith('/flaky/') && flakyFailures < 2) {
        flakyFailures++;
        return void res.writeHead(503).end();
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** Waits until `until` holds of what arrived (the test's own timeout bounds it). */
  const waitFor = async (until: (r: Received[]) => boolean) => {
    const giveUp = Date.now() + 60_000;
    while (!until(received)) {
      if (Date.now() > giveUp) assert.fail(`not received in a minute; got ${received.map((r) => r.path).join(', ')}`);
      await new Promise<void>((r) => {
        waiting.push(r);
        setTimeout(r, 1000);
      });
    }
  };
  const at = (prefix: string) => received.filter((r) => r.path.startsWith(prefix));
  return { base, received, at, waitFor, openGate, close: () => server.close() };
}

describe('webhooks', { timeout: 300_000 }, () => {
  let t: TestSystem;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let csp: string;
  let partner2: Awaited<ReturnType<typeof secondPartner>>;
  let p2: string;
  let p2pc: string;
  let hubDb: ReturnType<typeof openDatabase<HubTables>>;
  const hook = (name: string) => `${t.b.hub.arm}/providers/Stackledger.Notifications/webhooks/${name}?${API}`;
  const put = (token: string, name: string, properties: Record<string, unknown>) =>
    t.call('PUT', hook(name), { token, body: { properties } });

  before(async () => {
    t = await startTestSystem({
      policies: {
        webhooks: {
          allowInternalAddresses: true,
          pollMs: 50,
          timeoutMs: 1000,
          retry: { delaysMs: [100, 200], retryForMs: 1500 },
        },
      },
    });
    receiver = await startReceiver();
    csp = await t.appToken('csp', t.b.hub.arm);
    partner2 = await secondPartner(t, 'hooks2');
    p2 = await partner2.token(t.b.hub.arm);
    p2pc = await partner2.token(t.b.hub.partnerCenter);
    hubDb = openDatabase(withDatabase(testServerUrl(), `${t.dbPrefix}_hub`), 2);
  });
  after(async () => {
    receiver.close();
    await hubDb.close();
    await t.stop();
  });

  it('lets each owner make, read and delete only its own webhooks, and keeps the secret sealed', async () => {
    const made = await put(csp, 'sys-owned', {
      url: `${receiver.base}/ok/sys`,
      events: ['registration.changed'],
      secret: SECRET,
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.deepEqual(made.body.properties.events, ['registration.changed']);
    assert.equal(made.body.properties.owner.kind, 'system');
    assert.ok(!JSON.stringify(made.body).includes(SECRET), 'the secret is never shown');
    const again = await put(csp, 'sys-owned', { url: `${receiver.base}/ok/sys2`, events: ['registration.changed'] });
    assert.equal(again.status, 200, 'an update may keep the secret');
    assert.equal(again.body.properties.url, `${receiver.base}/ok/sys2`);

    // Another owner: the name is taken (409), the webhook is invisible (404) and survives its DELETE.
    const taken = await put(p2, 'sys-owned', {
      url: `${receiver.base}/ok/x`,
      events: ['invoice.finalized'],
      secret: SECRET,
    });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error.code, 'WebhookNameUnavailable');
    assert.equal((await t.call('GET', hook('sys-owned'), { token: p2 })).status, 404);
    assert.equal((await t.call('DELETE', hook('sys-owned'), { token: p2 })).status, 204);
    const kept = await t.call('GET', hook('sys-owned'), { token: csp });
    assert.equal(kept.status, 200);
    assert.equal(kept.body.properties.url, `${receiver.base}/ok/sys2`);

    // Lists show each owner its own.
    assert.equal(
      (await put(p2, 'p2-listed', { url: `${receiver.base}/ok/p2`, events: ['invoice.finalized'], secret: SECRET }))
        .status,
      201,
    );
    const list = (token: string) =>
      t.call('GET', `${t.b.hub.arm}/providers/Stackledger.Notifications/webhooks?${API}`, { token });
    assert.deepEqual(
      (await list(p2)).body.value.map((w: { name: string }) => w.name),
      ['p2-listed'],
    );
    assert.ok(!(await list(csp)).body.value.some((w: { name: string }) => w.name === 'p2-listed'));

    // Stored sealed, not in plain text.
    const row = await sql<{
      sealed_secret: string;
    }>`select sealed_secret from webhooks where name = 'sys-owned'`.execute(hubDb.db);
    assert.match(row.rows[0].sealed_secret, /^sealed\.v1\./);
    assert.ok(!row.rows[0].sealed_secret.includes(SECRET));

    assert.equal((await t.call('DELETE', hook('sys-owned'), { token: csp })).status, 200);
    assert.equal((await t.call('GET', hook('sys-owned'), { token: csp })).status, 404);
  });

  it('refuses bad webhooks with ARM errors and writes nothing', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['bad-url', { url: 'not a url', events: ['invoice.finalized'], secret: SECRET }, 'InvalidWebhookUrl'],
      [
        'bad-scheme',
        { url: 'ftp://example.com/x', events: ['invoice.finalized'], secret: SECRET },
        'InvalidWebhookUrl',
      ],
      [
        'creds',
        { url: 'https://u:p@example.com/x', events: ['invoice.finalized'], secret: SECRET },
        'InvalidWebhookUrl',
      ],
      [
        'bad-event',
        { url: 'https://example.com/x', events: ['invoice.exploded'], secret: SECRET },
        'InvalidWebhookEvents',
      ],
      ['no-event', { url: 'https://example.com/x', events: [], secret: SECRET }, 'InvalidWebhookEvents'],
      [
        'short-secret',
        { url: 'https://example.com/x', events: ['invoice.finalized'], secret: 'short' },
        'InvalidWebhookSecret',
      ],
      ['no-secret', { url: 'https://example.com/x', events: ['invoice.finalized'] }, 'InvalidWebhookSecret'],
      [
        '-bad-name',
        { url: 'https://example.com/x', events: ['invoice.finalized'], secret: SECRET },
        'InvalidWebhookName',
      ],
    ];
    for (const [name, properties, code] of cases) {
      const res = await put(csp, name, properties);
      assert.equal(res.status, 400, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code, name);
      assert.equal((await t.call('GET', hook(name), { token: csp })).status, 404, name);
    }
    const noBody = await t.call('PUT', hook('no-body'), { token: csp, body: { url: 'x' } });
    assert.equal(noBody.status, 400);
    // Someone who administers nothing: a customer's plain user is neither system, partner nor customer admin.
    const c = await customerWithSubscription(t, 'hooks-nobody', p2pc);
    const user = await t.call('POST', `${t.b.hub.graph}/v1.0/users`, {
      token: await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.graph),
      body: {
        accountEnabled: true,
        displayName: 'Plain',
        mailNickname: 'plain',
        userPrincipalName: `plain@${c.admin.userName.split('@')[1]}`,
        passwordProfile: { password: 'Plain-Passw0rd!', forceChangePasswordNextSignIn: false },
      },
    });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const plain = await t.userToken(c.customerId, user.body.userPrincipalName, 'Plain-Passw0rd!', t.b.hub.arm);
    const denied = await put(plain, 'plain-user', {
      url: `${receiver.base}/ok/plain`,
      events: ['invoice.finalized'],
      secret: SECRET,
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'AuthorizationFailed');
  });

  it('delivers each event, signed, to every webhook whose owner may read it, and to no other', async () => {
    const mine = await customerWithSubscription(t, 'hooks-mine', p2pc);
    const other = await customerWithSubscription(t, 'hooks-other', p2pc);
    const adminOf = (c: typeof mine) => t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.arm);
    const events = ['subscription.status_changed'];
    const secretOf = (n: string) => `${SECRET}-${n}`;
    for (const [token, name] of [
      [csp, 'd-system'],
      [p2, 'd-partner'],
      [await adminOf(mine), 'd-mine'],
      [await adminOf(other), 'd-other'],
    ] as const) {
      const res = await put(token, name, { url: `${receiver.base}/ok/${name}`, events, secret: secretOf(name) });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const pc = t.b.hub.partnerCenter;
    const patch = await t.call('PATCH', `${pc}/v1/customers/${mine.customerId}/subscriptions/${mine.subscriptionId}`, {
      token: await partner2.token(pc),
      body: { status: 'suspended' },
    });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));

    await receiver.waitFor(() => ['d-system', 'd-partner', 'd-mine'].every((n) => receiver.at(`/ok/${n}`).length > 0));
    const ids = new Set<string>();
    for (const name of ['d-system', 'd-partner', 'd-mine']) {
      const [got] = receiver.at(`/ok/${name}`);
      assert.equal(got.event.type, 'subscription.status_changed');
      assert.equal(got.event.data.subscriptionId, mine.subscriptionId);
      assert.equal(got.event.data.status, 'suspended');
      assert.equal(got.headers['content-type'], 'application/json');
      const [, t0, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(got.headers['stackledger-signature'])) ?? [];
      assert.ok(t0, 'a signature header');
      assert.equal(mac, createHmac('sha256', secretOf(name)).update(`${t0}.${got.body}`).digest('hex'));
      ids.add(got.event.id);
    }
    assert.equal(ids.size, 1, 'one event, one id');
    // Another customer's administrator may not read the subscription: nothing for it, even later.
    const log = await t.call(
      'GET',
      `${t.b.hub.arm}/providers/Stackledger.Notifications/webhooks/d-other/deliveries?${API}`,
      {
        token: await adminOf(other),
      },
    );
    assert.equal(log.status, 200);
    assert.deepEqual(log.body.value, []);
    assert.equal(receiver.at('/ok/d-other').length, 0);
  });

  it('retries a failed delivery with the same id, in order, and a receiver that always fails holds up nobody else', async () => {
    const c = await customerWithSubscription(t, 'hooks-retry', p2pc);
    const events = ['subscription.status_changed'];
    for (const name of ['r-flaky', 'r-fail', 'r-hang', 'r-ok'])
      assert.equal(
        (await put(p2, name, { url: `${receiver.base}/${name.slice(2)}/${name}`, events, secret: SECRET })).status,
        201,
      );
    const pc = t.b.hub.partnerCenter;
    const url = `${pc}/v1/customers/${c.customerId}/subscriptions/${c.subscriptionId}`;
    const token = await partner2.token(pc);
    assert.equal((await t.call('PATCH', url, { token, body: { status: 'suspended' } })).status, 200);
    assert.equal((await t.call('PATCH', url, { token, body: { status: 'active' } })).status, 200);

    // The healthy receiver has both events, in order, while the hanging one has not answered once.
    await receiver.waitFor(() => receiver.at('/ok/r-ok').length === 2);
    assert.deepEqual(
      receiver.at('/ok/r-ok').map((r) => r.event.data.status),
      ['suspended', 'active'],
    );
    // The flaky one: the first event three times (same id), then the second, never the second before the first.
    await receiver.waitFor(() => receiver.at('/flaky/').length === 4);
    const flaky = receiver.at('/flaky/');
    assert.deepEqual(
      flaky.map((r) => r.event.data.status),
      ['suspended', 'suspended', 'suspended', 'active'],
    );
    assert.equal(new Set(flaky.slice(0, 3).map((r) => r.event.id)).size, 1);
    const deliveries = async (name: string) =>
      (
        await t.call('GET', `${t.b.hub.arm}/providers/Stackledger.Notifications/webhooks/${name}/deliveries?${API}`, {
          token: p2,
        })
      ).body.value;
    // The receiver has answered; the hub records the outcome just after.
    let flakyLog = await deliveries('r-flaky');
    while (flakyLog.some((d: { properties: { status: string } }) => d.properties.status === 'Pending')) {
      await new Promise((r) => setTimeout(r, 50));
      flakyLog = await deliveries('r-flaky');
    }
    assert.deepEqual(
      flakyLog.map((d: { properties: { status: string; attempts: number } }) => [
        d.properties.status,
        d.properties.attempts,
      ]),
      [
        ['Delivered', 1],
        ['Delivered', 3],
      ],
    );
    // The always-failing receiver: tried for its whole (shortened) day, then given up; its second
    // event goes only after the first is given up.
    await receiver.waitFor(() => receiver.at('/fail/').some((r) => r.event.data.status === 'active'));
    const failed = await deliveries('r-fail');
    const first = failed.find((d: { properties: { eventType: string } }) => d.properties.eventType) as {
      properties: { status: string; lastStatusCode: number; lastError: string };
    };
    assert.ok(first);
    const statuses = failed.map((d: { properties: { status: string } }) => d.properties.status);
    assert.ok(statuses.includes('Failed'), JSON.stringify(failed));
    const given = failed.find((d: { properties: { status: string } }) => d.properties.status === 'Failed');
    assert.equal(given.properties.lastStatusCode, 500);
    assert.match(given.properties.lastError, /500/);
    const hang = await deliveries('r-hang');
    assert.ok(
      hang.every(
        (d: { properties: { lastError: string | null } }) =>
          !d.properties.lastError || /in time/.test(d.properties.lastError),
      ),
    );
  });

  it('re-sends a delivery with the same id, for its owner only, even while its first attempt is in flight', async () => {
    const c = await customerWithSubscription(t, 'hooks-resend', p2pc);
    assert.equal(
      (
        await put(p2, 'resend', {
          url: `${receiver.base}/gate/resend`,
          events: ['subscription.status_changed'],
          secret: SECRET,
        })
      ).status,
      201,
    );
    const pc = t.b.hub.partnerCenter;
    await t.call('PATCH', `${pc}/v1/customers/${c.customerId}/subscriptions/${c.subscriptionId}`, {
      token: await partner2.token(pc),
      body: { status: 'suspended' },
    });
    // The first attempt has arrived and waits for its answer: the re-send is asked meanwhile.
    await receiver.waitFor(() => receiver.at('/gate/resend').length === 1);
    const id = receiver.at('/gate/resend')[0].event.id;
    const resend = (token: string) =>
      t.call(
        'POST',
        `${t.b.hub.arm}/providers/Stackledger.Notifications/webhooks/resend/deliveries/${id}/resend?${API}`,
        {
          token,
        },
      );
    assert.equal((await resend(csp)).status, 404, 'the system administrators do not own this webhook');
    assert.equal((await resend(p2)).status, 202);
    receiver.openGate();
    await receiver.waitFor(() => receiver.at('/gate/resend').length === 2);
    assert.equal(receiver.at('/gate/resend')[1].event.id, id);
    assert.equal(receiver.at('/gate/resend')[1].body, receiver.at('/gate/resend')[0].body);
  });

  it('tells of registration changes', async () => {
    assert.equal(
      (await put(csp, 'regs', { url: `${receiver.base}/ok/regs`, events: ['registration.changed'], secret: SECRET }))
        .status,
      201,
    );
    const { registrationSubscriptionId: sub, resourceGroup: rg, registrationName: name } = t.b.csp;
    const reg = `${t.b.hub.arm}/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.AzureStack/registrations/${name}`;
    assert.equal((await t.call('POST', `${reg}/revokeMultiTenancy?${API}`, { token: csp })).status, 200);
    assert.equal((await t.call('POST', `${reg}/approveMultiTenancy?${API}`, { token: csp })).status, 200);
    await receiver.waitFor(() => receiver.at('/ok/regs').length === 2);
    assert.deepEqual(
      receiver.at('/ok/regs').map((r) => r.event.data.change),
      ['multiTenancyRevoked', 'multiTenancyApproved'],
    );
    assert.equal(receiver.at('/ok/regs')[0].event.data.registrationId, new URL(reg).pathname);
  });
});
