// The stack's catalogue lists (quotas, plans, offers: the operator's and the tenant's public ones)
// and the Network provider's child lists (subnets, security rules, IP configurations) page by key:
// $top rows a page in key order, each row once through `nextLink` even when rows are added between
// pages, a forged or another list's $skiptoken refused, and the operator's lists closed to tenants.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const API = 'api-version=2015-11-01';
const NET = 'api-version=2018-11-01';

type Item = { name: string };
type Listed = { value: Item[]; nextLink?: string };

interface PagedList {
  /** The list's URL, with its api-version. */
  url: string;
  token: string;
  /** Makes a row of the list named `name`. */
  create: (name: string) => Promise<void>;
  /** A row's key as the list orders it (its name, lower case, unless said otherwise). */
  key?: (item: Item) => string;
}

describe('paged lists of the stack', () => {
  let t: TestSystem;
  let admin: string;
  let tenant: string;
  let provider: string;
  let operator: string;
  let user: string;
  let sub: string;
  let other: string;
  let customer: CustomerWithSubscription;
  /** A token of each list checked so far: for the next one, a token of another list. */
  const tokens: string[] = [];
  let lists = 0;

  before(async () => {
    t = await startTestSystem();
    ({ adminArm: admin, tenantArm: tenant, providerSubscriptionId: provider } = t.b.stacks.local);
    operator = await t.appToken('operator', admin);
    customer = await customerWithSubscription(t, 'pagingA');
    ({ user, sub } = await tenantSubscription(t, customer, 'paging'));
    ({ user: other } = await tenantSubscription(t, await customerWithSubscription(t, 'pagingB'), 'other'));
  });
  after(() => t?.stop());

  const ok = async (method: string, url: string, token: string, body?: unknown) => {
    const res = await t.call(method, url, { token, body });
    assert.ok(res.status === 200 || res.status === 201, `${method} ${url}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const get = (url: string, token: string) => t.call<Listed>('GET', url, { token });
  const skipToken = (nextLink: string) => new URL(nextLink).searchParams.get('$skiptoken') ?? '';

  /**
   * Five rows made, then the list at $top=2 to its end: every row once, in the order of the whole
   * list (itself in key order); one row made before the cursor and one after it between the first
   * two pages: only the later shows. Forged tokens and another list's answer 400 InvalidSkipToken.
   */
  async function checkPaging(name: string, list: PagedList, rows: string[]) {
    const key = list.key ?? ((i: Item) => i.name.toLowerCase());
    for (const row of rows) await list.create(row);
    const whole = await get(`${list.url}&$top=1000`, list.token);
    assert.equal(whole.status, 200, JSON.stringify(whole.body));
    assert.equal(whole.body.nextLink, undefined);
    const keys = whole.body.value.map(key);
    for (const row of rows) assert.ok(keys.includes(row), `${name}: ${row} listed`);
    assert.deepEqual(keys, [...keys].sort(), `${name}: in key order`);

    // Names before and after every other of its list (digits sort before letters).
    const n = lists++;
    const early = `a${9 - n}`;
    const late = `z${n}`;
    const seen: string[] = [];
    let res = await get(`${list.url}&$top=2`, list.token);
    for (let page = 1; ; page++) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.value.length <= 2);
      seen.push(...res.body.value.map(key));
      if (!res.body.nextLink) break;
      assert.equal(res.body.value.length, 2, `${name}: a full page before a next one`);
      if (page === 1) {
        tokens.push(skipToken(res.body.nextLink));
        assert.ok(early < seen[seen.length - 1], `${name}: ${early} is before the cursor`);
        await list.create(early);
        await list.create(late);
      }
      res = await get(res.body.nextLink, list.token);
    }
    assert.deepEqual(seen, [...keys, late], `${name}: every row once, the one added before the cursor not shown`);

    const refused = async (token: string, why: string) => {
      const bad = await get(`${list.url}&$top=2&$skiptoken=${encodeURIComponent(token)}`, list.token);
      assert.equal(bad.status, 400, `${name}: ${why}`);
      const error = (bad.body as unknown as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'InvalidSkipToken', `${name}: ${why}`);
      assert.equal(typeof error.message, 'string');
    };
    await refused('not a token', 'not base64url');
    await refused(Buffer.from(JSON.stringify({ s: 'x', k: ['a'] })).toString('base64url'), 'forged');
    if (tokens.length > 1) await refused(tokens[tokens.length - 2], "another list's");
  }

  const offersIn = (group?: string) =>
    `${admin}/subscriptions/${provider}/${group ? `resourceGroups/${group}/` : ''}providers/Microsoft.Subscriptions.Admin/offers?${API}`;
  const plansIn = (group?: string) =>
    `${admin}/subscriptions/${provider}/${group ? `resourcegroups/${group}/` : ''}providers/Microsoft.Subscriptions.Admin/plans?${API}`;
  const computeQuotas = () =>
    `${admin}/subscriptions/${provider}/providers/Microsoft.Compute.Admin/locations/local/quotas`;
  const offer = (name: string) =>
    ok(
      'PUT',
      `${admin}/subscriptions/${provider}/resourceGroups/plans/providers/Microsoft.Subscriptions.Admin/offers/${name}?${API}`,
      operator,
      { location: 'local', properties: { displayName: name, state: 'Public' } },
    );
  const plan = (name: string) =>
    ok(
      'PUT',
      `${admin}/subscriptions/${provider}/resourcegroups/plans/providers/Microsoft.Subscriptions.Admin/plans/${name}?${API}`,
      operator,
      { location: 'local', properties: { displayName: name } },
    );

  it("pages the operator's offers and the tenant's public offers", async () => {
    const create = offer;
    await checkPaging('offers of a group', { url: offersIn('plans'), token: operator, create }, ['o0', 'o1', 'o2']);
    await checkPaging('offers', { url: offersIn(), token: operator, create }, ['o3', 'o4']);
    await checkPaging('public offers', { url: `${tenant}/offers?${API}`, token: user, create }, ['o5']);
    await checkPaging(
      'delegated offers',
      { url: `${tenant}/delegatedProviders/default/offers?${API}`, token: user, create },
      ['o6'],
    );
    // One public offer by name, not read through a list.
    const one = await t.call('GET', `${tenant}/delegatedProviders/default/offers/O6?${API}`, { token: user });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.name, 'o6');
  });

  it('pages plans and quotas', async () => {
    await checkPaging('plans of a group', { url: plansIn('plans'), token: operator, create: plan }, [
      'p0',
      'p1',
      'p2',
      'p3',
      'p4',
    ]);
    await checkPaging('plans', { url: plansIn(), token: operator, create: plan }, ['p5']);
    await checkPaging(
      'compute quotas',
      {
        url: `${computeQuotas()}?api-version=2021-01-01`,
        token: operator,
        create: (name) =>
          ok('PUT', `${computeQuotas()}/${name}?api-version=2021-01-01`, operator, {
            location: 'local',
            properties: { virtualMachineCount: 2, coresLimit: 4 },
          }),
        key: (q) => q.name.split('/')[1].toLowerCase(),
      },
      ['q0', 'q1', 'q2', 'q3', 'q4'],
    );
  });

  it('keeps the catalogue lists to the operator', async () => {
    const { customerId, admin: who } = customer;
    const tenantOnAdmin = await t.userToken(customerId, who.userName, who.password, admin);
    for (const url of [
      offersIn('plans'),
      offersIn(),
      plansIn('plans'),
      plansIn(),
      `${computeQuotas()}?api-version=2021-01-01`,
    ]) {
      const res = await t.call('GET', url, { token: tenantOnAdmin });
      assert.equal(res.status, 403, `${url}: ${JSON.stringify(res.body)}`);
    }
  });

  it("pages a network resource's children", async () => {
    const net = `${tenant}/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network`;
    const subnetId = `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s0`;
    await ok('PUT', `${net}/virtualNetworks/vnet?${NET}`, user, {
      location: 'local',
      properties: { addressSpace: { addressPrefixes: ['10.1.0.0/16'] } },
    });
    let prefix = 0;
    await checkPaging(
      'subnets',
      {
        url: `${net}/virtualNetworks/vnet/subnets?${NET}`,
        token: user,
        create: (name) =>
          ok('PUT', `${net}/virtualNetworks/vnet/subnets/${name}?${NET}`, user, {
            properties: { addressPrefix: `10.1.${prefix++}.0/24` },
          }),
      },
      ['s0', 's1', 's2', 's3', 's4'],
    );
    await ok('PUT', `${net}/networkSecurityGroups/nsg?${NET}`, user, { location: 'local', properties: {} });
    let priority = 1000;
    await checkPaging(
      'security rules',
      {
        url: `${net}/networkSecurityGroups/nsg/securityRules?${NET}`,
        token: user,
        create: (name) =>
          ok('PUT', `${net}/networkSecurityGroups/nsg/securityRules/${name}?${NET}`, user, {
            properties: {
              protocol: 'Tcp',
              access: 'Allow',
              direction: 'Inbound',
              priority: priority++,
              sourcePortRange: '*',
              destinationPortRange: '22',
              sourceAddressPrefix: '*',
              destinationAddressPrefix: '*',
            },
          }),
      },
      ['r0', 'r1', 'r2', 'r3', 'r4'],
    );
    const subnet = { subnet: { id: subnetId } };
    await ok('PUT', `${net}/networkInterfaces/nic?${NET}`, user, {
      location: 'local',
      properties: { ipConfigurations: [{ name: 'c0', properties: subnet }] },
    });
    await checkPaging(
      'IP configurations',
      {
        url: `${net}/networkInterfaces/nic/ipConfigurations?${NET}`,
        token: user,
        create: (name) =>
          ok('PUT', `${net}/networkInterfaces/nic/ipConfigurations/${name}?${NET}`, user, { properties: subnet }),
      },
      ['c1', 'c2', 'c3', 'c4'],
    );
    // Another tenant reads none of them.
    const denied = await t.call('GET', `${net}/virtualNetworks/vnet/subnets?${NET}`, { token: other });
    assert.equal(denied.status, 403, JSON.stringify(denied.body));
  });
});
