// Keyset paging of hub lists that answered everything: GET /tenants (a partner's user is a guest in
// every customer's directory), priceOverrides, a customer's orders at the partner center and the
// usage archives. Each is paged to its end with a row inserted between pages (every row that was
// there comes once, in key order); forged tokens and other lists' are refused in the API's error
// shape; who may not read a list still may not.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keysetToken } from '../src/core/paging.ts';
import { listScope } from '../src/http/paging.ts';
import { customerWithSubscription, secondPartner } from './helpers/partner.ts';
import { startTestSystem, type TestSystem, withHubDatabase } from './helpers/system.ts';

const V = 'api-version=2026-11-01';
const TENANTS_V = 'api-version=2022-12-01';
const FORGED = Buffer.from(JSON.stringify({ s: 'x', k: ['00000000-0000-0000-0000-000000000000'] })).toString(
  'base64url',
);

type ArmPage = { value: Record<string, unknown>[]; nextLink?: string };
type Collection = {
  items: Record<string, unknown>[];
  links?: { next?: { uri: string; headers: { key: string; value: string }[] } };
};

/** Every key of `expected` once in `seen`, and `seen` strictly ascending (so nothing twice) by `compare`. */
function assertOnceInOrder(
  seen: string[],
  expected: string[],
  compare: (a: string, b: string) => number = (a, b) => (a < b ? -1 : 1),
) {
  for (let i = 1; i < seen.length; i++) assert.ok(compare(seen[i - 1], seen[i]) < 0, `in key order: ${seen}`);
  assert.deepEqual(
    expected.filter((k) => !seen.includes(k)),
    [],
    'every row that was there when paging started',
  );
}

