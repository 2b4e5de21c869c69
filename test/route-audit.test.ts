// The route audit: every route of every server, read from the live route tables, is either in the
// short list of anonymous routes or decides the caller's rights. Each route is driven by an
// outsider (a customer's administrator aiming at another customer's objects), which must get
// nothing but its own; then every GET is driven by its rightful caller, and no answer anywhere may
// have been given without a rights check (the ARM endpoints' guard records any such answer).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { unauditedAnswers } from '../src/http/arm.ts';
import type { RouteEntry } from '../src/http/server.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const BASE_VM = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';

/** Mounts that are anonymous by design: the token endpoints (both authorities) and their metadata, and the portal's static files. */
const ANONYMOUS_MOUNTS = ['/login/', '/adfs/', '/portal/'];
/** The routes that answer without a token, outside those mounts. */
const ANONYMOUS_ROUTES = ['GET /healthz', 'GET /metadata/endpoints', 'GET /portal/config.json'];
/**
 * Routes that answer an outsider with success, showing it only its own objects (its
 * subscriptions, directories and users, the built-in roles, the public offers) or letting it
 * make objects of its own (self-service).
 */
const SELF_SCOPED = new Set([
  'hub GET /subscriptions',
  'hub GET /tenants',
  'hub GET /providers/Microsoft.Authorization/roleDefinitions',
  'hub GET /providers/Microsoft.Authorization/roleDefinitions/:name',
  'hub PUT /providers/Microsoft.Subscription/aliases/:aliasName',
  'hub GET /graph/v1.0/users',
  'hub GET /graph/v1.0/applications',
  'hub GET /graph/v1.0/servicePrincipals',
  'hub GET /graph/v1.0/organization',
  'hub GET /graph/v1.0/auditLogs/directoryAudits',
  'hub GET /providers/Microsoft.AzureStack/operations',
  'hub GET /providers/Stackledger.Billing/invoices',
  'hub GET /providers/Stackledger.Billing/invoices/unbilled',
  // The FOCUS export's schema metadata: the same for every caller, naming no one's data.
  'hub GET /providers/Stackledger.Billing/exports/focusMetadata',
  // Webhooks: each owner lists its own, and a DELETE of a name it does not own is the 204 of a
  // name that does not exist (and deletes nothing: test/webhooks.test.ts).
  'hub GET /providers/Stackledger.Notifications/webhooks',
  'hub DELETE /providers/Stackledger.Notifications/webhooks/:name',
  'hub POST /partner/v1/relationshiprequests/:partnerId',
  'local:admin GET /subscriptions',
  'local:admin GET /tenants',
  'local:admin GET /providers/Microsoft.Authorization/roleDefinitions',
  'local:admin GET /providers/Microsoft.Authorization/roleDefinitions/:name',
  'local:tenant GET /subscriptions',
  'local:tenant GET /tenants',
  'local:tenant GET /providers/Microsoft.Authorization/roleDefinitions',
  'local:tenant GET /providers/Microsoft.Authorization/roleDefinitions/:name',
  'local:tenant GET /offers',
  'local:tenant GET /delegatedProviders/:provider/offers',
  'local:tenant GET /delegatedProviders/:provider/offers/:offer',
]);

// CORS preflights (OPTIONS) never carry a token.
const isAnonymous = (r: RouteEntry) =>
  r.anonymous ||
  r.method === 'OPTIONS' ||
  ANONYMOUS_MOUNTS.some((m) => r.url.startsWith(m)) ||
  ANONYMOUS_ROUTES.includes(`${r.method} ${r.url}`);

