// The login endpoint and bearer-token checks, over HTTPS against the running system.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { hubSigningKey } from './helpers/secrets.ts';
import { AZURE_POWERSHELL, startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

describe('identity and tokens', () => {
  let t: TestSystem;
  before(async () => {
    t = await startTestSystem();
  });
  after(() => t.stop());

  const tokenUrl = (tenant: string, v2 = false) => `${t.b.hub.login}/${tenant}/oauth2${v2 ? '/v2.0' : ''}/token`;

  it('issues client-credentials tokens in the v1 shape, with the documented claims', async () => {
    const res = await t.call('POST', tokenUrl(t.b.csp.tenantId), {
      form: { grant_type: 'client_credentials', client_id: t.b.csp.clientId, client_secret: t.b.csp.clientSecret, resource: `${t.b.hub.arm}/` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, '3600');
    const claims = decodeJwt(res.body.access_token);
    assert.equal(claims.tid, t.b.csp.tenantId);
    assert.equal(claims.appid, t.b.csp.clientId);
    assert.equal(claims.aud, t.b.hub.arm, 'a trailing slash names the same audience');
    assert.equal(claims.iss, `${t.b.hub.login}/${t.b.csp.tenantId}/`);
    assert.match(String(claims.oid), /^[0-9a-f-]{36}$/);
    assert.ok(Number(claims.exp) > Date.now() / 1000);
  });

  it('issues v2 tokens for a scope, and the token is accepted by the ARM endpoint', async () => {
    const res = await t.call('POST', tokenUrl(t.b.csp.tenantId, true), {
      form: { grant_type: 'client_credentials', client_id: t.b.csp.clientId, client_secret: t.b.csp.clientSecret, scope: `${t.b.hub.arm}/.default` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.expires_in, 3600);
    assert.equal(decodeJwt(res.body.access_token).iss, `${t.b.hub.login}/${t.b.csp.tenantId}/v2.0`);
    const subs = await t.call('GET', `${t.b.hub.arm}/subscriptions?api-version=2022-12-01`, { token: res.body.access_token });
    assert.equal(subs.status, 200);
    assert.equal(subs.body.value.length, 1);
  });

  it('signs users in with the password grant through the well-known public clients', async () => {
    for (const clientId of [AZURE_POWERSHELL, AZURE_CLI]) {
      const res = await t.call('POST', tokenUrl(t.b.csp.tenantId), {
        form: { grant_type: 'password', client_id: clientId, username: t.b.csp.admin.userName, password: t.b.csp.admin.password, resource: t.b.hub.arm },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const claims = decodeJwt(res.body.access_token);
      assert.equal(claims.upn, t.b.csp.admin.userName);
      assert.equal(claims.tid, t.b.csp.tenantId);
    }
    // `common` finds the user's directory from its name; a domain names the directory too.
    for (const tenant of ['common', 'csp.onstackledger.local']) {
      const res = await t.call('POST', tokenUrl(tenant), {
        form: { grant_type: 'password', client_id: AZURE_CLI, username: t.b.csp.admin.userName, password: t.b.csp.admin.password, resource: t.b.hub.arm },
      });
      assert.equal(res.status, 200, tenant);
      assert.equal(decodeJwt(res.body.access_token).tid, t.b.csp.tenantId);
    }
  });

  it('refuses bad sign-ins with Azure AD error codes', async () => {
    const base = { grant_type: 'client_credentials', client_id: t.b.csp.clientId, client_secret: t.b.csp.clientSecret, resource: t.b.hub.arm };
    const cases: Array<[string, Record<string, string>, number, string, number]> = [
      ['wrong secret', { ...base, client_secret: 'nope' }, 401, 'invalid_client', 7000215],
      ['unknown resource', { ...base, resource: 'https://elsewhere.example' }, 400, 'invalid_resource', 500011],
      ['no resource', { ...base, resource: '' }, 400, 'invalid_request', 900144],
      ['unsupported grant', { ...base, grant_type: 'authorization_code' }, 400, 'unsupported_grant_type', 70003],
      ['unknown client', { ...base, client_id: '00000000-0000-0000-0000-00000000abcd' }, 400, 'unauthorized_client', 700016],
      ['wrong password', { grant_type: 'password', client_id: AZURE_POWERSHELL, username: t.b.csp.admin.userName, password: 'wrong', resource: t.b.hub.arm }, 400, 'invalid_grant', 50126],
      ['password grant by a confidential client', { grant_type: 'password', client_id: t.b.csp.clientId, username: t.b.csp.admin.userName, password: t.b.csp.admin.password, resource: t.b.hub.arm }, 400, 'invalid_client', 7000218],
    ];
    for (const [name, form, status, error, code] of cases) {
      const res = await t.call('POST', tokenUrl(t.b.csp.tenantId), { form });
      assert.equal(res.status, status, name);
      assert.equal(res.body.error, error, name);
      assert.deepEqual(res.body.error_codes, [code], name);
      assert.match(res.body.error_description, new RegExp(`^AADSTS${code}:`), name);
    }
    const unknownTenant = await t.call('POST', tokenUrl('00000000-0000-0000-0000-000000000000'), { form: base });
    assert.equal(unknownTenant.status, 400);
    assert.deepEqual(unknownTenant.body.error_codes, [90002]);
    // The operator's application has no service principal in the CSP's directory.
    const foreign = await t.call('POST', tokenUrl(t.b.csp.tenantId), {
      form: { ...base, client_id: t.b.operator.clientId, client_secret: t.b.operator.clientSecret },
    });
    assert.equal(foreign.status, 400);
    assert.deepEqual(foreign.body.error_codes, [700016]);
    // A user of one directory is not a user of another.
    const otherDir = await t.call('POST', tokenUrl(t.b.operator.tenantId), {
      form: { grant_type: 'password', client_id: AZURE_POWERSHELL, username: t.b.csp.admin.userName, password: t.b.csp.admin.password, resource: t.b.hub.arm },
    });
    assert.equal(otherDir.status, 400);
    assert.deepEqual(otherDir.body.error_codes, [50020]);
  });

  it('publishes OpenID configuration and signing keys', async () => {
    for (const path of [`${t.b.csp.tenantId}/v2.0/.well-known/openid-configuration`, `${t.b.csp.tenantId}/.well-known/openid-configuration`]) {
      const res = await t.call('GET', `${t.b.hub.login}/${path}`);
      assert.equal(res.status, 200);
      assert.ok(res.body.token_endpoint.startsWith(`${t.b.hub.login}/${t.b.csp.tenantId}/oauth2`));
      assert.ok(res.body.issuer.startsWith(`${t.b.hub.login}/${t.b.csp.tenantId}/`));
      const keys = await t.call('GET', res.body.jwks_uri);
      assert.equal(keys.status, 200);
      assert.equal(keys.body.keys[0].kty, 'RSA');
      assert.ok(keys.body.keys[0].kid);
    }
  });

  describe('bearer tokens on the ARM endpoints', () => {
    let hubDb: pg.Client;
    before(async () => {
      hubDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
      await hubDb.connect();
    });
    after(() => hubDb.end());

    /** Signs claims with the hub's own key, read from its database: a token that only time or audience spoils. */
    const signWithHubKey = async (claims: Record<string, unknown>, exp: number) => {
      const { kid, key } = await hubSigningKey(hubDb, t.dataDir);
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).setIssuedAt(exp - 3600).setExpirationTime(exp).sign(key);
    };

    const endpoints = () => [t.b.hub.arm, t.b.stacks.local.adminArm, t.b.stacks.local.tenantArm];

    it('accepts a client-credentials token on the hub and on the stack', async () => {
      for (const endpoint of endpoints()) {
        const token = await t.appToken('operator', endpoint);
        const res = await t.call('GET', `${endpoint}/subscriptions?api-version=2022-12-01`, { token });
        assert.equal(res.status, 200, endpoint);
      }
    });

    it('refuses a request without a token with 401 AuthenticationFailed and a challenge', async () => {
      for (const endpoint of endpoints()) {
        const res = await t.call('GET', `${endpoint}/subscriptions?api-version=2022-12-01`);
        assert.equal(res.status, 401);
        assert.equal(res.body.error.code, 'AuthenticationFailed');
        assert.match(String(res.headers['www-authenticate']), /^Bearer authorization_uri="https:\/\/127\.0\.0\.1:\d+\/login\//);
      }
    });

    it('refuses expired tokens, tokens signed by another key, and tokens for another audience', async () => {
      const good = decodeJwt(await t.appToken('csp', t.b.hub.arm));
      const expired = await signWithHubKey({ ...good, exp: undefined, iat: undefined }, Math.floor(Date.now() / 1000) - 600);
      const { privateKey } = await generateKeyPair('RS256');
      const { rows } = await hubDb.query('select kid from signing_keys limit 1');
      const forged = await new SignJWT({ ...good, exp: undefined }).setProtectedHeader({ alg: 'RS256', kid: rows[0].kid }).setExpirationTime('1h').sign(privateKey);
      const partnerCenterToken = await t.appToken('csp', t.b.hub.partnerCenter);
      const stackToken = await t.appToken('csp', t.b.stacks.local.adminArm);
      const cases: Array<[string, string, string]> = [
        ['expired', expired, 'ExpiredAuthenticationToken'],
        ['forged', forged, 'InvalidAuthenticationToken'],
        ['garbage', 'not-a-jwt', 'InvalidAuthenticationToken'],
        ['partner center audience', partnerCenterToken, 'InvalidAuthenticationTokenAudience'],
        ['stack audience', stackToken, 'InvalidAuthenticationTokenAudience'],
      ];
      for (const [name, token, code] of cases) {
        const res = await t.call('GET', `${t.b.hub.arm}/subscriptions?api-version=2022-12-01`, { token });
        assert.equal(res.status, 401, name);
        assert.equal(res.body.error.code, code, name);
        assert.ok(res.headers['www-authenticate'], name);
      }
      const onStack = await t.call('GET', `${t.b.stacks.local.tenantArm}/subscriptions?api-version=2022-12-01`, { token: expired });
      assert.equal(onStack.status, 401);
      assert.equal(onStack.body.error.code, 'ExpiredAuthenticationToken');
    });

    it("gives another directory's token 403 on a subscription it has no role in", async () => {
      const operatorOnHub = await t.appToken('operator', t.b.hub.arm);
      const res = await t.call('GET', `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourcegroups?api-version=2021-04-01`, { token: operatorOnHub });
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'AuthorizationFailed');
      const cspOnStack = await t.appToken('csp', t.b.stacks.local.adminArm);
      const onStack = await t.call('GET', `${t.b.stacks.local.adminArm}/subscriptions/${t.b.stacks.local.providerSubscriptionId}?api-version=2022-12-01`, { token: cspOnStack });
      assert.equal(onStack.status, 403);
      assert.equal(onStack.body.error.code, 'AuthorizationFailed');
      assert.match(onStack.body.error.message, new RegExp(t.b.stacks.local.providerSubscriptionId));
    });
  });
});
