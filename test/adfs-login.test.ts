// The AD FS-style authority that unmodified MSAL clients (the Azure CLI) accept, and the OpenID
// side of user sign-in: id_token, client_info, refresh tokens. Over HTTPS against the running system.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
/** What MSAL adds to every user sign-in's scope. */
const MSAL_SCOPES = 'openid profile offline_access';

describe('the AD FS-style authority and OpenID sign-in', () => {
  let t: TestSystem;
  before(async () => {
    t = await startTestSystem();
  });
  after(() => t.stop());

  const adfsToken = (form: Record<string, string>) =>
    t.call('POST', `${t.b.hub.adfs}/oauth2/token`, { form: { client_info: '1', ...form } });
  const operatorPassword = (scope: string) =>
    adfsToken({
      grant_type: 'password',
      client_id: AZURE_CLI,
      username: t.b.operator.admin.userName,
      password: t.b.operator.admin.password,
      scope,
    });

  it('is what every ARM endpoint names, at the root of the hub origin (where MSAL looks for `adfs`), with the Azure AD-style base beside it', async () => {
    assert.equal(t.b.hub.adfs, `${new URL(t.b.hub.arm).origin}/adfs`);
    for (const endpoint of [t.b.hub.arm, t.b.stacks.local.adminArm, t.b.stacks.local.tenantArm]) {
      const res = await t.call('GET', `${endpoint}/metadata/endpoints?api-version=2015-01-01`);
      assert.equal(res.body.authentication.loginEndpoint, t.b.hub.adfs);
      assert.equal(res.body.authentication.aadLoginEndpoint, t.b.hub.login);
    }
    const config = await t.call('GET', `${t.b.hub.adfs}/.well-known/openid-configuration`);
    assert.equal(config.status, 200);
    assert.equal(config.body.issuer, t.b.hub.adfs);
    assert.equal(config.body.token_endpoint, `${t.b.hub.adfs}/oauth2/token`);
    assert.deepEqual(config.body.grant_types_supported, ['client_credentials', 'password', 'refresh_token']);
    const keys = await t.call('GET', config.body.jwks_uri);
    assert.equal(keys.body.keys.length > 0, true);
    const authorize = await t.call('GET', config.body.authorization_endpoint);
    assert.equal(authorize.body.error, 'unsupported_response_type');
  });

  it("signs a user in to its own directory, with an id_token, client_info and a refresh token, and the token works on the hub's and the stack's endpoints", async () => {
    const res = await operatorPassword(`${t.b.stacks.local.adminArm}/.default ${MSAL_SCOPES}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const keys = createLocalJWKSet((await t.call('GET', `${t.b.hub.adfs}/discovery/keys`)).body);
    const { payload: id } = await jwtVerify(res.body.id_token, keys, { issuer: t.b.hub.adfs, audience: AZURE_CLI });
    assert.equal(id.tid, t.b.operator.tenantId);
    assert.equal(id.upn, t.b.operator.admin.userName);
    assert.equal(id.preferred_username, t.b.operator.admin.userName);
    assert.equal(id.sub, id.oid);
    assert.ok(typeof id.name === 'string' && id.iat && id.nbf && id.exp);
    assert.deepEqual(JSON.parse(Buffer.from(res.body.client_info, 'base64url').toString()), {
      uid: id.oid,
      utid: t.b.operator.tenantId,
    });
    assert.equal(typeof res.body.refresh_token, 'string');
    const access = decodeJwt(res.body.access_token);
    assert.equal(
      access.iss,
      `${t.b.hub.login}/${t.b.operator.tenantId}/v2.0`,
      "access tokens name their directory's issuer",
    );
    const groups = await t.call(
      'GET',
      `${t.b.stacks.local.adminArm}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/resourcegroups?api-version=2019-10-01`,
      {
        token: res.body.access_token,
      },
    );
    assert.equal(groups.status, 200);
  });

  it("works out a service principal's directory from its client id; `resource` asks for the v1 shape", async () => {
    const res = await adfsToken({
      grant_type: 'client_credentials',
      client_id: t.b.csp.clientId,
      client_secret: t.b.csp.clientSecret,
      resource: t.b.hub.arm,
      scope: 'openid',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.expires_in, '3600');
    assert.equal(res.body.id_token, undefined, 'an application has no id_token');
    assert.equal(decodeJwt(res.body.access_token).tid, t.b.csp.tenantId);
    const subs = await t.call('GET', `${t.b.hub.arm}/subscriptions?api-version=2022-12-01`, {
      token: res.body.access_token,
    });
    assert.equal(subs.body.value.length, 1);
  });

  it('serves every resource from one sign-in through the refresh grant, at either authority, each time with a new refresh token', async () => {
    const first = await operatorPassword(`${t.b.hub.arm}/.default ${MSAL_SCOPES}`);
    const graph = await adfsToken({
      grant_type: 'refresh_token',
      client_id: AZURE_CLI,
      refresh_token: first.body.refresh_token,
      scope: `${t.b.hub.graph}/.default ${MSAL_SCOPES}`,
    });
    assert.equal(graph.status, 200, JSON.stringify(graph.body));
    assert.equal(decodeJwt(graph.body.access_token).aud, t.b.hub.graph);
    assert.equal(decodeJwt(graph.body.id_token).upn, t.b.operator.admin.userName);
    const me = await t.call('GET', `${t.b.hub.graph}/v1.0/users/${encodeURIComponent(t.b.operator.admin.userName)}`, {
      token: graph.body.access_token,
    });
    assert.equal(me.status, 200);
    for (const tenant of ['common', t.b.operator.tenantId]) {
      const aad = await t.call('POST', `${t.b.hub.login}/${tenant}/oauth2/token`, {
        form: {
          grant_type: 'refresh_token',
          client_id: AZURE_CLI,
          refresh_token: graph.body.refresh_token,
          resource: t.b.stacks.local.tenantArm,
        },
      });
      assert.equal(aad.status, 200, JSON.stringify(aad.body));
      assert.equal(decodeJwt(aad.body.access_token).tid, t.b.operator.tenantId);
      assert.equal(typeof aad.body.refresh_token, 'string');
    }
    // Without `openid` and `offline_access` a sign-in is the access token alone, as before.
    const plain = await operatorPassword(`${t.b.hub.arm}/.default`);
    assert.deepEqual(
      [plain.body.id_token, plain.body.refresh_token, plain.body.client_info],
      [undefined, undefined, undefined],
    );
  });

  it('refuses refresh tokens that were tampered with, belong to another client, name a directory the user is not in, or whose user was disabled; none is a bearer token', async () => {
    const { refresh_token: rt } = (await operatorPassword(`${t.b.hub.arm}/.default ${MSAL_SCOPES}`)).body;
    const refresh = (form: Record<string, string>, url = `${t.b.hub.adfs}/oauth2/token`) =>
      t.call('POST', url, {
        form: {
          grant_type: 'refresh_token',
          client_id: AZURE_CLI,
          refresh_token: rt,
          scope: `${t.b.hub.arm}/.default`,
          ...form,
        },
      });
    const [head, body, sig] = rt.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = [
      head,
      // Another user: the last digit changed (to one it is not).
      Buffer.from(
        JSON.stringify({ ...claims, sub: claims.sub.replace(/.$/, (c: string) => (c === '0' ? '1' : '0')) }),
      ).toString('base64url'),
      sig,
    ].join('.');
    for (const [form, url, code] of [
      [{ refresh_token: forged }, undefined, 9002313],
      [{ refresh_token: 'not-a-token' }, undefined, 9002313],
      [{ client_id: '1950a258-227b-4e31-a9cf-717495945fc2' }, undefined, 70000],
      [{}, `${t.b.hub.login}/${t.b.csp.tenantId}/oauth2/v2.0/token`, 50020],
      [{ refresh_token: '' }, undefined, 900144],
    ] as const) {
      const res = await refresh(form, url);
      assert.equal(res.status, 400, JSON.stringify(form));
      assert.deepEqual(res.body.error_codes, [code]);
    }
    // The token endpoint takes forms only, as Azure AD does: JSON is refused, never a server error.
    const json = await t.call('POST', `${t.b.hub.adfs}/oauth2/token`, {
      body: { grant_type: 'refresh_token', client_id: AZURE_CLI, refresh_token: { a: 1 }, scope: [] },
    });
    assert.equal(json.status, 400);
    assert.deepEqual(json.body.error_codes, [90023]);
    const asBearer = await t.call('GET', `${t.b.hub.arm}/subscriptions?api-version=2022-12-01`, { token: rt });
    assert.equal(asBearer.status, 401);

    const graph = await t.appToken('operator', t.b.hub.graph);
    const user = await t.call('GET', `${t.b.hub.graph}/v1.0/users/${encodeURIComponent(t.b.operator.admin.userName)}`, {
      token: graph,
    });
    const disable = await t.call('PATCH', `${t.b.hub.graph}/v1.0/users/${user.body.id}`, {
      token: graph,
      body: { accountEnabled: false },
    });
    assert.equal(disable.status, 204, JSON.stringify(disable.body));
    try {
      const refused = await refresh({});
      assert.deepEqual(refused.body.error_codes, [50057]);
    } finally {
      await t.call('PATCH', `${t.b.hub.graph}/v1.0/users/${user.body.id}`, {
        token: graph,
        body: { accountEnabled: true },
      });
    }
    assert.equal((await refresh({})).status, 200);
  });
});
