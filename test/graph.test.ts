// The directory API's applications and service principals as Microsoft Graph shapes them: separate
// objects with their own ids, the service principal made by `POST /servicePrincipals {appId}` (as
// `az ad sp create-for-rbac` does), found by `$filter`, and named with its right principalType by
// role assignments. Over real HTTP, with a restart for the migration of an existing folder.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { newGuid } from '../src/core/ids.ts';
import { withDatabase } from '../src/db/database.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { dropDatabases, startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const ROLE_ASSIGNMENTS = '2022-04-01';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';

describe('graph: applications and service principals', () => {
  const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
  let dataDir: string;
  let t: TestSystem;
  let a: CustomerWithSubscription;
  let b: CustomerWithSubscription;
  let graphA: string;
  let graphB: string;
  let app: { id: string; appId: string; secret: string };
  let sp: { id: string };

  const start = () => startTestSystem({ dataDir, databaseUrl: withDatabase(testServerUrl(), prefix) });
  const graph = () => t.b.hub.graph;
  const signIn = (tenant: string, clientId: string, secret: string) =>
    t.call('POST', `${t.b.hub.login}/${tenant}/oauth2/token`, {
      form: { grant_type: 'client_credentials', client_id: clientId, client_secret: secret, resource: t.b.hub.arm },
    });
  const list = async (token: string, what: 'servicePrincipals' | 'applications', filter: string) => {
    const res = await t.call('GET', `${graph()}/v1.0/${what}?$filter=${encodeURIComponent(filter)}`, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.value as Array<Record<string, unknown> & { id: string }>;
  };

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'stackledger-graph-'));
    t = await start();
    a = await customerWithSubscription(t, 'graphsa');
    b = await customerWithSubscription(t, 'graphsb');
    graphA = await t.userToken(a.customerId, a.admin.userName, a.admin.password, graph());
    graphB = await t.userToken(b.customerId, b.admin.userName, b.admin.password, graph());
  });
  after(async () => {
    await t?.stop();
    await dropDatabases(prefix);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('makes an application without a service principal: it cannot sign in until one is made', async () => {
    const made = await t.call('POST', `${graph()}/v1.0/applications`, {
      token: graphA,
      body: { displayName: 'ci-deployer', identifierUris: ['api://ci-deployer'] },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const secret = await t.http.call('POST', `${graph()}/v1.0/applications/${made.body.id}/addPassword`, {
      token: graphA,
      body: { passwordCredential: { displayName: 'rbac', startDateTime: new Date().toISOString() } },
    });
    app = { id: made.body.id, appId: made.body.appId, secret: secret.secretText };
    assert.deepEqual(await list(graphA, 'servicePrincipals', `appId eq '${app.appId}'`), []);
    const refused = await signIn(a.customerId, app.appId, app.secret);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'unauthorized_client');
    assert.deepEqual(refused.body.error_codes, [700016]);
  });

  it('creates the service principal with POST {appId}: its own id, once (409 the second time)', async () => {
    const created = await t.call('POST', `${graph()}/v1.0/servicePrincipals`, {
      token: graphA,
      // az sends accountEnabled along.
      body: { appId: app.appId, accountEnabled: true },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    sp = created.body;
    assert.notEqual(created.body.id, app.appId);
    assert.equal(created.body.appId, app.appId);
    assert.equal(created.body.appOwnerOrganizationId, a.customerId);
    assert.equal(created.body.servicePrincipalType, 'Application');
    assert.deepEqual(created.body.servicePrincipalNames, [app.appId, 'api://ci-deployer']);

    const again = await t.call('POST', `${graph()}/v1.0/servicePrincipals`, {
      token: graphA,
      body: { appId: app.appId.toUpperCase() },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'Request_MultipleObjectsWithSameKeyValue');
    assert.match(again.body.error.message, new RegExp(app.appId));

    for (const appId of [randomUUID(), 'not-a-guid']) {
      const unknown = await t.call('POST', `${graph()}/v1.0/servicePrincipals`, { token: graphA, body: { appId } });
      assert.equal(unknown.status, 400, appId);
      assert.equal(unknown.body.error.code, 'Request_BadRequest');
    }

    const token = await signIn(a.customerId, app.appId, app.secret);
    assert.equal(token.status, 200, JSON.stringify(token.body));
    assert.equal(decodeJwt(token.body.access_token).oid, sp.id, 'the application signs in as its service principal');
    assert.equal(decodeJwt(token.body.access_token).appid, app.appId);
  });

  it('finds service principals and applications by $filter, and refuses what it cannot read', async () => {
    const byAppId = await list(graphA, 'servicePrincipals', `appId eq '${app.appId}'`);
    assert.deepEqual(
      byAppId.map((s) => s.id),
      [sp.id],
    );
    assert.deepEqual(
      (await list(graphA, 'servicePrincipals', "displayName eq 'CI-Deployer'")).map((s) => s.id),
      [sp.id],
    );
    assert.deepEqual(
      (await list(graphA, 'servicePrincipals', "servicePrincipalNames/any(c:c eq 'api://ci-deployer')")).map(
        (s) => s.id,
      ),
      [sp.id],
    );
    assert.deepEqual(
      (await list(graphA, 'servicePrincipals', `servicePrincipalNames/any(x:x eq '${app.appId}')`)).map((s) => s.id),
      [sp.id],
    );
    const one = await t.call('GET', `${graph()}/v1.0/servicePrincipals/${sp.id}`, { token: graphA });
    assert.equal(one.status, 200);
    assert.equal(one.body.appDisplayName, 'ci-deployer');

    const apps = await list(graphA, 'applications', `appId eq '${app.appId}'`);
    assert.deepEqual(
      apps.map((x) => [x.id, x.appId, x.displayName]),
      [[app.id, app.appId, 'ci-deployer']],
    );
    assert.deepEqual(
      (apps[0].passwordCredentials as Array<{ displayName: string; secretText: unknown }>).map((c) => [
        c.displayName,
        c.secretText,
      ]),
      [['rbac', null]],
      'its secrets are listed without their text',
    );
    assert.equal((await list(graphA, 'applications', "startswith(displayName,'ci-')")).length, 1);
    assert.equal((await list(graphA, 'applications', "identifierUris/any(s:s eq 'api://ci-deployer/')")).length, 1);
    assert.deepEqual(await list(graphA, 'applications', "displayName eq 'ci-deployer' and appId eq 'x'"), []);
    // A quote inside a value is the value's, never the query's.
    assert.deepEqual(await list(graphA, 'servicePrincipals', "displayName eq 'x'' or ''1''=''1'"), []);

    for (const filter of [
      "accountEnabled eq 'true'",
      'appId eq 1',
      "appId eq 'x' or appId eq 'y'",
      "appId eq 'x'  garbage",
    ]) {
      const bad = await t.call('GET', `${graph()}/v1.0/servicePrincipals?$filter=${encodeURIComponent(filter)}`, {
        token: graphA,
      });
      assert.equal(bad.status, 400, filter);
      assert.equal(bad.body.error.code, 'Request_UnsupportedQuery', filter);
    }

    // Directory objects, typed as Graph types them (what a stack reads for principalType).
    const asObject = await t.call('GET', `${graph()}/v1.0/directoryObjects/${sp.id}`, { token: graphA });
    assert.equal(asObject.status, 200);
    assert.equal(asObject.body['@odata.type'], '#microsoft.graph.servicePrincipal');
    assert.equal(asObject.body.appId, app.appId);
    const me = await t.http.call('GET', `${graph()}/v1.0/users/${encodeURIComponent(a.admin.userName)}`, {
      token: graphA,
    });
    const user = await t.call('GET', `${graph()}/v1.0/directoryObjects/${me.id}`, { token: graphA });
    assert.equal(user.body['@odata.type'], '#microsoft.graph.user');
    for (const id of [app.appId, 'not-a-guid']) {
      const none = await t.call('GET', `${graph()}/v1.0/directoryObjects/${id}`, { token: graphA });
      assert.equal(none.status, 404, id);
    }

    // Another directory's administrator sees none of A's objects.
    assert.deepEqual(await list(graphB, 'servicePrincipals', `appId eq '${app.appId}'`), []);
    assert.deepEqual(await list(graphB, 'applications', `appId eq '${app.appId}'`), []);
    for (const url of [`servicePrincipals/${sp.id}`, `directoryObjects/${sp.id}`, `directoryObjects/${me.id}`]) {
      const foreign = await t.call('GET', `${graph()}/v1.0/${url}`, { token: graphB });
      assert.equal(foreign.status, 404, url);
      assert.equal(foreign.body.error.code, 'Request_ResourceNotFound');
    }
  });

  it("never lets a directory's user create a service principal in a directory it does not administer", async () => {
    // A plain member of A.
    const password = 'Member-Passw0rd!';
    await t.http.call('POST', `${graph()}/v1.0/users`, {
      token: graphA,
      body: {
        displayName: 'member',
        userPrincipalName: 'member@graphsa.onstackledger.local',
        passwordProfile: { password },
      },
    });
    const member = await t.userToken(a.customerId, 'member@graphsa.onstackledger.local', password, graph());
    const other = await t.http.call('POST', `${graph()}/v1.0/applications`, {
      token: graphA,
      body: { displayName: 'second' },
    });
    const denied = await t.call('POST', `${graph()}/v1.0/servicePrincipals`, {
      token: member,
      body: { appId: other.appId },
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'Authorization_RequestDenied');

    // B's administrator may only consent in B: the principal is made there, never in A.
    const consent = await t.call('POST', `${graph()}/v1.0/servicePrincipals`, {
      token: graphB,
      body: { appId: other.appId },
    });
    assert.equal(consent.status, 201);
    assert.equal(consent.body.appOwnerOrganizationId, a.customerId);
    assert.deepEqual(await list(graphA, 'servicePrincipals', `appId eq '${other.appId}'`), []);
    assert.deepEqual(
      (await list(graphB, 'servicePrincipals', `appId eq '${other.appId}'`)).map((s) => s.id),
      [consent.body.id],
    );
    // The member made nothing.
    assert.equal((await list(graphA, 'servicePrincipals', "displayName eq 'second'")).length, 0);
  });

  it('records principalType from the directory, whatever the caller claims', async () => {
    const arm = await t.userToken(a.customerId, a.admin.userName, a.admin.password, t.b.hub.arm);
    const assign = (principalId: string, principalType: string) =>
      t.call(
        'PUT',
        `${t.b.hub.arm}/subscriptions/${a.subscriptionId}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=${ROLE_ASSIGNMENTS}`,
        {
          token: arm,
          body: {
            properties: {
              roleDefinitionId: `/subscriptions/${a.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
              principalId,
              principalType,
            },
          },
        },
      );
    const toSp = await assign(sp.id, 'User');
    assert.equal(toSp.status, 201, JSON.stringify(toSp.body));
    assert.equal(toSp.body.properties.principalType, 'ServicePrincipal');
    const me = await t.http.call('GET', `${graph()}/v1.0/users/${encodeURIComponent(a.admin.userName)}`, {
      token: graphA,
    });
    const bob = await t.http.call('POST', `${graph()}/v1.0/users`, {
      token: graphA,
      body: {
        displayName: 'bob',
        userPrincipalName: 'bob@graphsa.onstackledger.local',
        passwordProfile: { password: 'Bob-Passw0rd!' },
      },
    });
    assert.notEqual(bob.id, me.id);
    const toUser = await assign(bob.id, 'ServicePrincipal');
    assert.equal(toUser.status, 201, JSON.stringify(toUser.body));
    assert.equal(toUser.body.properties.principalType, 'User');
    // The application's id is not a principal: role assignments name its service principal.
    const toApp = await assign(app.appId, 'ServicePrincipal');
    assert.equal(toApp.status, 400);
    assert.equal(toApp.body.error.code, 'PrincipalNotFound');

    // The service principal reads the subscription with the role it was given.
    const token = (await signIn(a.customerId, app.appId, app.secret)).body.access_token;
    const read = await t.call('GET', `${t.b.hub.arm}/subscriptions/${a.subscriptionId}?api-version=2020-01-01`, {
      token,
    });
    assert.equal(read.status, 200, JSON.stringify(read.body));
  });

  it('keeps the service principals of an existing folder, ids and all, and gives one to an application that had none', async () => {
    const cspGraph = await t.appToken('csp', graph());
    const before = await list(cspGraph, 'servicePrincipals', `appId eq '${t.b.csp.clientId}'`);
    assert.deepEqual(
      before.map((s) => s.id),
      [decodeJwt(cspGraph).oid],
    );
    const orphan = await t.http.call('POST', `${graph()}/v1.0/applications`, {
      token: graphA,
      body: { displayName: 'made before' },
    });
    await t.stop();
    // The folder as the version before left it: this migration not yet run.
    const db = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${prefix}_hub`) });
    await db.connect();
    try {
      await db.query(`delete from kysely_migration where name = '0105_service_principal_objects'`);
    } finally {
      await db.end();
    }
    t = await start();
    const graphAgain = await t.userToken(a.customerId, a.admin.userName, a.admin.password, graph());
    const made = await list(graphAgain, 'servicePrincipals', `appId eq '${orphan.appId}'`);
    assert.equal(made.length, 1);
    assert.notEqual(made[0].id, orphan.appId);
    assert.deepEqual(
      (await list(graphAgain, 'servicePrincipals', `appId eq '${app.appId}'`)).map((s) => s.id),
      [sp.id],
      'the one that existed keeps its id',
    );
    const cspArm = await t.appToken('csp', t.b.hub.arm);
    assert.equal(decodeJwt(cspArm).oid, before[0].id, 'the CSP signs in as the same service principal');
    // The CSP's role at '/' names that principal: its administration still works.
    const clock = await t.call('GET', `${t.b.hub.arm}/providers/Stackledger.System/clock?api-version=2026-11-01`, {
      token: cspArm,
    });
    assert.equal(clock.status, 200, JSON.stringify(clock.body));
  });
});
