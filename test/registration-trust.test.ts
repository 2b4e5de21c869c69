// The trust boundary of registrations and usage reports, attacked as a customer would: a customer
// admin (Owner of its own CSP subscription) makes an application in its own directory, registers it
// as the real deployment with a token of its own making or with the deployment's real token, and
// reports usage in the deployment's name. Each step fails closed and writes nothing, and the real
// deployment keeps delivering. Then a folder from before the rule, holding two live registrations
// of one cloud id, is restarted: the hub reports them and keeps both.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import type { UndeclaredJson } from '../src/core/http-client.ts';
import { DEPLOYMENT } from '../src/arm/roles.ts';
import { signRegistrationToken } from '../src/core/registration-token.ts';
import { withDatabase } from '../src/db/database.ts';
import { newRegistrationKey, registrationKeyOf } from '../src/stack/registration-key.ts';
import { usageStore } from '../src/usage/store.ts';
import { startSystem } from '../src/system/up.ts';
import { applicationWithRegistrationKey, testDeployment, type TestDeployment } from './helpers/deployment.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody, vmUrl } from './helpers/stack.ts';
import { stackApplicationToken as deploymentToken } from './helpers/secrets.ts';
import { clientCredentialsToken, startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const API = 'api-version=2017-06-01';
const SYS = 'api-version=2026-11-01';
const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';

describe('the trust boundary of registrations and usage reports', () => {
  let t: TestSystem;
  let hubDb: pg.Client;
  let csp: string;
  let cloudId: string;
  let victim: CustomerWithSubscription & { user: string; sub: string };
  let mallory: CustomerWithSubscription & { arm: string; graph: string; app: TestDeployment };

  const cspRegistrations = () =>
    `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/${t.b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations`;
  const malloryRegistration = (name = 'stack-local') =>
    `${t.b.hub.arm}/subscriptions/${mallory.subscriptionId}/resourceGroups/azurestack/providers/Microsoft.AzureStack/registrations/${name}`;
  const put = (url: string, token: string, registrationToken: string) =>
    t.call('PUT', `${url}?${API}`, { token, body: { location: 'global', properties: { registrationToken } } });
  const count = async (query: string, params: unknown[] = []) => Number((await hubDb.query(query, params)).rows[0].n);
  const registrationRows = () => count('select count(*) as n from registrations');
  const usageRows = () => count('select count(*) as n from usage_received');
  const operatorAdmin = async () => t.appToken('operator', t.b.stacks.local.adminArm);
  const bridge = async () =>
    (
      await t.call('GET', `${t.b.stacks.local.adminArm}/providers/Stackledger.System/bridge?${SYS}`, {
        token: await operatorAdmin(),
      })
    ).body;
  const advance = (duration: string) =>
    t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${SYS}`, {
      token: csp,
      body: { duration },
    });
  const realToken = async () =>
    (
      await t.http.call('POST', `${t.b.stacks.local.adminArm}/providers/Stackledger.System/registrationToken?${SYS}`, {
        token: await operatorAdmin(),
        body: { billingModel: 'PayAsYouUse' },
      })
    ).registrationToken as string;
  /** A usage record as the bridge sends it, billed to a directory's tenant subscription. */
  const record = (tenantId: string, subscriptionId: string, quantity: string) => ({
    resourceId: randomUUID(),
    resourceUri: `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/forged`,
    meterId: BASE,
    hour: '2026-07-01T01:00:00Z',
    revision: 1,
    quantity,
    subscriptionId,
    tenantId,
    location: 'local',
  });
  const report = (token: string, body: unknown) =>
    t.call('POST', `${t.b.hub.arm}/providers/Microsoft.AzureStack/usageReports?${SYS}`, { token, body });

  const stackApplicationToken = (resource = t.b.hub.arm) => deploymentToken(t, resource);

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-07-01T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    cloudId = t.b.stacks.local.cloudId;
    hubDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await hubDb.connect();
    // The victim runs a VM on the deployment, its subscription registered there.
    const v = await customerWithSubscription(t, 'victim');
    victim = { ...v, ...(await tenantSubscription(t, v, 'victim')) };
    assert.equal(
      (await t.call('PUT', vmUrl(t, victim.sub, 'vm'), { token: victim.user, body: vmBody('Standard_A2_v2') })).status,
      201,
    );
    assert.equal(
      (
        await t.call(
          'PUT',
          `${cspRegistrations()}/${t.b.csp.registrationName}/customerSubscriptions/${v.subscriptionId}?${API}`,
          { token: csp, body: { properties: {} } },
        )
      ).status,
      200,
    );
    // Mallory: the Owner of its own CSP subscription, with a resource group for registrations and an
    // application with a registration key of its own, made as its directory's administrator may.
    const m = await customerWithSubscription(t, 'mallory');
    const arm = await t.userToken(m.customerId, m.admin.userName, m.admin.password, t.b.hub.arm);
    const graph = await t.userToken(m.customerId, m.admin.userName, m.admin.password, t.b.hub.graph);
    assert.equal(
      (
        await t.call(
          'PUT',
          `${t.b.hub.arm}/subscriptions/${m.subscriptionId}/resourcegroups/azurestack?api-version=2019-10-01`,
          { token: arm, body: { location: 'global' } },
        )
      ).status,
      201,
    );
    const app = await applicationWithRegistrationKey({
      http: t.http,
      hub: t.b.hub,
      graphToken: graph,
      tenantId: m.customerId,
      name: 'mallory-stack',
    });
    mallory = { ...m, arm, graph, app };
    await advance('PT2H');
  });
  after(async () => {
    await hubDb?.end();
    await t?.stop();
  });

  it("publishes the stack's registration certificate on its application, as Graph keyCredentials (never the key)", async () => {
    const graph = await t.appToken('operator', t.b.hub.graph);
    const app = await t.call('GET', `${t.b.hub.graph}/v1.0/applications/${t.b.stacks.local.applicationId}`, {
      token: graph,
    });
    assert.equal(app.status, 200);
    assert.equal(app.body.keyCredentials.length, 1);
    const [key] = app.body.keyCredentials;
    assert.deepEqual([key.type, key.usage, key.key], ['AsymmetricX509Cert', 'Verify', null]);
    assert.match(key.customKeyIdentifier, /^[0-9A-F]{40}$/);
    const header = JSON.parse(Buffer.from((await realToken()).split('.')[0], 'base64url').toString());
    assert.deepEqual(header, { alg: 'ES256', typ: 'JWT', kid: key.customKeyIdentifier });
    // Another directory's administrator neither reads nor changes it.
    assert.equal(
      (
        await t.call('GET', `${t.b.hub.graph}/v1.0/applications/${t.b.stacks.local.applicationId}`, {
          token: mallory.graph,
        })
      ).status,
      404,
    );
    const keyCredentials = [
      {
        type: 'AsymmetricX509Cert',
        usage: 'Verify',
        key: registrationKeyOf(await newRegistrationKey('x'), 'x').keyCredential.key,
      },
    ];
    const hijack = await t.call('PATCH', `${t.b.hub.graph}/v1.0/applications/${t.b.stacks.local.applicationId}`, {
      token: mallory.graph,
      body: { keyCredentials },
    });
    assert.equal(hijack.status, 404);
    const bad = await t.call('PATCH', `${t.b.hub.graph}/v1.0/applications/${mallory.app.appId}`, {
      token: mallory.graph,
      body: { keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: 'bm90IGEgY2VydA==' }] },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'Request_BadRequest');
  });

  it('refuses a token the deployment did not sign (400 InvalidRegistrationToken), and writes nothing', async () => {
    const before = await registrationRows();
    const expectRefused = async (
      what: string,
      registrationToken: string,
      token = mallory.arm,
      url = malloryRegistration(),
    ) => {
      const res = await put(url, token, registrationToken);
      assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(Object.keys(res.body), ['error']);
      assert.equal(res.body.error.code, 'InvalidRegistrationToken', what);
      assert.equal((await t.call('GET', `${url}?${API}`, { token })).status, 404, `${what}: nothing registered`);
    };
    // Mallory's own application signs a token naming the real cloud id and itself: it is no deployment.
    await expectRefused(
      'signed by a principal without the Deployment role',
      await mallory.app.token({ CloudId: cloudId }),
    );
    // The CSP cannot register it either: the role, not the caller, makes a deployment.
    await expectRefused(
      'the same, PUT by the CSP',
      await mallory.app.token({ CloudId: cloudId }),
      csp,
      `${cspRegistrations()}/mallory`,
    );
    // The old unsigned shape (base64 JSON), naming the deployment's own service principal.
    const stackSp = (await hubDb.query('select object_id from registrations where cloud_id = $1', [cloudId])).rows[0]
      .object_id;
    const legacy = Buffer.from(
      JSON.stringify({ CloudId: cloudId, ObjectId: stackSp, BillingModel: 'PayAsYouUse' }),
    ).toString('base64');
    await expectRefused('unsigned', legacy);
    // The deployment's service principal and its key's kid, with a signature of another key.
    const kid = JSON.parse(Buffer.from((await realToken()).split('.')[0], 'base64url').toString()).kid;
    const other = registrationKeyOf(await newRegistrationKey('forger'), 'forger');
    await expectRefused(
      'signed by another key',
      await signRegistrationToken(
        { CloudId: cloudId, ObjectId: stackSp, BillingModel: 'PayAsYouUse' },
        { ...other.signer, kid },
      ),
    );
    // The real token with its payload changed (another cloud id) no longer verifies.
    const [h, , sig] = (await realToken()).split('.');
    const payload = Buffer.from(
      JSON.stringify({ CloudId: randomUUID(), ObjectId: stackSp, BillingModel: 'PayAsYouUse' }),
    ).toString('base64url');
    await expectRefused('tampered', `${h}.${payload}.${sig}`);
    assert.equal(await registrationRows(), before);
  });

  it("cannot make its own application a deployment: the role is assignable only at '/', by a system administrator", async () => {
    const assign = (scope: string) =>
      t.call(
        'PUT',
        `${t.b.hub.arm}${scope}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`,
        {
          token: mallory.arm,
          body: {
            properties: {
              roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${DEPLOYMENT}`,
              principalId: mallory.app.objectId,
            },
          },
        },
      );
    assert.equal((await assign('')).status, 403);
    const inOwn = await assign(`/subscriptions/${mallory.subscriptionId}`);
    assert.equal(inOwn.status, 400);
    assert.equal(inOwn.body.error.code, 'InvalidRoleAssignmentScope');
    assert.equal(
      await count('select count(*) as n from role_assignments where principal_id = $1', [mallory.app.objectId]),
      0,
    );
  });

  it('refuses the real token elsewhere (409 RegistrationAlreadyExists): one deployment, one registration', async () => {
    const before = await registrationRows();
    const token = await realToken();
    for (const [what, url, caller] of [
      ["in Mallory's own subscription", malloryRegistration(), mallory.arm],
      ['under another name by the CSP', `${cspRegistrations()}/second-name`, csp],
    ] as const) {
      const res = await put(url, caller, token);
      assert.equal(res.status, 409, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'RegistrationAlreadyExists', what);
      assert.equal(
        (await t.call('GET', `${url}?${API}`, { token: caller })).status,
        404,
        `${what}: nothing registered`,
      );
    }
    assert.equal(await registrationRows(), before);
    // The registration that holds it takes the token again (the stack re-registers at every start).
    assert.equal((await put(`${cspRegistrations()}/${t.b.csp.registrationName}`, csp, token)).status, 200);
  });

  it('lets one of two concurrent PUTs of a new cloud id win; the other registers it once the first is deleted', async () => {
    const fresh = await testDeployment(t, 'fresh');
    const token = await fresh.token();
    const names = ['race-a', 'race-b', 'race-c'];
    const results = await Promise.all(names.map((n) => put(`${cspRegistrations()}/${n}`, csp, token)));
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409], JSON.stringify(results.map((r) => r.body)));
    const winner = names[results.findIndex((r) => r.status === 201)];
    const loser = names.find((n) => n !== winner)!;
    assert.equal(
      await count('select count(*) as n from registrations where cloud_id = $1 and deleted_at is null', [
        JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).CloudId,
      ]),
      1,
    );
    // Moving a deployment: delete its registration first.
    assert.equal((await t.call('DELETE', `${cspRegistrations()}/${winner}?${API}`, { token: csp })).status, 200);
    assert.equal((await put(`${cspRegistrations()}/${loser}`, csp, token)).status, 201);
  });

  it("refuses usage in the deployment's name from anyone but the principal its registration names (403), and writes nothing", async () => {
    const before = await usageRows();
    const forged = {
      cloudId,
      batchId: randomUUID(),
      records: [record(victim.customerId, victim.sub, '100000'), record(mallory.customerId, randomUUID(), '-500')],
    };
    const expect403 = async (what: string, token: string, body: unknown = forged) => {
      const res = await report(token, body);
      assert.equal(res.status, 403, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'AuthorizationFailed', what);
    };
    await expect403("Mallory's application", await mallory.app.signIn(t.b.hub.arm));
    await expect403("Mallory's administrator", mallory.arm);
    await expect403('the CSP', csp);
    // A real deployment, but not this one: its role is no licence for another cloud id.
    const other = await testDeployment(t, 'other');
    await expect403('another deployment', await other.signIn(t.b.hub.arm));
    // The deployment itself, with a record naming another deployment.
    const stack = await stackApplicationToken();
    await expect403('a record of another cloud id', stack, {
      cloudId,
      batchId: randomUUID(),
      records: [{ ...record(victim.customerId, victim.sub, '1'), cloudId: randomUUID() }],
    });
    assert.equal(await usageRows(), before, 'nothing was written');

    // The real deployment keeps delivering.
    const delivered = (await bridge()).delivered;
    await advance('PT3H');
    const status = await bridge();
    assert.equal(status.lastError, null);
    assert.equal(status.outbox, 0);
    assert.equal(status.delivered, delivered + 2 * 3, 'two meters of the VM for three more hours');
    assert.ok((await usageRows()) > before);
    assert.equal(await count('select count(*) as n from usage_received where quantity >= 100000 or quantity < 0'), 0);
  });

  it('refuses records the hub cannot hold (400 InvalidRequestContent, naming the record), and writes nothing', async () => {
    const before = await usageRows();
    const stack = await stackApplicationToken();
    const good = record(victim.customerId, victim.sub, '1');
    const bad: [string, Record<string, unknown>][] = [
      ['an hour that is no instant', { hour: 'yesterday' }],
      ['a day that does not exist', { hour: '2026-02-30T00:00:00Z' }],
      ['a revision past an int', { revision: 2 ** 31 }],
      ['a quantity past numeric(38, 9)', { quantity: `1${'0'.repeat(29)}` }],
    ];
    for (const [what, change] of bad) {
      const res = await report(stack, {
        cloudId,
        batchId: randomUUID(),
        records: [good, { ...good, resourceId: randomUUID(), ...change }],
      });
      assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'InvalidRequestContent', what);
      assert.match(res.body.error.message, /records(\[1\]|\.1)/, what);
    }
    assert.equal(await usageRows(), before, 'nothing was written');
  });

  it('stores every text as sent (tabs, line ends, backslashes), one row per record, billed as the link says', async () => {
    // A new batch is copied in (COPY's text format); none of its fields may make a column or a row
    // of its own, whatever it holds.
    const stack = await stackApplicationToken();
    const odd = 'a\tb\nc\rd\\e\\N\\.\\\n é😀';
    const forged = `\tdeployment:${randomUUID()}\t${randomUUID()}\n${'x\t'.repeat(16)}`;
    const records = [
      {
        ...record(victim.customerId, victim.sub, '1.5'),
        resourceId: `id${odd}`,
        resourceUri: `/x/${odd}`,
        location: odd,
        tags: { k: odd },
      },
      { ...record(victim.customerId, victim.sub, '2.5'), resourceUri: forged, location: forged, tags: { k: 'v' } },
    ];
    const batchId = randomUUID();
    const res = await report(stack, { cloudId, batchId, records });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([res.body.new, res.body.duplicates], [2, 0]);
    const stored = (
      await hubDb.query(
        `select resource_id, resource_uri, location, tags, billed_subscription_id::text, link_id is not null as linked, source
         from usage_received where batch_id = $1 order by quantity`,
        [batchId],
      )
    ).rows;
    assert.deepEqual(
      stored.map((r) => [r.resource_id, r.resource_uri, r.location, r.tags]),
      records.map((r) => [r.resourceId, r.resourceUri, r.location, r.tags]),
    );
    for (const r of stored) {
      assert.equal(r.source, `deployment:${cloudId}`);
      assert.equal(r.billed_subscription_id, victim.subscriptionId, "billed to the victim's customer subscription");
      assert.ok(r.linked);
    }
    // The same batch again: each record is a duplicate.
    const again = await report(stack, { cloudId, batchId: randomUUID(), records });
    assert.deepEqual([again.status, again.body.new, again.body.duplicates], [200, 0, 2]);
    assert.equal(await count('select count(*) as n from usage_received where batch_id = $1', [batchId]), 2);
    // A batch that COPY refused would still be stored, by the statement: so the COPY itself is
    // asked to store such a batch, and must (its answer is undefined when it did not).
    const pool = new pg.Pool({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    try {
      const registration = (await hubDb.query('select * from registrations where cloud_id = $1', [cloudId])).rows[0];
      const copied = records.map((r) => ({ ...r, resourceId: `${r.resourceId}${randomUUID()}` }));
      const byCopy = randomUUID();
      const batch = {
        cloudId,
        registrationId: registration.id,
        registrationSubscriptionId: registration.subscription_id,
        batchId: byCopy,
        receivedAt: new Date(),
        records: copied,
        hours: copied.map((r) => new Date(r.hour)),
      };
      const answer = await usageStore.copyIfAllNew(pool, batch);
      assert.deepEqual(answer, { received: 2, new: 2 });
      const rows = (
        await hubDb.query(
          `select resource_id, resource_uri, location, tags, billed_subscription_id::text
           from usage_received where batch_id = $1 order by quantity`,
          [byCopy],
        )
      ).rows;
      assert.deepEqual(
        rows.map((r) => [r.resource_id, r.resource_uri, r.location, r.tags, r.billed_subscription_id]),
        copied.map((r) => [r.resourceId, r.resourceUri, r.location, r.tags, victim.subscriptionId]),
      );
      // Held keys: the COPY stores nothing and says so.
      assert.equal(await usageStore.copyIfAllNew(pool, { ...batch, batchId: randomUUID() }), undefined);
      assert.equal(await count('select count(*) as n from usage_received where batch_id = $1', [byCopy]), 2);
    } finally {
      await pool.end();
    }
  });

  it("gives the deployment's application no rights over the hub: prices and the clock answer 403", async () => {
    const stack = await stackApplicationToken();
    const price = await t.call(
      'PUT',
      `${t.b.hub.arm}/providers/Stackledger.Billing/priceSheets/list/meters/${BASE}?${SYS}`,
      {
        token: stack,
        body: { effectiveFrom: '2026-08-01', tiers: [{ unitPrice: '0' }] },
      },
    );
    assert.equal(price.status, 403, JSON.stringify(price.body));
    assert.equal(price.body.error.code, 'AuthorizationFailed');
    const clock = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${SYS}`, {
      token: stack,
      body: { duration: 'P30D' },
    });
    assert.equal(clock.status, 403);
    assert.equal(clock.body.error.code, 'AuthorizationFailed');
  });

  it('serves /portal/config.json without any cloud id', async () => {
    const res = await t.call('GET', `${t.b.hub.portal}/config.json`);
    assert.equal(res.status, 200);
    assert.ok(res.body.stacks.length > 0);
    assert.ok(!JSON.stringify(res.body).toLowerCase().includes(cloudId), 'no cloud id');
    assert.ok(res.body.stacks.every((s: object) => !('cloudId' in s)));
  });
});

describe('a folder from before the rule, with two live registrations of one cloud id', () => {
  it('is reported at start and keeps both until an administrator deletes one', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'stackledger-trust-'));
    const t = await startTestSystem({ dataDir, clock: new Date('2026-07-01T00:00:00Z') });
    let restarted: Awaited<ReturnType<typeof startSystem>> | undefined;
    const hubDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    try {
      await hubDb.connect();
      const cloudId = t.b.stacks.local.cloudId;
      // What an old folder could hold: a second live registration of the deployment, with an unsigned token.
      const legacyToken = Buffer.from(
        JSON.stringify({ CloudId: cloudId, ObjectId: randomUUID(), BillingModel: 'PayAsYouUse' }),
      ).toString('base64');
      await hubDb.query(
        `insert into registrations (id, subscription_id, resource_group, resource_group_key, name, name_key, location, tags, object_id, cloud_id, billing_model,
                                    registration_token, multi_tenancy_approved, etag, created_at, updated_at)
         select gen_random_uuid(), subscription_id, resource_group, resource_group_key, 'legacy-copy', 'legacy-copy', location, '{}', $2, cloud_id, billing_model,
                $3, false, gen_random_uuid()::text, created_at + interval '1 second', updated_at
         from registrations where cloud_id = $1 and deleted_at is null`,
        [cloudId, JSON.parse(Buffer.from(legacyToken, 'base64').toString()).ObjectId, legacyToken],
      );
      const graph = await t.appToken('operator', t.b.hub.graph);
      const keyBefore = (
        await t.call('GET', `${t.b.hub.graph}/v1.0/applications/${t.b.stacks.local.applicationId}`, { token: graph })
      ).body.keyCredentials[0].customKeyIdentifier;
      await t.system.stop();

      const lines: UndeclaredJson[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
      restarted = await startSystem({
        port: 0,
        dataDir,
        databaseUrl: withDatabase(testServerUrl(), t.dbPrefix),
        clock: new Date('2026-07-01T00:00:00Z'),
        logger,
      });
      const b = restarted.bootstrap;
      const warning = lines.find((l) => l.cloudId === cloudId);
      assert.ok(warning, `a warning names the cloud id: ${JSON.stringify(lines)}`);
      assert.equal(warning.registrations.length, 2);
      assert.ok(warning.registrations.some((r: string) => r.endsWith('/registrations/legacy-copy')));
      assert.equal(
        Number(
          (
            await hubDb.query('select count(*) as n from registrations where cloud_id = $1 and deleted_at is null', [
              cloudId,
            ])
          ).rows[0].n,
        ),
        2,
        'both kept',
      );

      // The stack kept its registration key across the restart.
      const http = t.http;
      const graphAfter = await clientCredentialsToken(http, b.hub.login, b.operator, b.hub.graph);
      const keyAfter = (
        await http.call('GET', `${b.hub.graph}/v1.0/applications/${b.stacks.local.applicationId}`, {
          token: graphAfter,
        })
      ).keyCredentials[0].customKeyIdentifier;
      assert.equal(keyAfter, keyBefore);
      // The old row keeps working where its token is not changed (a PATCH of its tags), and goes when deleted.
      const csp = await clientCredentialsToken(http, b.hub.login, b.csp, b.hub.arm);
      const legacyUrl = `${b.hub.arm}/subscriptions/${b.csp.registrationSubscriptionId}/resourceGroups/${b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/legacy-copy?${API}`;
      const patch = await http.send('PATCH', legacyUrl, { token: csp, body: { tags: { kept: 'yes' } } });
      assert.equal(patch.status, 200, JSON.stringify(patch.body));
      assert.equal((await http.send('DELETE', legacyUrl, { token: csp })).status, 200);
      assert.equal(
        Number(
          (
            await hubDb.query('select count(*) as n from registrations where cloud_id = $1 and deleted_at is null', [
              cloudId,
            ])
          ).rows[0].n,
        ),
        1,
      );
    } finally {
      await hubDb.end();
      await restarted?.stop();
      await t.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
