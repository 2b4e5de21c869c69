// Several hub processes on one database, behind one address (a TCP balancer here, `--public-url`):
// started at the same moment on an empty database they make one CSP, one signing key, one set of
// credentials; over a simulated week across a month's end, with usage posted to each, each job is
// done by one process at a time, so the totals and the invoices are what one hub would make: every
// event once, one invoice per buyer and period.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Decimal } from 'decimal.js';
import pg from 'pg';
import { HttpClient } from '../src/core/http-client.ts';
import { newGuid } from '../src/core/ids.ts';
import { SECRETS_KEY_ENV } from '../src/core/sealed.ts';
import { withDatabase } from '../src/db/database.ts';
import { startBackground, type Background } from './helpers/cli.ts';
import { tcpRelay, type TcpRelay } from './helpers/tcp-relay.ts';
import { dropDatabases, testServerUrl, type TestBootstrap } from './helpers/system.ts';

const READY = /Stop with Ctrl\+C/;
const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const T0 = '2026-08-28T00:00:00Z';
const V = 'api-version=2026-11-01';

describe('two hub processes on one database', () => {
  const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
  const dirs: string[] = [];
  const hubs: Background[] = [];
  const files: TestBootstrap[] = [];
  let http: HttpClient;
  const sent: Decimal[] = [];
  let customer: { id: string; sub: string };

  const token = async (b: TestBootstrap, resource: string) =>
    (
      await http.call('POST', `${b.hub.login}/${b.csp.tenantId}/oauth2/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: b.csp.clientId,
          client_secret: b.csp.clientSecret,
          resource,
        },
      })
    ).access_token as string;

  /** A port nobody listens on now. */
  const freePort = () =>
    new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
  let balancer: TcpRelay | undefined;
  /** Each process's own address: the simulated clock is per process, so each is moved directly. */
  const direct: string[] = [];

  before(async () => {
    for (let i = 0; i < 2; i++) dirs.push(await mkdtemp(path.join(tmpdir(), `stackledger-multihub-${i}-`)));
    const ports = [await freePort(), await freePort()];
    let next = 0;
    balancer = await tcpRelay(() => ({ host: '127.0.0.1', port: ports[next++ % ports.length] }));
    const publicUrl = `https://127.0.0.1:${balancer.port}`;
    // The processes of one role share the secrets key (in production, the environment's).
    const env = { [SECRETS_KEY_ENV]: randomBytes(32).toString('base64') };
    const database = withDatabase(testServerUrl(), prefix);
    hubs.push(
      ...(await Promise.all(
        dirs.map((d, i) =>
          startBackground(
            [
              'hub',
              '--data',
              d,
              '--port',
              String(ports[i]),
              '--public-url',
              publicUrl,
              '--database',
              database,
              '--clock',
              T0,
            ],
            READY,
            env,
          ),
        ),
      )),
    );
    for (const [i, d] of dirs.entries()) {
      files.push(JSON.parse(readFileSync(path.join(d, 'bootstrap.json'), 'utf8')));
      direct.push(`https://127.0.0.1:${ports[i]}`);
    }
    http = new HttpClient(files.map((f) => readFileSync(f.caFile, 'utf8')).join('\n'));
  });
  after(async () => {
    // Clients first: a server stopping waits for the connections it is still serving.
    await http?.close();
    for (const h of hubs) h.child.kill('SIGTERM');
    await Promise.all(hubs.map((h) => h.exited));
    await balancer?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await dropDatabases(prefix);
  });

  it('bootstraps once, whichever process comes first', async () => {
    assert.equal(files[0].hub.arm, files[1].hub.arm, 'both name the one public address');
    assert.equal(files[0].csp.tenantId, files[1].csp.tenantId);
    assert.equal(files[0].csp.clientId, files[1].csp.clientId);
    assert.equal(files[0].csp.clientSecret, files[1].csp.clientSecret);
    const db = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${prefix}_hub`) });
    await db.connect();
    try {
      assert.equal(Number((await db.query('select count(*) as n from signing_keys')).rows[0].n), 1, 'one signing key');
      assert.equal(
        Number((await db.query(`select count(*) as n from directories where kind = 'partner'`)).rows[0].n),
        1,
        'one CSP',
      );
    } finally {
      await db.end();
    }
  });

  it('bills a week of usage posted through both once, as one hub would', async () => {
    const b = files[0];
    // A customer made through the balancer, its usage posted to each process in turn.
    const pc = await token(b, b.hub.partnerCenter);
    const made = await http.call('POST', `${b.hub.partnerCenter}/v1/customers`, {
      token: pc,
      body: { companyProfile: { domain: 'multihub', companyName: 'Multi' } },
    });
    const order = await http.call('POST', `${b.hub.partnerCenter}/v1/customers/${made.id}/orders`, {
      token: pc,
      body: { lineItems: [{ offerId: 'MS-AZR-0145P' }] },
    });
    customer = { id: made.id, sub: order.lineItems[0].subscriptionId };
    const arm = await token(b, b.hub.arm);
    for (let day = 0; day < 7; day++) {
      const at = new Date(Date.parse(T0) + day * 86_400_000); // now, on both clocks
      for (const [i, origin] of direct.entries()) {
        const quantity = new Decimal(day + 1).mul(i + 1).div(4);
        const events = [
          {
            specversion: '1.0',
            id: randomUUID(),
            source: 'urn:multihub',
            type: 'usage',
            subject: customer.sub,
            time: at.toISOString(),
            data: { meterId: BASE, quantity: quantity.toFixed(), resourceUri: `/vm/${i}` },
          },
        ];
        const res = await http.send('POST', `${origin}/providers/Stackledger.Usage/events?${V}`, {
          token: arm,
          body: events,
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        sent.push(quantity);
      }
      // The clocks move in step, as the processes' real clocks would.
      const until = new Date(Date.parse(T0) + (day + 1) * 86_400_000).toISOString();
      await Promise.all(
        direct.map((origin) =>
          http.call('POST', `${origin}/providers/Stackledger.System/clock/advance?${V}`, {
            token: arm,
            body: { to: until },
          }),
        ),
      );
    }
    // The ledger holds every event once, and either process answers the same.
    for (const origin of direct) {
      const verify = await http.call('GET', `${origin}/providers/Stackledger.System/usage/verify?${V}`, { token: arm });
      assert.equal(verify.balanced, true);
      assert.equal(new Decimal(verify.received).toFixed(), Decimal.sum(...sent).toFixed());
    }
    // August closed once: one invoice to the customer, the same through both hubs.
    const invoices = await Promise.all(
      direct.map((origin) =>
        http.call(
          'GET',
          `${origin}/providers/Stackledger.Billing/invoices?${V}&period=2026-08&customerId=${customer.id}`,
          { token: arm },
        ),
      ),
    );
    const august = invoices.map((r) =>
      r.value.filter((v: { properties: { kind: unknown } }) => v.properties.kind === 'invoice'),
    );
    assert.equal(august[0].length, 1, JSON.stringify(invoices[0]));
    assert.deepEqual(august[1], august[0]);
    const augustUsage = Decimal.sum(...sent.slice(0, 8));
    const invoice = await http.call(
      'GET',
      `${b.hub.arm}/providers/Stackledger.Billing/invoices/${august[0][0].name}?${V}`,
      { token: arm },
    );
    const billed = invoice.properties.lines.reduce(
      (n: Decimal, l: { quantity: string }) => n.plus(l.quantity),
      new Decimal(0),
    );
    assert.equal(billed.toFixed(), augustUsage.toFixed(), "August's four days of usage, once");
  });
});
