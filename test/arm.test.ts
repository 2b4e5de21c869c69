// ARM conventions on both endpoints, over real HTTPS against the running system.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startTestSystem, type TestSystem } from './helpers/system.ts';
import type { JsonResponse } from '../src/core/http-client.ts';
import type { Dispatcher } from 'undici';

const RG_API = 'api-version=2021-04-01';

describe('ARM request handling', () => {
  let t: TestSystem;
  let token: string;
  let sub: string;
  let arm: string;

  before(async () => {
    t = await startTestSystem();
    arm = t.b.hub.arm;
    sub = t.b.csp.registrationSubscriptionId;
    token = await t.appToken('csp', arm);
  });
  after(() => t.stop());

  it('puts a request id and a correlation id on every response, errors included', async () => {
    const ok = await t.call('GET', `${arm}/subscriptions?api-version=2022-12-01`, {
      token,
      headers: { 'x-ms-correlation-request-id': 'corr-1' },
    });
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers['x-ms-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(ok.headers['x-ms-correlation-request-id'], 'corr-1');
    const failed = await t.call('GET', `${arm}/subscriptions`, { token });
    assert.equal(failed.status, 400);
    assert.match(String(failed.headers['x-ms-request-id']), /^[0-9a-f-]{36}$/);
    assert.ok(failed.headers['x-ms-correlation-request-id']);
  });

  it('requires api-version, and names the supported ones when it is wrong', async () => {
    const missing = await t.call('GET', `${arm}/subscriptions/${sub}/resourcegroups`, { token });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'MissingApiVersionParameter');
    const wrong = await t.call('GET', `${arm}/subscriptions/${sub}/resourcegroups?api-version=1999-01-01`, { token });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error.code, 'InvalidApiVersionParameter');
    assert.match(wrong.body.error.message, /1999-01-01/);
    assert.match(wrong.body.error.message, /2021-04-01/);
  });

  it('creates with 201, updates with 200, reads, lists and deletes idempotently', async () => {
    const url = `${arm}/subscriptions/${sub}/resourcegroups/Web-RG?${RG_API}`;
    const created = await t.call('PUT', url, { token, body: { location: 'global', tags: { env: 'test' } } });
    assert.equal(created.status, 201);
    assert.equal(created.body.id, `/subscriptions/${sub}/resourceGroups/Web-RG`);
    assert.equal(created.body.name, 'Web-RG');
    assert.equal(created.body.type, 'Microsoft.Resources/resourceGroups');
    assert.equal(created.body.properties.provisioningState, 'Succeeded');
    const updated = await t.call('PUT', url, { token, body: { location: 'global', tags: { env: 'prod' } } });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.body.tags, { env: 'prod' });
    const read = await t.call('GET', `${arm}/subscriptions/${sub}/resourceGroups/web-rg?${RG_API}`, { token });
    assert.equal(read.status, 200);
    assert.equal(read.body.name, 'Web-RG', 'the case given at creation is kept');
    const head = await t.call('HEAD', url, { token });
    assert.equal(head.status, 204);
    assert.equal((await t.call('DELETE', url, { token })).status, 200);
    assert.equal((await t.call('DELETE', url, { token })).status, 204);
    const gone = await t.call('GET', url, { token });
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'ResourceGroupNotFound');
    assert.equal((await t.call('HEAD', url, { token })).status, 404);
  });

  it('refuses to move a resource group to another location, and unknown locations', async () => {
    const url = `${arm}/subscriptions/${sub}/resourcegroups/loc-rg?${RG_API}`;
    const unknown = await t.call('PUT', url, { token, body: { location: 'mars' } });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, 'LocationNotAvailableForResourceGroup');
    assert.equal((await t.call('GET', url, { token })).status, 404, 'nothing was written');
  });

  it('pages lists with nextLink and $skiptoken', async () => {
    for (const n of ['p1', 'p2', 'p3']) {
      assert.equal(
        (
          await t.call('PUT', `${arm}/subscriptions/${sub}/resourcegroups/${n}?${RG_API}`, {
            token,
            body: { location: 'global' },
          })
        ).status,
        201,
      );
    }
    const names: string[] = [];
    let next: string | undefined = `${arm}/subscriptions/${sub}/resourcegroups?${RG_API}&$top=2`;
    let pages = 0;
    while (next) {
      const page: JsonResponse = await t.call('GET', next, { token });
      assert.equal(page.status, 200);
      assert.ok(page.body.value.length <= 2);
      names.push(...page.body.value.map((g: { name: unknown }) => g.name));
      next = page.body.nextLink;
      if (next)
        assert.ok(next.startsWith(arm) && next.includes('api-version=2021-04-01') && next.includes('%24skiptoken='));
      pages++;
    }
    assert.ok(pages >= 2);
    for (const n of ['p1', 'p2', 'p3', 'azurestack']) assert.ok(names.includes(n), n);
    assert.equal(new Set(names).size, names.length, 'no group listed twice');
    const badToken = await t.call('GET', `${arm}/subscriptions/${sub}/resourcegroups?${RG_API}&$skiptoken=%%%`, {
      token,
    });
    assert.equal(badToken.status, 400);
  });

  it('validates JSON bodies against the schema and names the field', async () => {
    const url = `${arm}/subscriptions/${sub}/resourcegroups/bad-body?${RG_API}`;
    const missing = await t.call('PUT', url, { token, body: { tags: {} } });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'InvalidRequestContent');
    assert.equal(missing.body.error.target, 'location');
    assert.match(missing.body.error.message, /location/);
    const wrongType = await t.call('PUT', url, { token, body: { location: 'global', tags: { a: 5 } } });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.body.error.target, 'tags.a');
    assert.equal((await t.call('GET', url, { token })).status, 404, 'nothing was written');
  });

  it('refuses malformed JSON and bodies of another media type with the ARM envelope', async () => {
    const url = `${arm}/subscriptions/${sub}/resourcegroups/bad-json?${RG_API}`;
    const malformed = await sendRaw(t, 'PUT', url, token, 'application/json', '{"location": ');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'InvalidRequestContent');
    const xml = await sendRaw(t, 'PUT', url, token, 'application/xml', '<location>global</location>');
    assert.equal(xml.status, 415);
    assert.equal(xml.body.error.code, 'UnsupportedMediaType');
  });

  it('refuses request bodies above the size limit', async () => {
    const big = JSON.stringify({ location: 'global', tags: { big: 'x'.repeat(5 * 1024 * 1024) } });
    const res = await sendRaw(
      t,
      'PUT',
      `${arm}/subscriptions/${sub}/resourcegroups/big?${RG_API}`,
      token,
      'application/json',
      big,
    );
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'RequestEntityTooLarge');
  });

  it('accepts a POST without a body, with or without a JSON content type', async () => {
    // The clock route reads its body; an empty one reaches it (and it says what it needs).
    const url = `${arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`;
    for (const contentType of ['application/json', undefined]) {
      const res = await sendRaw(t, 'POST', url, token, contentType, '');
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'ClockNotSimulated');
    }
  });

  it('routes case-insensitively and collapses doubled slashes', async () => {
    const res = await sendRaw(
      t,
      'GET',
      `${arm}//SUBSCRIPTIONS/${sub.toUpperCase()}/RESOURCEGROUPS/AZURESTACK?API-VERSION=2021-04-01`,
      token,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.name, 'azurestack');
  });

  it("answers unknown routes with an ARM 404, never an HTML page; one that names a provider with ARM's code for it", async () => {
    const res = await t.call('GET', `${arm}/subscriptions/${sub}/nothing?api-version=2020-01-01`, { token });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'NotFound');
    assert.match(String(res.headers['content-type']), /application\/json/);
    const namespace = await t.call(
      'GET',
      `${arm}/subscriptions/${sub}/providers/Microsoft.Nothing/things?api-version=2020-01-01`,
      { token },
    );
    assert.equal(namespace.status, 404);
    assert.equal(namespace.body.error.code, 'InvalidResourceNamespace');
    const type = await t.call(
      'GET',
      `${arm}/subscriptions/${sub}/resourceGroups/g/providers/Microsoft.AzureStack/things/x?api-version=2017-06-01`,
      { token },
    );
    assert.equal(type.status, 404);
    assert.equal(type.body.error.code, 'InvalidResourceType');
    assert.match(
      type.body.error.message,
      /supported resource types are '.*\bregistrations\b/,
      'it lists the supported types',
    );
  });

  it('answers for subscriptions: unknown 404, malformed 400', async () => {
    const unknown = await t.call(
      'GET',
      `${arm}/subscriptions/00000000-0000-0000-0000-000000000001?api-version=2022-12-01`,
      { token },
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'SubscriptionNotFound');
    const malformed = await t.call('GET', `${arm}/subscriptions/not-a-guid/resourcegroups?${RG_API}`, { token });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'InvalidSubscriptionId');
  });

  it("lists subscriptions, one subscription, its locations and the caller's tenants", async () => {
    const list = await t.call('GET', `${arm}/subscriptions?api-version=2016-06-01`, { token });
    assert.deepEqual(
      list.body.value.map((s: { subscriptionId: unknown }) => s.subscriptionId),
      [sub],
    );
    const one = await t.call('GET', `${arm}/subscriptions/${sub}?api-version=2020-01-01`, { token });
    assert.equal(one.body.tenantId, t.b.csp.tenantId);
    assert.equal(one.body.state, 'Enabled');
    const locations = await t.call('GET', `${arm}/subscriptions/${sub}/locations?api-version=2022-12-01`, { token });
    assert.deepEqual(
      locations.body.value.map((l: { name: unknown }) => l.name),
      ['global'],
    );
    const tenants = await t.call('GET', `${arm}/tenants?api-version=2022-12-01`, { token });
    assert.deepEqual(
      tenants.body.value.map((x: { tenantId: unknown }) => x.tenantId),
      [t.b.csp.tenantId],
    );
  });

  it('serves the metadata endpoint anonymously on both ARM endpoints, naming the audience', async () => {
    for (const [endpoint, audience] of [
      [arm, arm],
      [t.b.stacks.local.adminArm, t.b.stacks.local.adminArm],
      [t.b.stacks.local.tenantArm, t.b.stacks.local.tenantArm],
    ]) {
      const res = await t.call('GET', `${endpoint}/metadata/endpoints?api-version=2015-01-01`);
      assert.equal(res.status, 200);
      assert.equal(res.body.authentication.loginEndpoint, t.b.hub.adfs, 'the AD FS-style authority, by default');
      assert.equal(res.body.authentication.aadLoginEndpoint, t.b.hub.login);
      assert.deepEqual(res.body.authentication.audiences, [audience]);
      assert.equal(res.body.graphEndpoint, t.b.hub.graph);
      assert.equal(res.body.portalEndpoint, t.b.hub.portal);
      assert.ok('galleryEndpoint' in res.body);
    }
    const health = await t.call('GET', `${arm}/healthz`);
    assert.equal(health.status, 200);
  });

  it('gives the stack the same conventions: resource groups in its provider subscription', async () => {
    const admin = t.b.stacks.local.adminArm;
    const opToken = await t.appToken('operator', admin);
    const provider = t.b.stacks.local.providerSubscriptionId;
    const groups = await t.call('GET', `${admin}/subscriptions/${provider}/resourcegroups?api-version=2019-10-01`, {
      token: opToken,
    });
    assert.equal(groups.status, 200);
    assert.deepEqual(
      groups.body.value.map((g: { name: unknown }) => g.name),
      ['plans', 'system.local'],
    );
    const created = await t.call(
      'PUT',
      `${admin}/subscriptions/${provider}/resourcegroups/ops?api-version=2018-05-01`,
      { token: opToken, body: { location: 'local' } },
    );
    assert.equal(created.status, 201);
    const elsewhere = await t.call(
      'PUT',
      `${admin}/subscriptions/${provider}/resourcegroups/ops2?api-version=2018-05-01`,
      { token: opToken, body: { location: 'global' } },
    );
    assert.equal(elsewhere.status, 400);
    assert.equal(elsewhere.body.error.code, 'LocationNotAvailableForResourceGroup');
  });
});

async function sendRaw(t: TestSystem, method: string, url: string, token: string, contentType?: string, body?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (contentType) headers['content-type'] = contentType;
  const res = await request(url, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher: t.dispatcher });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}