describe('the route audit: every route authorizes', () => {
  let t: TestSystem;
  let victim: CustomerWithSubscription;
  let victimTenant: { user: string; sub: string };
  let outsider: CustomerWithSubscription;

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-04-01T00:00:00Z') });
    victim = await customerWithSubscription(t, 'victim');
    victimTenant = await tenantSubscription(t, victim, 'victim');
    outsider = await customerWithSubscription(t, 'outsider');
    await tenantSubscription(t, outsider, 'outsider');
    const csp = await t.appToken('csp', t.b.hub.arm);
    await t.http.call(
      'PUT',
      `${t.b.hub.arm}/subscriptions/${victim.subscriptionId}/resourcegroups/rg?api-version=2021-04-01`,
      { token: csp, body: { location: 'global' } },
    );
  });
  after(async () => t?.stop());

  /** The audience a route's token is for. */
  const audience = (server: string, url: string) => {
    if (server.endsWith(':admin')) return t.b.stacks.local.adminArm;
    if (server.endsWith(':tenant')) return t.b.stacks.local.tenantArm;
    if (url.startsWith('/partner/')) return t.b.hub.partnerCenter;
    if (url.startsWith('/graph/')) return t.b.hub.graph;
    return t.b.hub.arm;
  };

  /** A path aimed at the victim's objects (or the operator's, on the admin endpoint). */
  const fill = (server: string, url: string) => {
    const registration = url.includes('Microsoft.AzureStack');
    const values: Record<string, string> = {
      subscriptionId: server.endsWith(':admin')
        ? t.b.stacks.local.providerSubscriptionId
        : server.endsWith(':tenant')
          ? victimTenant.sub
          : registration
            ? t.b.csp.registrationSubscriptionId
            : victim.subscriptionId,
      resourceGroupName: server.endsWith(':admin') ? 'system.local' : registration ? t.b.csp.resourceGroup : 'rg',
      resourceGroup: 'rg',
      registrationName: t.b.csp.registrationName,
      customerSubscriptionName: victim.subscriptionId,
      customerId: victim.customerId,
      tenant: victim.customerId,
      partnerId: t.b.csp.tenantId,
      targetSubscriptionId: victimTenant.sub,
      target: victim.customerId,
      id: victim.admin.userName,
      location: 'local',
      meterId: BASE_VM,
      operationId: randomUUID(),
      provider: 'default',
      offer: 'base-offer',
      offerId: 'MS-AZR-0145P',
      orderId: randomUUID(),
      number: 'INV-1',
      aliasName: 'outsider-alias',
      name: 'x',
    };
    return url.replace(/:([A-Za-z_]+)/g, (_, p: string) => encodeURIComponent(values[p] ?? 'x'));
  };

  const tokens = new Map<string, Promise<string>>();
  /** One token per caller and audience (a password sign-in costs a deliberate hash). */
  const tokenOnce = (key: string, get: () => Promise<string>) => {
    if (!tokens.has(key)) tokens.set(key, get());
    return tokens.get(key)!;
  };

  const send = async (server: string, origin: string, r: RouteEntry, token: string) => {
    const path = fill(server, r.url);
    const base = server === 'hub' ? new URL(t.b.hub.arm).origin : origin;
    const query = r.apiVersions?.length ? `?api-version=${r.apiVersions[0]}` : '';
    const body = ['PUT', 'POST', 'PATCH'].includes(r.method) ? {} : undefined;
    try {
      return await t.call(r.method, `${base}${path}${query}`, { token, body });
    } catch (e) {
      throw new Error(`${r.method} ${base}${path}${query}: ${(e as Error).message}`);
    }
  };

  it('lists only the known anonymous routes', () => {
    const anonymous = t.system.servers.flatMap((s) =>
      s.routes.filter(isAnonymous).map((r) => `${s.name} ${r.method} ${r.url}`),
    );
    const unexpected = anonymous.filter((a) => {
      const route = a.slice(a.indexOf(' ') + 1);
      const [method, url] = route.split(' ');
      return (
        method !== 'OPTIONS' && !ANONYMOUS_ROUTES.includes(route) && !ANONYMOUS_MOUNTS.some((m) => url.startsWith(m))
      );
    });
    assert.deepEqual(unexpected, [], 'routes marked anonymous outside the known list');
  });

  it("gives an outsider nothing of the victim's on any route, and only its own where it gets anything", async () => {
    const findings: string[] = [];
    let driven = 0;
    const secrets = [victim.customerId, victim.subscriptionId, victimTenant.sub, victim.admin.userName.toLowerCase()];
    for (const server of t.system.servers) {
      for (const r of server.routes.filter((x) => !isAnonymous(x))) {
        const aud = audience(server.name, r.url);
        const token = await tokenOnce(`outsider ${aud}`, () =>
          t.userToken(outsider.customerId, outsider.admin.userName, outsider.admin.password, aud),
        );
        const res = await send(server.name, server.origin, r, token);
        driven++;
        const key = `${server.name} ${r.method} ${r.url}`;
        if (res.status >= 500) findings.push(`${key}: ${res.status}`);
        else if (res.status < 400) {
          const text = JSON.stringify(res.body ?? '').toLowerCase();
          if (!SELF_SCOPED.has(key)) findings.push(`${key}: ${res.status} for an outsider`);
          else if (secrets.some((s) => text.includes(s.toLowerCase())))
            findings.push(`${key}: shows the victim's objects`);
        }
      }
    }
    process.stdout.write(`route audit: ${driven} routes driven as an outsider\n`);
    assert.ok(driven > 100, `only ${driven} routes`);
    assert.deepEqual(findings, []);
  });

  it('answers every GET of its rightful caller only after a rights check', async () => {
    const rightful = async (server: string, url: string) => {
      const aud = audience(server, url);
      if (server.endsWith(':admin')) return tokenOnce(`operator ${aud}`, () => t.appToken('operator', aud));
      if (server.endsWith(':tenant'))
        return tokenOnce(`victim ${aud}`, () =>
          t.userToken(victim.customerId, victim.admin.userName, victim.admin.password, aud),
        );
      return tokenOnce(`csp ${aud}`, () => t.appToken('csp', aud));
    };
    let succeeded = 0;
    for (const server of t.system.servers) {
      for (const r of server.routes.filter((x) => !isAnonymous(x) && x.method === 'GET')) {
        const res = await send(server.name, server.origin, r, await rightful(server.name, r.url));
        if (res.status < 300) succeeded++;
      }
    }
    process.stdout.write(`route audit: ${succeeded} GET routes answered their rightful caller with success\n`);
    assert.ok(succeeded > 30, `only ${succeeded} successes: the sweep reaches too little`);
    assert.deepEqual(unauditedAnswers, [], 'routes that answered without a rights check');
  });
});