describe('hub list paging', () => {
  let t: TestSystem;
  let arm: string;
  let pc: string;
  let csp: string;
  let cspPc: string;

  /** Follows an ARM list's nextLink, calling `between` after each page but the last; answers the pages' rows. */
  async function armPages(first: string, token: string, between = async () => {}) {
    const rows: Record<string, unknown>[] = [];
    let pages = 0;
    for (let url: string | undefined = first; url; pages++) {
      const res: { status: number; body: ArmPage } = await t.call<ArmPage>('GET', url, { token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.value.length <= 2);
      rows.push(...res.body.value);
      url = res.body.nextLink;
      if (url) await between();
    }
    return { rows, pages };
  }

  /** An ARM list's answer to a token, expected refused with InvalidSkipToken. */
  async function assertSkipTokenRefused(url: string, token: string, skiptoken: string) {
    const res = await t.call('GET', `${url}&$skiptoken=${encodeURIComponent(skiptoken)}`, { token });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'InvalidSkipToken');
  }

  /** The continuation token of a list's first page of `$top=1` (there must be a second). */
  async function firstSkipToken(url: string, token: string): Promise<string> {
    const res = await t.call<ArmPage>('GET', `${url}&$top=1`, { token });
    assert.ok(res.body.nextLink, JSON.stringify(res.body));
    return new URL(res.body.nextLink).searchParams.get('$skiptoken')!;
  }

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-05-10T00:00:00Z') });
    arm = t.b.hub.arm;
    pc = t.b.hub.partnerCenter;
    csp = await t.appToken('csp', arm);
    cspPc = await t.appToken('csp', pc);
  });
  after(async () => {
    await t?.stop();
  });

  /** A new customer whose administrator invites the CSP's administrator as a guest; answers the customer. */
  async function customerInviting(prefix: string) {
    const customer = await t.call('POST', `${pc}/v1/customers`, {
      token: cspPc,
      body: { companyProfile: { domain: prefix, companyName: `${prefix} Ltd` } },
    });
    assert.equal(customer.status, 201, JSON.stringify(customer.body));
    const { userName, password } = customer.body.userCredentials;
    const graph = await t.userToken(customer.body.id, userName, password, t.b.hub.graph);
    const invited = await t.call('POST', `${t.b.hub.graph}/v1.0/invitations`, {
      token: graph,
      body: { invitedUserEmailAddress: t.b.csp.admin.userName, inviteRedirectUrl: 'https://x.example/' },
    });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    return { id: customer.body.id as string, userName, password };
  }

  it('pages GET /tenants over every directory of a user who is a guest in several, by tenant id', async () => {
    const customers = [];
    for (let i = 0; i < 5; i++) customers.push(await customerInviting(`guest-${i}`));
    const { userName, password } = t.b.csp.admin;
    const cspAdmin = await t.userToken(t.b.csp.tenantId, userName, password, arm);
    const url = `${arm}/tenants?${TENANTS_V}`;
    const expected = [t.b.csp.tenantId, ...customers.map((c) => c.id)].sort();
    const whole = await t.call<ArmPage>('GET', url, { token: cspAdmin });
    assert.deepEqual(
      whole.body.value.map((x) => x.tenantId),
      expected,
    );
    assert.equal(whole.body.nextLink, undefined);

    // Two a page; a directory that comes between pages comes once, if at all (after the cursor).
    let added = 0;
    const paged = await armPages(`${url}&$top=2`, cspAdmin, async () => {
      if (added++ < 2) customers.push(await customerInviting(`guest-late-${added}`));
    });
    assert.ok(paged.pages >= 3);
    assertOnceInOrder(
      paged.rows.map((x) => x.tenantId as string),
      expected,
    );
    assert.ok(paged.rows.every((x) => x.id === `/tenants/${x.tenantId}` && x.tenantCategory === 'Home'));

    // Signed in to a customer's directory as its guest account: the same person, the same directories.
    const asGuest = await t.userToken(customers[0].id, userName, password, arm);
    const guestPages = await armPages(`${url}&$top=2`, asGuest);
    assert.deepEqual(
      guestPages.rows.map((x) => x.tenantId),
      [t.b.csp.tenantId, ...customers.map((c) => c.id)].sort(),
    );

    // Forged, tampered and other lists' tokens; a key of the wrong type in this list's scope.
    await assertSkipTokenRefused(url, cspAdmin, 'not a token');
    await assertSkipTokenRefused(url, cspAdmin, FORGED);
    const tenantsToken = await firstSkipToken(url, cspAdmin);
    await assertSkipTokenRefused(`${url}&x=1`, cspAdmin, tenantsToken);
    await assertSkipTokenRefused(`${arm}/providers/Stackledger.System/usage/archives?${V}`, csp, tenantsToken);
    const scope = listScope(`/tenants?${TENANTS_V}`, 'tenants', ['$skiptoken', '$top', 'api-version']);
    await assertSkipTokenRefused(url, cspAdmin, keysetToken(scope, ['uuid'], ['not-a-guid']));

    // A customer's administrator lists its own directory only, whatever token it resumes after.
    const other = customers[1];
    const customerAdmin = await t.userToken(other.id, other.userName, other.password, arm);
    const own = await t.call<ArmPage>('GET', `${url}&$top=2`, { token: customerAdmin });
    assert.deepEqual(
      own.body.value.map((x) => x.tenantId),
      [other.id],
    );
    const resumed = await t.call<ArmPage>('GET', `${url}&$skiptoken=${tenantsToken}`, { token: customerAdmin });
    assert.equal(resumed.status, 200);
    assert.ok(resumed.body.value.every((x) => x.tenantId === other.id));

    // An application: its own directory, one page; after it, nothing.
    const app = await t.call<ArmPage>('GET', `${url}&$top=1`, { token: csp });
    assert.deepEqual(
      app.body.value.map((x) => x.tenantId),
      [t.b.csp.tenantId],
    );
    assert.equal(app.body.nextLink, undefined);
    const past = keysetToken(scope, ['uuid'], [t.b.csp.tenantId]);
    assert.deepEqual((await t.call<ArmPage>('GET', `${url}&$skiptoken=${past}`, { token: csp })).body.value, []);
  });

  it('pages priceOverrides by id, each level its own list', async () => {
    const url = `${arm}/providers/Stackledger.Billing/priceOverrides?${V}`;
    let n = 0;
    const add = async () => {
      const res = await t.call('POST', url, {
        token: csp,
        body: { kind: 'markup', value: '1', effectiveFrom: '2026-06-01', reason: `paging ${n++}` },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    const expected = [];
    for (let i = 0; i < 5; i++) expected.push(await add());
    const byId = (a: string, b: string) => Number(BigInt(a) - BigInt(b));
    const whole = await t.call<ArmPage>('GET', url, { token: csp });
    assert.deepEqual(
      whole.body.value.map((o) => o.id),
      [...expected].sort(byId),
    );
    assert.equal(whole.body.value[0].seller, t.b.csp.tenantId, 'the rows as they were answered');

    const added: string[] = [];
    const paged = await armPages(`${url}&$top=2`, csp, async () => {
      if (added.length < 2) added.push(await add());
    });
    const ids = paged.rows.map((o) => o.id as string);
    assertOnceInOrder(ids, [...expected, ...added], byId);

    await assertSkipTokenRefused(url, csp, 'x');
    await assertSkipTokenRefused(url, csp, FORGED);
    const partnerToken = await firstSkipToken(url, csp);
    await assertSkipTokenRefused(`${url}&level=provider`, csp, partnerToken);

    // A customer is refused as before; another partner pages only its own (none), even after the CSP's key.
    const a = await customerWithSubscription(t, 'overrides-a', cspPc);
    const customerAdmin = await t.userToken(a.customerId, a.admin.userName, a.admin.password, arm);
    const refused = await t.call('GET', `${url}&$top=2`, { token: customerAdmin });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    const other = await secondPartner(t, 'overrides-p');
    const otherToken = await other.token(arm);
    for (const q of ['', `&$skiptoken=${partnerToken}`]) {
      const res = await t.call<ArmPage>('GET', `${url}${q}`, { token: otherToken });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.value, []);
    }
  });

  it("pages a customer's orders with MS-ContinuationToken and size, oldest first", async () => {
    const c = await customerWithSubscription(t, 'orders-a', cspPc);
    const ordersUrl = `${pc}/v1/customers/${c.customerId}/orders`;
    const order = async () => {
      const res = await t.call('POST', ordersUrl, {
        token: cspPc,
        body: { lineItems: [{ offerId: 'MS-AZR-0145P', quantity: 1 }] },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    for (let i = 0; i < 4; i++) await order();
    const whole = await t.call<Collection>('GET', ordersUrl, { token: cspPc });
    assert.equal(whole.status, 200);
    assert.equal(whole.body.items.length, 5);
    assert.equal(whole.body.links, undefined);
    const keyOf = (o: Record<string, unknown>) => `${o.creationDate} ${o.id}`;
    const expected = whole.body.items.map(keyOf);
    assert.deepEqual(expected, [...expected].sort(), 'oldest first, then by id');

    const seen: string[] = [];
    let added = 0;
    let page = await t.call<Collection>('GET', `${ordersUrl}?size=2`, { token: cspPc });
    for (let pages = 1; ; pages++) {
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.items.length <= 2);
      assert.ok(page.body.items.every((o) => (o.attributes as { objectType: string }).objectType === 'Order'));
      seen.push(...page.body.items.map(keyOf));
      const next = page.body.links?.next;
      if (!next) {
        assert.ok(pages >= 3);
        break;
      }
      assert.equal(next.uri, `/v1/customers/${c.customerId}/orders?size=2`);
      if (added++ < 2) await order();
      page = await t.call<Collection>('GET', `${pc}${next.uri}`, {
        token: cspPc,
        headers: { [next.headers[0].key]: next.headers[0].value },
      });
    }
    assertOnceInOrder(seen, expected);

    const withToken = (token: string, url = ordersUrl) =>
      t.call('GET', url, { token: cspPc, headers: { 'MS-ContinuationToken': token } });
    const first = await t.call<Collection>('GET', `${ordersUrl}?size=1`, { token: cspPc });
    const ordersToken = first.body.links!.next!.headers[0].value;
    const customers = await t.call<Collection>('GET', `${pc}/v1/customers?size=1`, { token: cspPc });
    const customersToken = customers.body.links!.next!.headers[0].value;
    const b = await customerWithSubscription(t, 'orders-b', cspPc);
    for (const [token, url] of [
      ['not-a-token', ordersUrl],
      [FORGED, ordersUrl],
      [customersToken, ordersUrl],
      [ordersToken, `${pc}/v1/customers/${b.customerId}/orders`],
    ]) {
      const res = await withToken(token, url);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.code, 'InvalidContinuationToken');
    }

    // Another partner does not find the customer; the customer's administrator is no partner.
    const other = await secondPartner(t, 'orders-p');
    const notFound = await t.call('GET', `${ordersUrl}?size=2`, { token: await other.token(pc) });
    assert.equal(notFound.status, 404, JSON.stringify(notFound.body));
    const customerAdmin = await t.userToken(c.customerId, c.admin.userName, c.admin.password, pc);
    const refused = await t.call('GET', `${ordersUrl}?size=2`, { token: customerAdmin });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
  });

  it('pages the usage archives by month', async () => {
    const archive = (month: string) =>
      withHubDatabase(t, (db) =>
        db.query(
          `insert into usage_archives (month, file, name, records, attributions, quantities, sha256, archived_at, archived_by)
           values ($1::date, '/nowhere/' || $1, 'usage-' || $1, 1, 1, '{}', 'x', now(), 'test')`,
          [`${month}-01`],
        ),
      );
    const expected = ['2001-01', '2001-03', '2001-05', '2001-07', '2001-09'];
    for (const m of expected) await archive(m);
    const url = `${arm}/providers/Stackledger.System/usage/archives?${V}`;
    const whole = await t.call<ArmPage>('GET', url, { token: csp });
    assert.deepEqual(
      whole.body.value.map((a) => a.month),
      expected,
    );
    assert.deepEqual(Object.keys(whole.body), ['value']);

    // One before the cursor (never shown) and one after it (shown once) come between pages.
    const late = ['2001-02', '2001-11'];
    const paged = await armPages(`${url}&$top=2`, csp, async () => {
      const m = late.shift();
      if (m) await archive(m);
    });
    const months = paged.rows.map((a) => a.month as string);
    assertOnceInOrder(months, [...expected, '2001-11']);
    assert.ok(!months.includes('2001-02'), 'before the cursor when it came');
    assert.equal(paged.rows[0].name, 'usage-2001-01-01');

    await assertSkipTokenRefused(url, csp, 'x');
    await assertSkipTokenRefused(url, csp, FORGED);
    const archivesToken = await firstSkipToken(url, csp);
    await assertSkipTokenRefused(`${arm}/providers/Stackledger.Billing/priceOverrides?${V}`, csp, archivesToken);
    const scope = listScope(`/providers/Stackledger.System/usage/archives?${V}`, 'usageArchives', [
      '$skiptoken',
      '$top',
      'api-version',
    ]);
    // This list's scope: a month's instant resumes after it; a key that is no instant is refused.
    const after = await t.call<ArmPage>(
      'GET',
      `${url}&$skiptoken=${keysetToken(scope, ['time'], [new Date('2001-05-01')])}`,
      {
        token: csp,
      },
    );
    assert.deepEqual(
      after.body.value.map((a) => a.month),
      ['2001-07', '2001-09', '2001-11'],
    );
    await assertSkipTokenRefused(url, csp, keysetToken(scope, ['text'], ['2001-13']));

    // Only system administrators read them.
    const a = await customerWithSubscription(t, 'archives-a', cspPc);
    const other = await secondPartner(t, 'archives-p');
    for (const token of [
      await t.userToken(a.customerId, a.admin.userName, a.admin.password, arm),
      await other.token(arm),
    ]) {
      const res = await t.call('GET', `${url}&$skiptoken=${archivesToken}`, { token });
      assert.equal(res.status, 403, JSON.stringify(res.body));
    }
  });
});
