// Property-based fuzz of every route of the live route table (the hub with its login, partner
// center, directory and portal, and the stack's admin and tenant endpoints): generated bad input,
// as the CSP (the operator on the stack's admin endpoint), as a customer and anonymously. No answer
// is a 5xx, none shows an internal message, and a refused write changes nothing.
import fc from 'fast-check';
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { request } from 'undici';
import { withDatabase } from '../src/db/database.ts';
import { liveRouteTable, type RouteEntry } from '../src/http/server.ts';
import {
  badBody,
  BAD_TEXTS,
  encodeAnything,
  fromSchema,
  INTERNAL_TEXT,
  queryNamesInSources,
  stateFingerprint,
} from './helpers/fuzz.ts';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';
import { REPO } from './helpers/repo.ts';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const RUNS_PER_CALLER = Number(process.env.FUZZ_RUNS ?? 5);
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type Caller = 'csp' | 'customer' | 'anonymous';
const CALLERS: Caller[] = ['csp', 'customer', 'anonymous'];

interface Target extends RouteEntry {
  origin: string;
  /** The API the route belongs to: its base URL is the audience of its tokens. */
  audience: string;
}

interface Case {
  params: string[];
  apiVersion: string | undefined;
  query: Array<[string, string]>;
  body: { type: string; text: string } | undefined;
}

