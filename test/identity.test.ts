// The login endpoint and bearer-token checks, over HTTPS against the running system.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { hubSigningKey } from './helpers/secrets.ts';
import { AZURE_POWERSHELL, startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';
import type { JsonResponse } from '../src/core/http-client.ts';

const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
/** The lock-out of this suite's system: short, so that its end is seen without waiting a minute. */
const LOCKOUT_MS = 3000;

describe('identity and tokens', () => {
  let t: TestSystem;
  before(async () => {
    t = await startTestSystem({ policies: { signIn: { lockoutMs: LOCKOUT_MS } } });
  });
  after(() => t.stop());

  const tokenUrl = (tenant: string, v2 = false) => `${t.b.hub.login}/${tenant}/oauth2${v2 ? '/v2.0' : ''}/token`;

  it('issues client-credentials tokens in the v1 shape, with the documented claims', async () => {
    const res = await t.call('POST', tokenUrl(t.b.csp.tenantId), {
      form: {
        grant_type: 'client_credentials',
        client_id: t.b.csp.clientId,
        client_secret: t.b.csp.clientSecret,
        resource: `${t.b.hub.arm}/`,
      },
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
      form: {
        grant_type: 'client_credentials',
        client_id: t.b.csp.clientId,
        client_secret: t.b.csp.clientSecret,
        scope: `${t.b.hub.arm}/.default`,
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.expires_in, 3600);
    assert.equal(decodeJwt(res.body.access_token).iss, `${t.b.hub.login}/${t.b.csp.tenantId}/v2.0`);
    const subs = await t.call('GET', `${t.b.hub.arm}/subscriptions?api-version=2022-12-01`, {
      token: res.body.access_token,
    });
    assert.equal(subs.status, 200);
    assert.equal(subs.body.value.length, 1);
  });

  it('signs users in with the password grant through the well-known public clients', async () => {
    for (const clientId of [AZURE_POWERSHELL, AZURE_CLI]) {
      const res = await t.call('POST', tokenUrl(t.b.csp.tenantId), {
        form: {
          grant_type: 'password',
          client_id: clientId,
          username: t.b.csp.admin.userName,
          password: t.b.csp.admin.password,
          resource: t.b.hub.arm,
        },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const claims = decodeJwt(res.body.access_token);
      assert.equal(claims.upn, t.b.csp.admin.userName);
      assert.equal(claims.tid, t.b.csp.tenantId);
    }
    // `common` finds the user's directory from its name; a domain names the directory too.
    for (const tenant of ['common', 'csp.onstackledger.local']) {
      const res = await t.call('POST', tokenUrl(tenant), {
        form: {
          grant_type: 'password',
          client_id: AZURE_CLI,
          username: t.b.csp.admin.userName,
          password: t.b.csp.admin.password,
          resource: t.b.hub.arm,
        },
      });
      assert.equal(res.status, 200, tenant);
      assert.equal(decodeJwt(res.body.access_token).tid, t.b.csp.tenantId);
    }
  });

  it('refuses bad sign-ins with Azure AD error codes', async () => {
    const base = {
      grant_type: 'client_credentials',
      client_id: t.b.csp.clientId,
      client_secret: t.b.csp.clientSecret,
      resource: t.b.hub.arm,
    };
    const cases: Array<[string, Record<string, string>, number, string, number]> = [
      ['wrong secret', { ...base, client_secret: 'nope' }, 401, 'invalid_client', 7000215],
      ['unknown resource', { ...base, resource: 'https://elsewhere.example' }, 400, 'invalid_resource', 500011],
      ['no resource', { ...base, resource: '' }, 400, 'invalid_request', 900144],
      ['unsupported grant', { ...base, grant_type: 'authorization_code' }, 400, 'unsupported_grant_type', 70003],
      [
        'unknown client',
        { ...base, client_id: '00000000-0000-0000-0000-00000000abcd' },
        400,
        'unauthorized_client',
        700016,
      ],
      [
        'wrong password',
        {
          grant_type: 'password',
          client_id: AZURE_POWERSHELL,
          username: t.b.csp.admin.userName,
          password: 'wrong',
          resource: t.b.hub.arm,
        },
        400,
        'invalid_grant',
        50126,
      ],
      [
        'password grant by a confidential client',
        {
          grant_type: 'password',
          client_id: t.b.csp.clientId,
          username: t.b.csp.admin.userName,
          password: t.b.csp.admin.password,
          resource: t.b.hub.arm,
        },
        400,
        'invalid_client',
        7000218,
      ],
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
      form: {
        grant_type: 'password',
        client_id: AZURE_POWERSHELL,
        username: t.b.csp.admin.userName,
        password: t.b.csp.admin.password,
        resource: t.b.hub.arm,
      },
    });
    assert.equal(otherDir.status, 400);
    assert.deepEqual(otherDir.body.error_codes, [50020]);
  });

  describe('sign-in hardening', () => {
    const password = (userName: string, pw: string) =>
      t.call('POST', tokenUrl(t.b.csp.tenantId), {
        form: {
          grant_type: 'password',
          client_id: AZURE_POWERSHELL,
          username: userName,
          password: pw,
          resource: t.b.hub.arm,
        },
      });
    /** What a refusal says, without its trace id and time. */
    const answer = (res: JsonResponse) => ({
      status: res.status,
      error: res.body.error,
      codes: res.body.error_codes,
      description: String(res.body.error_description).split('\r\n')[0],
    });
    const newUser = async (name: string) => {
      const userName = `${name}@csp.onstackledger.local`;
      const pw = `Pw-${name}-9a!`;
      const graph = await t.appToken('csp', t.b.hub.graph);
      const res = await t.call('POST', `${t.b.hub.graph}/v1.0/users`, {
        token: graph,
        body: { displayName: name, userPrincipalName: userName, passwordProfile: { password: pw } },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return { id: res.body.id as string, userName, password: pw };
    };

    it('locks a user after ten wrong passwords in a row, for a while, and no one else', async () => {
      const victim = await newUser('locked');
      const neighbour = await newUser('neighbour');
      for (let i = 1; i <= 10; i++) {
        const res = await password(victim.userName, `wrong-${i}`);
        assert.deepEqual(res.body.error_codes, [50126], `attempt ${i}`);
      }
      const lockedAt = Date.now();
      const locked = await password(victim.userName, victim.password);
      assert.equal(locked.status, 400);
      assert.equal(locked.body.error, 'invalid_grant');
      assert.deepEqual(locked.body.error_codes, [50053]);
      assert.match(locked.body.error_description, /^AADSTS50053: Your account is locked/);
      assert.equal(
        (await password(neighbour.userName, neighbour.password)).status,
        200,
        'another account of the directory still signs in',
      );
      assert.equal((await password(t.b.csp.admin.userName, t.b.csp.admin.password)).status, 200);

      await new Promise((r) => setTimeout(r, Math.max(0, lockedAt + LOCKOUT_MS + 100 - Date.now())));
      assert.equal((await password(victim.userName, victim.password)).status, 200, 'the lock ends');
      // A success starts the count again: nine wrong passwords do not lock.
      for (let i = 1; i <= 9; i++) await password(victim.userName, 'wrong');
      assert.equal((await password(victim.userName, victim.password)).status, 200);
    });

    it('gives an unknown user the same answer as a wrong password', async () => {
      for (const tenant of [t.b.csp.tenantId, 'organizations', 'common']) {
        const form = (username: string) => ({
          grant_type: 'password',
          client_id: AZURE_CLI,
          username,
          password: 'Not-the-password-1',
          resource: t.b.hub.arm,
        });
        const wrong = await t.call('POST', tokenUrl(tenant), { form: form(t.b.csp.admin.userName) });
        const unknown = await t.call('POST', tokenUrl(tenant), { form: form('nobody@csp.onstackledger.local') });
        assert.deepEqual(answer(unknown), answer(wrong), tenant);
        assert.deepEqual(answer(wrong).codes, [50126], tenant);
      }
    });

    it('refuses a wrong client secret after a delay, and never locks the application', async () => {
      const form = {
        grant_type: 'client_credentials',
        client_id: t.b.csp.clientId,
        client_secret: 'wrong-secret',
        resource: t.b.hub.arm,
      };
      for (let i = 0; i < 12; i++) {
        const started = Date.now();
        const res = await t.call('POST', tokenUrl(t.b.csp.tenantId), { form });
        assert.equal(res.status, 401);
        assert.deepEqual(res.body.error_codes, [7000215]);
        assert.ok(Date.now() - started >= 250, `refused after a delay (${Date.now() - started} ms)`);
      }
      const right = await t.call('POST', tokenUrl(t.b.csp.tenantId), {
        form: { ...form, client_secret: t.b.csp.clientSecret },
      });
      assert.equal(right.status, 200);
    });

    it('blocks a disabled account (graph accountEnabled), for its administrators only to change', async () => {
      const user = await newUser('disabled');
      const graph = await t.appToken('csp', t.b.hub.graph);
      const userUrl = `${t.b.hub.graph}/v1.0/users/${user.id}`;
      const asUser = await t.userToken(t.b.csp.tenantId, user.userName, user.password, t.b.hub.graph);
      const self = await t.call('PATCH', userUrl, { token: asUser, body: { accountEnabled: false } });
      assert.equal(self.status, 403, 'a user who is not an administrator changes nothing');
      const operator = await t.call('PATCH', userUrl, {
        token: await t.appToken('operator', t.b.hub.graph),
        body: { accountEnabled: false },
      });
      assert.equal(operator.status, 404, "another directory's administrator does not see the user");
      const bad = await t.call('PATCH', userUrl, { token: graph, body: { accountEnabled: 'no' } });
      assert.equal(bad.status, 400);
      assert.equal((await password(user.userName, user.password)).status, 200, 'refused changes changed nothing');

      assert.equal((await t.call('PATCH', userUrl, { token: graph, body: { accountEnabled: false } })).status, 204);
      assert.equal((await t.call('GET', userUrl, { token: graph })).body.accountEnabled, false);
      const refused = await password(user.userName, user.password);
      assert.equal(refused.status, 400);
      assert.deepEqual(refused.body.error_codes, [50057]);
      assert.deepEqual(
        answer(await password(user.userName, 'Wrong-password-1')).codes,
        [50126],
        'a wrong password says nothing about the account',
      );

      assert.equal((await t.call('PATCH', userUrl, { token: graph, body: { accountEnabled: true } })).status, 204);
      assert.equal((await password(user.userName, user.password)).status, 200);
    });
  });

  it('publishes OpenID configuration and signing keys', async () => {
    for (const path of [
      `${t.b.csp.tenantId}/v2.0/.well-known/openid-configuration`,
      `${t.b.csp.tenantId}/.well-known/openid-configuration`,
    ]) {
      const res = await t.call('GET', `${t.b.hub.login}/${path}`);
      assert.equal(res.status, 200);
      assert.ok(res.body.token_endpoint.startsWith(`${t.b.hub.login}/${t.b.csp.tenantId}/oauth2`));
      assert.ok(res.body.issuer.startsWith(`${t.b.hub.login}/${t.b.csp.tenantId}/`));
      const keys = await t.call('GET', res.body.jwks_uri);
      assert.equal(keys.status, 200);
      assert.equal(keys.body.keys[0].kty, 'RSA');
      assert.ok(keys.body.keys[0].kid);
      // Only what exists: the three grants, secrets in the form, no device code or logout endpoints.
      assert.deepEqual(res.body.grant_types_supported, ['client_credentials', 'password', 'refresh_token']);
      assert.deepEqual(res.body.token_endpoint_auth_methods_supported, ['client_secret_post']);
      for (const absent of ['device_authorization_endpoint', 'end_session_endpoint', 'response_modes_supported'])
        assert.equal(res.body[absent], undefined, absent);
      // MSAL needs an authorization endpoint; it says that no interactive sign-in is offered.
      const authorize = await t.call(
        'GET',
        `${res.body.authorization_endpoint}?response_type=code&client_id=${AZURE_CLI}`,
      );
      assert.equal(authorize.status, 400);
      assert.equal(authorize.body.error, 'unsupported_response_type');
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
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuedAt(exp - 3600)
        .setExpirationTime(exp)
        .sign(key);
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
        assert.match(
          String(res.headers['www-authenticate']),
          /^Bearer authorization_uri="https:\/\/127\.0\.0\.1:\d+\/login\//,
        );
      }
    });

    it('refuses expired tokens, tokens signed by another key, and tokens for another audience', async () => {
      const good = decodeJwt(await t.appToken('csp', t.b.hub.arm));
      const expired = await signWithHubKey(
        { ...good, exp: undefined, iat: undefined },
        Math.floor(Date.now() / 1000) - 600,
      );
      const { privateKey } = await generateKeyPair('RS256');
      const { rows } = await hubDb.query('select kid from signing_keys limit 1');
      const forged = await new SignJWT({ ...good, exp: undefined })
        .setProtectedHeader({ alg: 'RS256', kid: rows[0].kid })
        .setExpirationTime('1h')
        .sign(privateKey);
      const partnerCenterToken = await t.appToken('csp', t.b.hub.partnerCenter);
      const stackToken = await t.appToken('csp', t.b.stacks.local.adminArm);
      const cases: Array<[string, string, string]> = [
        ['expired', expired, 'ExpiredAuthenticationToken'],
        ['forged', forged, 'InvalidAuthenticationToken'],
        ['garbage', 'not-a-jwt', 'InvalidAuthenticationToken'],
        ['partner center audience', partnerCenterToken, 'InvalidAuthenticationTokenAudience'],
        ['stack audience', stackToken, 'InvalidAuthenticationTokenAudience'],
      ];
      // Signed by the hub's own key but never expiring: refused, a token must carry `exp`.
      const hubKey = await hubSigningKey(hubDb, t.dataDir);
      const withoutExp = await new SignJWT({ ...good, exp: undefined })
        .setProtectedHeader({ alg: 'RS256', kid: hubKey.kid })
        .sign(hubKey.key);
      cases.push(['without exp', withoutExp, 'InvalidAuthenticationToken']);
      for (const [name, token, code] of cases) {
        const res = await t.call('GET', `${t.b.hub.arm}/subscriptions?api-version=2022-12-01`, { token });
        assert.equal(res.status, 401, name);
        assert.equal(res.body.error.code, code, name);
        assert.ok(res.headers['www-authenticate'], name);
      }
      const onStack = await t.call('GET', `${t.b.stacks.local.tenantArm}/subscriptions?api-version=2022-12-01`, {
        token: expired,
      });
      assert.equal(onStack.status, 401);
      assert.equal(onStack.body.error.code, 'ExpiredAuthenticationToken');
    });

    it("gives another directory's token 403 on a subscription it has no role in", async () => {
      const operatorOnHub = await t.appToken('operator', t.b.hub.arm);
      const res = await t.call(
        'GET',
        `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourcegroups?api-version=2021-04-01`,
        { token: operatorOnHub },
      );
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'AuthorizationFailed');
      const cspOnStack = await t.appToken('csp', t.b.stacks.local.adminArm);
      const onStack = await t.call(
        'GET',
        `${t.b.stacks.local.adminArm}/subscriptions/${t.b.stacks.local.providerSubscriptionId}?api-version=2022-12-01`,
        { token: cspOnStack },
      );
      assert.equal(onStack.status, 403);
      assert.equal(onStack.body.error.code, 'AuthorizationFailed');
      assert.match(onStack.body.error.message, new RegExp(t.b.stacks.local.providerSubscriptionId));
    });
  });
});
