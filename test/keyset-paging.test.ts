// Keyset paging (core/paging.ts): paging through the hub's and the stack's usage APIs while
// another connection inserts records between pages returns every record that existed when
// paging started exactly once; tokens of another list, forged or tampered are refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const API = 'api-version=2015-06-01-preview';
const METER = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const WINDOW =
  'reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-09T00:00:00Z&aggregationGranularity=Hourly';
/** Aggregates there are when paging starts: three pages of 1,000 and a part. */
const GROUPS = 2_500;

type Aggregate = { properties: { usageStartTime: string; meterId: string; instanceData?: string; quantity: number } };
type UsagePage = { value: Aggregate[]; nextLink?: string };
const keyOf = (a: Aggregate) =>
  `${a.properties.usageStartTime} ${a.properties.meterId} ${JSON.parse(a.properties.instanceData ?? '{}')['Microsoft.Resources']?.resourceUri}`;

/**
 * Pages through `first` with `next`, calling `between` after each page, and answers every
 * aggregate's key in the order seen.
 */
async function pageThrough(
  t: TestSystem,
  first: string,
  token: string,
  between: (page: number) => Promise<void>,
): Promise<string[]> {
  const seen: string[] = [];
  let url: string | undefined = first;
  for (let page = 1; url; page++) {
    const res: { status: number; body: UsagePage } = await t.call<UsagePage>('GET', url, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    seen.push(...res.body.value.map(keyOf));
    url = res.body.nextLink;
    if (url) await between(page);
  }
  return seen;
}

/** Every key expected once, and nothing twice. */
function assertOnce(seen: string[], expected: string[]) {
  const counts = new Map<string, number>();
  for (const k of seen) counts.set(k, (counts.get(k) ?? 0) + 1);
  assert.deepEqual(
    [...counts].filter(([, n]) => n > 1),
    [],
    'no aggregate twice',
  );
  const missing = expected.filter((k) => !counts.has(k));
  assert.deepEqual(missing, [], 'every aggregate that existed when paging started');
}

describe('keyset paging', () => {
  let t: TestSystem;
  let hubDb: pg.Client;
  let stackDb: pg.Client;
  let hubSub: string;
  let hubToken: string;
  let stackSub: string;
  let stackToken: string;

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-05-10T00:00:00Z') });
    const c = await customerWithSubscription(t, 'keyset');
    hubSub = c.subscriptionId;
    hubToken = await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.arm);
    const tenant = await tenantSubscription(t, c, 'keyset');
    stackSub = tenant.sub;
    stackToken = tenant.user;
    hubDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await hubDb.connect();
    await stackDb.connect();
  });
  after(async () => {
    await hubDb?.end();
    await stackDb?.end();
    await t?.stop();
  });

  /**
   * Hub usage of resource `vm{n}` in each given hour, billed to the customer's subscription: by
   * default as ingestion stores it (the record holds its attribution), or as records stored before
   * 0550 are (`legacy`: the attribution a row of usage_attributed).
   */
  const hubInsert = async (names: string[], hours: number[], legacy = false) => {
    await hubDb.query(
      `with r as (
         insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, location, tags, received_at, batch_id,
                                     billed_subscription_id)
         select 'test', n || '-' || h, '/subscriptions/' || $1 || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/' || n,
                $2::uuid, timestamptz '2026-05-01T00:00:00Z' + h * interval '1 hour', 0, 1, 'local', '{}', '2026-05-05', gen_random_uuid(),
                case when $5 then null else $1::uuid end
         from unnest($3::text[]) n, unnest($4::int[]) h
         returning id, source, hour, quantity)
       insert into usage_attributed (source, hour, received_id, billed_subscription_id, reason, quantity, attributed_at)
       select source, hour, id, $1::uuid, 'test', quantity, '2026-05-05' from r where $5`,
      [hubSub, METER, names, hours, legacy],
    );
  };
  /** Stack usage of resource `vm{n}` in each given hour, reported within the window. */
  const stackInsert = async (names: string[], hours: number[]) => {
    await stackDb.query(
      `insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
       select gen_random_uuid(), $2::uuid, timestamptz '2026-05-01T00:00:00Z' + h * interval '1 hour', 0, 1, $1::uuid, gen_random_uuid(),
              '/subscriptions/' || $1 || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/' || n, 'local', '{}', '2026-05-05'
       from unnest($3::text[]) n, unnest($4::int[]) h`,
      [stackSub, METER, names, hours],
    );
  };
  const names = (from: number, count: number, prefix = 'vm') =>
    Array.from({ length: count }, (_, i) => `${prefix}${String(from + i).padStart(4, '0')}`);
  const hours = Array.from({ length: 25 }, (_, i) => i); // 100 resources × 25 hours = 2,500 groups

  for (const api of ['hub', 'stack'] as const) {
    it(`pages the ${api}'s usage API once over every record while others are inserted between pages`, async () => {
      const insert = api === 'hub' ? hubInsert : stackInsert;
      await insert(names(0, GROUPS / hours.length), hours);
      const base = api === 'hub' ? t.b.hub.arm : t.b.stacks.local.tenantArm;
      const sub = api === 'hub' ? hubSub : stackSub;
      const url = `${base}/subscriptions/${sub}/providers/Microsoft.Commerce/UsageAggregates?${API}&${WINDOW}`;
      const token = api === 'hub' ? hubToken : stackToken;

      const before = await pageThrough(t, url, token, async () => {});
      assert.equal(before.length, GROUPS);
      // Between pages: groups that sort before the cursor (hour 0, names before every other) and after it (hour 30).
      // On the hub, those of odd pages as records before 0550 were stored.
      const seen = await pageThrough(t, url, token, async (page) => {
        await insert(names(page * 10, 3, 'a-early'), [0], page % 2 === 1);
        await insert(names(page * 10, 3, 'z-late'), [30], page % 2 === 1);
      });
      assertOnce(seen, before);
      assert.ok(seen.length >= GROUPS, 'the inserted ones after the cursor may come too');
    });
  }

  it("sums each record's own attribution and the re-attributions: cancelled groups leave no short page, moved-in groups show", async () => {
    const other = '99999999-0000-0000-0000-00000000beef';
    const window =
      'reportedStartTime=2026-05-09T00:00:00Z&reportedEndTime=2026-05-10T00:00:00Z&aggregationGranularity=Hourly';
    // 2,500 groups of the subscription's own (100 resources × 25 hours), and 100 first billed to another.
    await hubDb.query(
      `insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, location, tags, received_at, batch_id,
                                   billed_subscription_id)
       select 'test-moves', p || n || '-' || h, '/subscriptions/' || $1 || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/' || p || n,
              $2::uuid, timestamptz '2026-05-01T00:00:00Z' + h * interval '1 hour', 0, 1, 'local', '{}', '2026-05-09T01:00:00Z', gen_random_uuid(),
              case p when 'c' then $1::uuid else $3::uuid end
       from unnest(array['c', 'm']) p, generate_series(0, 99) n, generate_series(0, 24) h
       where p = 'c' or (n < 50 and h < 2)`,
      [hubSub, METER, other],
    );
    // Re-attributed: the first 1,200 of its own groups (hours 0-11) away, those of the other subscription to it,
    // and one record's usage once more to it.
    const move = (where: string, from: string, to: string) =>
      hubDb.query(
        `insert into usage_attributed (source, hour, received_id, billed_subscription_id, reason, quantity, attributed_at)
         select r.source, r.hour, r.id, x.sub, x.reason, x.sign * r.quantity, '2026-05-09T02:00:00Z'
         from usage_received r, (values ($1::uuid, 'reattribution: reversed', -1), ($2::uuid, 'reattribution: linked', 1)) x(sub, reason, sign)
         where r.source = 'test-moves' and ${where}`,
        [from, to],
      );
    await move(`r.billed_subscription_id = '${hubSub}' and r.hour < '2026-05-01T12:00:00Z'`, hubSub, other);
    await move(`r.billed_subscription_id = '${other}'`, other, hubSub);
    await hubDb.query(
      `insert into usage_attributed (source, hour, received_id, billed_subscription_id, reason, quantity, attributed_at)
       select source, hour, id, $1::uuid, 'reattribution: linked', 2, '2026-05-09T03:00:00Z' from usage_received
       where source = 'test-moves' and resource_id = 'c0-12'`,
      [hubSub],
    );
    // What the attributions say, group by group, in the API's order.
    const expected = (
      await hubDb.query(
        `select to_char(a.hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') || ' ' || a.meter_id || ' ' || a.resource_uri || ' ' || sum(a.quantity)::float8 as k
         from usage_attributions a
         where a.billed_subscription_id = $1 and a.attributed_at >= '2026-05-09' and a.attributed_at < '2026-05-10'
         group by a.hour, a.meter_id, a.resource_uri having sum(a.quantity) <> 0 order by a.hour, a.meter_id, a.resource_uri`,
        [hubSub],
      )
    ).rows.map((r) => r.k);
    assert.equal(expected.length, 2_500 - 1_200 + 100);
    const url = `${t.b.hub.arm}/subscriptions/${hubSub}/providers/Microsoft.Commerce/UsageAggregates?${API}&${window}`;
    const seen: string[] = [];
    const sizes: number[] = [];
    for (let next: string | undefined = url; next;) {
      const res: { status: number; body: UsagePage } = await t.call('GET', next, { token: hubToken });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      sizes.push(res.body.value.length);
      seen.push(...res.body.value.map((a) => `${keyOf(a)} ${a.properties.quantity}`));
      next = res.body.nextLink;
    }
    assert.deepEqual(seen, expected);
    assert.deepEqual(sizes, [1_000, 400], 'full pages, though the first 1,200 of its own groups cancel');
  });

  /** The hub's answer at `url` to a client that asks for `acceptEncoding` (or for none), as it came. */
  const encodedAnswer = async (url: string, acceptEncoding?: string) => {
    const res = await t.http.open('GET', url, {
      token: hubToken,
      headers: acceptEncoding ? { 'accept-encoding': acceptEncoding } : {},
    });
    return { encoding: res.headers['content-encoding'], body: Buffer.from(await res.body.arrayBuffer()) };
  };

  it('answers a page compressed to a client that asks (gzip, deflate, br), the same JSON, and as it is to one that does not', async () => {
    const url = `${t.b.hub.arm}/subscriptions/${hubSub}/providers/Microsoft.Commerce/UsageAggregates?${API}&${WINDOW}`;
    const raw = (acceptEncoding?: string) => encodedAnswer(url, acceptEncoding);
    const plain = await raw();
    assert.equal(plain.encoding, undefined);
    const page = JSON.parse(plain.body.toString('utf8')) as UsagePage;
    assert.equal(page.value.length, 1_000);
    for (const [asked, encoding, inflate] of [
      ['gzip, deflate', 'gzip', gunzipSync],
      ['deflate', 'deflate', inflateSync],
      ['gzip, deflate, br', 'gzip', gunzipSync],
      ['br', 'br', brotliDecompressSync],
    ] as const) {
      const packed = await raw(asked);
      assert.equal(packed.encoding, encoding, asked);
      assert.ok(
        packed.body.length * 20 < plain.body.length,
        `${asked}: ${packed.body.length} bytes of ${plain.body.length}`,
      );
      assert.deepEqual(JSON.parse(inflate(packed.body).toString('utf8')), page, asked);
    }
    // A small answer (under 4 kB) goes as it is.
    const small = await t.http.open(
      'GET',
      `${t.b.hub.arm}/subscriptions/${hubSub}/resourcegroups?api-version=2021-04-01`,
      {
        token: hubToken,
        headers: { 'accept-encoding': 'gzip' },
      },
    );
    assert.equal(small.headers['content-encoding'], undefined);
    await small.body.dump();
  });

  it('answers pages asked for at once, each in its encoding, each the same as asked for alone', async () => {
    // Answers are written into buffers the server keeps (src/http/json-answers.ts); the usage API's
    // pages, in every encoding, asked for at once, are each as they are alone.
    const first = `${t.b.hub.arm}/subscriptions/${hubSub}/providers/Microsoft.Commerce/UsageAggregates?${API}&${WINDOW}`;
    const second = (await t.call<UsagePage>('GET', first, { token: hubToken })).body.nextLink!;
    const read = async (url: string, acceptEncoding?: string) => {
      const { encoding, body } = await encodedAnswer(url, acceptEncoding);
      return (
        encoding === 'gzip' ? gunzipSync(body) : encoding === 'br' ? brotliDecompressSync(body) : body
      ).toString();
    };
    const alone = { [first]: await read(first), [second]: await read(second) };
    assert.notEqual(alone[first], alone[second]);
    const asks = Array.from({ length: 12 }, (_, i) => ({
      url: i % 2 ? second : first,
      encoding: [undefined, 'gzip', 'br'][i % 3],
    }));
    const answers = await Promise.all(asks.map((a) => read(a.url, a.encoding)));
    for (const [i, a] of asks.entries()) assert.equal(answers[i], alone[a.url], `${i}: ${a.encoding ?? 'identity'}`);
  });

  it('refuses a token of another list, of another filter, forged or tampered with the family code', async () => {
    const hubUrl = `${t.b.hub.arm}/subscriptions/${hubSub}/providers/Microsoft.Commerce/UsageAggregates?${API}&${WINDOW}`;
    const first = await t.call<UsagePage>('GET', hubUrl, { token: hubToken });
    assert.equal(first.status, 200, JSON.stringify(first.body).slice(0, 500));
    assert.ok(first.body.nextLink, `a next link after ${first.body.value.length} aggregates`);
    const token = new URL(first.body.nextLink).searchParams.get('continuationToken')!;
    const bad = async (url: string, code: string, who = hubToken) => {
      const res = await t.call<{ error: { code: string; message: string } }>('GET', url, { token: who });
      assert.equal(res.status, 400, `${url}: ${JSON.stringify(res.body).slice(0, 500)}`);
      assert.equal(res.body.error.code, code, JSON.stringify(res.body));
      assert.doesNotMatch(res.body.error.message, /sql|postgres|stack/i);
    };
    // Another filter of the same list: a daily query, another window.
    await bad(
      `${t.b.hub.arm}/subscriptions/${hubSub}/providers/Microsoft.Commerce/UsageAggregates?${API}&reportedStartTime=2026-05-01T00:00:00Z&reportedEndTime=2026-05-08T00:00:00Z&aggregationGranularity=Hourly&continuationToken=${token}`,
      'InvalidProperty',
    );
    // Another list: the stack's usage API, and ARM's resource groups.
    await bad(
      `${t.b.stacks.local.tenantArm}/subscriptions/${stackSub}/providers/Microsoft.Commerce/UsageAggregates?${API}&${WINDOW}&continuationToken=${token}`,
      'InvalidProperty',
      stackToken,
    );
    await bad(
      `${t.b.hub.arm}/subscriptions/${hubSub}/resourcegroups?api-version=2021-04-01&$skiptoken=${token}`,
      'InvalidSkipToken',
    );
    // Tampered: the key's bytes changed, a type changed, an offset token of the old kind, garbage.
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString()) as { s: string; k: unknown[] };
    const forge = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const forged of [
      forge({ ...decoded, k: [42, ...decoded.k.slice(1)] }),
      forge({
        ...decoded,
        k: ['2026-05-01T00:00:00.000Z', "x'; drop table usage_received; --", ...decoded.k.slice(2)],
      }),
      forge({ ...decoded, k: decoded.k.slice(1) }),
      forge({ ...decoded, s: 'AAAAAAAAAAAAAAAA' }),
      Buffer.from('1000').toString('base64url'),
      `${token.slice(0, -2)}zz`,
      '!!!',
    ])
      await bad(`${hubUrl}&continuationToken=${encodeURIComponent(forged)}`, 'InvalidProperty');
    const count = await hubDb.query('select count(*)::int as n from usage_received');
    assert.ok(count.rows[0].n > GROUPS, 'nothing dropped');
  });

  it('pages ARM lists at the edges of $top, with the same token format', async () => {
    const arm = t.b.hub.arm;
    for (let i = 0; i < 5; i++) {
      const put = await t.call(
        'PUT',
        `${arm}/subscriptions/${hubSub}/resourcegroups/page-${i}?api-version=2021-04-01`,
        {
          token: hubToken,
          body: { location: 'global' },
        },
      );
      assert.equal(put.status, 201, JSON.stringify(put.body));
    }
    const list = (query: string) =>
      t.call<{ value: { name: string }[]; nextLink?: string }>(
        'GET',
        `${arm}/subscriptions/${hubSub}/resourcegroups?api-version=2021-04-01&${query}`,
        { token: hubToken },
      );
    for (const top of ['0', '1001', '-1', '1.5', 'x'])
      assert.equal((await list(`$top=${top}`)).status, 400, `$top=${top}`);
    const all = await list('$top=1000');
    assert.equal(all.body.nextLink, undefined);
    const names: string[] = [];
    let res = await list('$top=1');
    for (;;) {
      assert.equal(res.body.value.length, 1);
      names.push(res.body.value[0].name);
      if (!res.body.nextLink) break;
      res = await t.call('GET', res.body.nextLink, { token: hubToken });
    }
    assert.deepEqual(
      names,
      all.body.value.map((g) => g.name),
    );
    // The last page is exactly full: no next link pointing at nothing.
    const exact = await list(`$top=${all.body.value.length}`);
    assert.equal(exact.body.nextLink, undefined);
  });
});