describe('fuzz: every route, bad input', () => {
  let t: TestSystem;
  let targets: Target[];
  let queryNames: string[];
  const tokens = new Map<string, string>();
  /** Values that get a request past the first checks, by parameter name (lower case). */
  const good = new Map<string, string[]>();
  let clients: pg.Client[];

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-01-01T00:00:00Z') });
    const c = await customerWithSubscription(t, 'fuzzco');
    const { sub: tenantSub } = await tenantSubscription(t, c, 'fuzz');
    const b = t.b;
    const stack = b.stacks.local;
    const hubOrigin = new URL(b.hub.arm).origin;
    targets = [];
    for (const [origin, routes] of liveRouteTable()) {
      for (const r of routes) {
        if ([hubOrigin, new URL(stack.adminArm).origin, new URL(stack.tenantArm).origin].includes(origin))
          targets.push({ ...r, origin, audience: apiAt(origin, r.url) });
      }
    }
    for (const audience of new Set(targets.map((x) => x.audience))) {
      if (audience === b.hub.login || audience === b.hub.adfs || audience === b.hub.portal) continue;
      tokens.set(`csp ${audience}`, await t.appToken(audience === stack.adminArm ? 'operator' : 'csp', audience));
      tokens.set(`customer ${audience}`, await t.userToken(c.customerId, c.admin.userName, c.admin.password, audience));
    }
    const subs = [c.subscriptionId, tenantSub, b.csp.registrationSubscriptionId, stack.providerSubscriptionId];
    for (const name of ['subscriptionid', 'subscription', 'id']) good.set(name, subs);
    for (const name of ['customerid', 'customer', 'tenant', 'tenantid', 'directory'])
      good.set(name, [c.customerId, b.csp.tenantId]);
    for (const name of ['resourcegroupname', 'resourcegroup', 'group'])
      good.set(name, ['rg', b.csp.resourceGroup, `system.${stack.location}`]);
    good.set('registrationname', [b.csp.registrationName]);
    queryNames = queryNamesInSources(path.join(REPO, 'src'));
    clients = [];
    for (const db of ['hub', 'stack_local']) {
      const client = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_${db}`) });
      await client.connect();
      clients.push(client);
    }
  });
  after(async () => {
    for (const c of clients ?? []) await c.end();
    await t?.stop();
  });

  /** Each API keeps its own error envelope: ARM's and the graph's `error.code`, the partner center's `description`, OAuth's. */
  const assertErrorShape = (audience: string, text: string, what: string) => {
    if (audience === t.b.hub.portal) return;
    const body = JSON.parse(text);
    if (audience === t.b.hub.login || audience === t.b.hub.adfs)
      assert.ok(typeof body.error === 'string' && typeof body.error_description === 'string', what);
    else if (audience === t.b.hub.partnerCenter)
      assert.ok(typeof body.code === 'string' && typeof body.description === 'string', what);
    else assert.ok(typeof body.error?.code === 'string' && typeof body.error?.message === 'string', what);
  };

  /** The API that serves a path of an origin: its base URL is the audience of its tokens. */
  const apiAt = (origin: string, path: string): string => {
    const b = t.b;
    if (origin === new URL(b.stacks.local.adminArm).origin) return b.stacks.local.adminArm;
    if (origin === new URL(b.stacks.local.tenantArm).origin) return b.stacks.local.tenantArm;
    // Both authorities (Azure AD-style `login`, AD FS-style `adfs`) answer in OAuth's shape.
    for (const base of [b.hub.login, b.hub.adfs, b.hub.partnerCenter, b.hub.graph, b.hub.portal])
      if (path.toLowerCase().startsWith(new URL(base).pathname.toLowerCase())) return base;
    return b.hub.arm;
  };

  const fingerprint = async () => (await Promise.all(clients.map(stateFingerprint))).join('\n');

  const caseFor = (route: Target): fc.Arbitrary<Case> => {
    const names = [...route.url.matchAll(/:(\w+)|\*/g)].map((m) => (m[1] ?? '*').toLowerCase());
    const param = (name: string) => {
      const known = good.get(name);
      const bad = fc.oneof(
        fc.constantFrom(...BAD_TEXTS.filter((x) => x !== '')),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }),
      );
      return known
        ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...known) }, { weight: 3, arbitrary: bad })
        : fc.oneof(fc.constant('x'), bad);
    };
    return fc.record({
      params: fc.tuple(...names.map(param)),
      apiVersion: route.apiVersions
        ? fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom(...route.apiVersions) },
            { weight: 1, arbitrary: fc.constantFrom(...BAD_TEXTS) },
          )
        : fc.constant(undefined),
      query: fc.array(
        fc.tuple(
          fc.constantFrom(...queryNames),
          fc.oneof(fc.constantFrom(...BAD_TEXTS), fc.string({ unit: 'binary', maxLength: 8 })),
        ),
        { maxLength: 3 },
      ),
      body: WRITES.has(route.method)
        ? fc.option(bodyFor(route), { freq: 8 }).map((v) => v ?? undefined)
        : fc.constant(undefined),
    });
  };

  /** Mostly a body in the shape of the route's schema, with bad leaves; otherwise any bad body. */
  const bodyFor = (route: Target): fc.Arbitrary<{ type: string; text: string }> => {
    if (!route.bodySchema) return badBody;
    const shaped = fromSchema(route.bodySchema, good).map((v) => ({
      type: 'application/json',
      text: JSON.stringify(v) ?? 'null',
    }));
    return fc.oneof({ weight: 3, arbitrary: shaped }, { weight: 1, arbitrary: badBody });
  };

  const urlOf = (route: Target, c: Case): string => {
    let i = 0;
    const pathPart = route.url.replace(/:(\w+)|\*/g, () => encodeAnything(c.params[i++] || 'x'));
    const query = [...(c.apiVersion !== undefined ? [['api-version', c.apiVersion]] : []), ...c.query]
      .map(([k, v]) => `${encodeAnything(k)}=${encodeAnything(v)}`)
      .join('&');
    return `${route.origin}${pathPart.startsWith('/') ? '' : '/'}${pathPart}${query ? `?${query}` : ''}`;
  };

  it(
    'answers every route without a 5xx or an internal message, and refused writes change nothing',
    { timeout: 600_000 },
    async () => {
      process.stdout.write(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED}); ${targets.length} routes\n`);
      assert.ok(targets.length > 150, `the live route table has ${targets.length} routes`);
      let cases = 0;
      const failures: string[] = [];
      const statuses = new Map<number, number>();
      for (const [index, route] of targets.entries()) {
        for (const caller of CALLERS) {
          const token = caller === 'anonymous' ? undefined : tokens.get(`${caller} ${route.audience}`);
          await fc
            .assert(
              fc.asyncProperty(caseFor(route), async (c) => {
                cases++;
                const url = urlOf(route, c);
                const before = WRITES.has(route.method) ? await fingerprint() : undefined;
                const res = await request(url, {
                  method: route.method,
                  dispatcher: t.dispatcher,
                  headers: {
                    ...(token ? { authorization: `Bearer ${token}` } : {}),
                    ...(c.body ? { 'content-type': c.body.type } : {}),
                  },
                  body: c.body?.text,
                });
                const text = await res.body.text();
                statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
                const what = `${route.method} ${url} as ${caller}${c.body ? ` with ${c.body.text.slice(0, 200)}` : ''}: ${res.statusCode} ${text.slice(0, 300)}`;
                assert.ok(res.statusCode < 500, what);
                assert.doesNotMatch(text, INTERNAL_TEXT, what);
                // The shape of the API the URL reaches: a path parameter such as `..` may take it elsewhere.
                if (res.statusCode >= 400 && route.method !== 'HEAD')
                  assertErrorShape(apiAt(route.origin, new URL(url).pathname), text, what);
                if (before !== undefined && res.statusCode >= 400)
                  assert.equal(await fingerprint(), before, `a refused write changed the state: ${what}`);
              }),
              { seed: SEED + index * 3 + CALLERS.indexOf(caller), numRuns: RUNS_PER_CALLER },
            )
            // Every failing route is reported, not only the first.
            .catch((e: Error) =>
              failures.push(
                `${(e.cause as Error | undefined)?.message.split('\n')[0] ?? e.message.slice(0, 600)}\n  ${e.message.split('\n')[1] ?? ''}`,
              ),
            );
        }
      }
      process.stdout.write(
        `fuzz: ${targets.length} routes, ${cases} cases, answers ${JSON.stringify(Object.fromEntries([...statuses].sort()))}\n`,
      );
      assert.deepEqual(failures, [], `${failures.length} routes failed:\n${failures.join('\n')}`);
    },
  );
});
