// How a hub usage page reads its records (usage/page-store.ts): a Daily page, the API's default,
// in its key's order from an index (0560), and a page by reported time from the first hour
// received in its range (0561), never every earlier record of its subscription. Each shown through
// the API's answers and the plan of the page's own statement. The same for a stack's pages (1212,
// 1213, 1214).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { openDatabase, withDatabase } from '../src/db/database.ts';
import { executePrepared } from '../src/db/prepared.ts';
import { outboxAggregatesQuery, outboxStore, tenantDayQuery } from '../src/stack/metering/outbox-store.ts';
import type { MeteringDb } from '../src/stack/metering/store.ts';
import { billedPageQuery, usageGroupOrder, usagePageStore } from '../src/usage/page-store.ts';
import type { KeyValue } from '../src/core/paging.ts';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const API = 'api-version=2015-06-01-preview';
const METER = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const OTHER = '99999999-0000-0000-0000-00000000beef';

type Aggregate = {
  properties: {
    usageStartTime: string;
    usageEndTime: string;
    meterId: string;
    instanceData?: string;
    quantity: number;
  };
};
type UsagePage = { value: Aggregate[]; nextLink?: string };
type PlanNode = {
  'Node Type': string;
  'Subplan Name'?: string;
  'Actual Rows'?: number;
  'Rows Removed by Filter'?: number;
  'Relation Name'?: string;
  Plans?: PlanNode[];
};
const keyOf = (a: Aggregate) =>
  `${a.properties.usageStartTime} ${a.properties.meterId} ${JSON.parse(a.properties.instanceData ?? '{}')['Microsoft.Resources']?.resourceUri}`;
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

/** A compiled statement's plan (`explain` with `how`), with `settings` set for it alone. */
async function planOf(
  client: pg.Client,
  query: CompiledQuery,
  how: 'format json' | 'analyze, format json',
  settings: string[] = [],
): Promise<PlanNode> {
  await client.query('begin');
  try {
    for (const setting of settings) await client.query(`set local ${setting}`);
    return (await client.query(`explain (${how}) ${query.sql}`, [...query.parameters])).rows[0]['QUERY PLAN'][0].Plan;
  } finally {
    await client.query('rollback');
  }
}

/** The generic plan of a statement (made without its values, as the hub runs its pages: db/prepared.ts). */
async function genericPlanOf(client: pg.Client, query: CompiledQuery, settings: string[] = []): Promise<PlanNode> {
  await client.query('begin');
  try {
    for (const setting of [...settings, GENERIC]) await client.query(`set local ${setting}`);
    await client.query(`prepare generic_page as ${query.sql}`);
    // EXECUTE takes its values as literals (a utility statement has no parameters).
    const literal = (v: unknown) =>
      typeof v === 'number' ? String(v) : client.escapeLiteral(v instanceof Date ? v.toISOString() : String(v));
    const plan = await client.query(
      `explain (format json) execute generic_page(${query.parameters.map(literal).join(', ')})`,
    );
    const generic = plan.rows[0]['QUERY PLAN'][0].Plan;
    // A generic plan's conditions name the parameters, not their values (the subscription's id).
    const subscription = query.parameters.find((v) => typeof v === 'string' && /^[0-9a-f-]{36}$/.test(v));
    assert.ok(subscription && !JSON.stringify(generic).includes(subscription as string), 'a generic plan');
    return generic;
  } finally {
    await client.query('rollback');
    await client.query('deallocate generic_page');
  }
}
const GENERIC = 'plan_cache_mode = force_generic_plan';

/** The rows the scans of a relation (its partitions) in a plan read: those they kept and those their filters removed. */
const rowsRead = (plan: PlanNode, relation: string) =>
  nodes(plan)
    .filter((n) => n['Relation Name']?.startsWith(relation))
    .reduce((sum, n) => sum + (n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0), 0);

/** The usage start times of the one page of 7 May, 10:00–11:00 reports, at a usage API's URL. */
async function startTimesOf7May(t: TestSystem, usageApi: string, token: string): Promise<string[]> {
  const res = await t.call<UsagePage>(
    'GET',
    `${usageApi}?${API}&reportedStartTime=2026-05-07T10:00:00Z&reportedEndTime=2026-05-07T11:00:00Z&aggregationGranularity=Hourly`,
    { token },
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.value.map((a) => a.properties.usageStartTime);
}
/** Every aggregate of a usage API's pages, its nextLinks followed. */
async function allPages(t: TestSystem, url: string, token: string): Promise<Aggregate[]> {
  const seen: Aggregate[] = [];
  for (let next: string | undefined = url; next;) {
    const res: { status: number; body: UsagePage } = await t.call('GET', next, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    seen.push(...res.body.value);
    next = res.body.nextLink;
  }
  return seen;
}
/** A Daily aggregate as a line: its day, its key after the bucket, its quantity. */
const dailyLine = (a: Aggregate) =>
  `${a.properties.usageStartTime.slice(0, 10)} ${keyOf(a).split(' ').slice(1).join(' ')} ${a.properties.quantity}`;
/** Hourly aggregates summed by day, as `dailyLine` writes a Daily one (sums of zero left out). */
function summedByDay(hourly: Aggregate[]): string[] {
  const byDay = new Map<string, number>();
  for (const a of hourly) {
    const key = `${a.properties.usageStartTime.slice(0, 10)} ${keyOf(a).split(' ').slice(1).join(' ')}`;
    byDay.set(key, (byDay.get(key) ?? 0) + a.properties.quantity);
  }
  return [...byDay].filter(([, q]) => q !== 0).map(([k, q]) => `${k} ${q}`);
}
/** 7 May's reports: ten resources' hour of 6 May, and one record of 20 April come late, shown first. */
const LATE_FIRST = ['2026-04-20T03:00:00+00:00', ...Array(10).fill('2026-05-06T10:00:00+00:00')];

describe('how a usage page reads its records', () => {
  let t: TestSystem;
  let hubDb: pg.Client;
  let hubSub: string;
  let hubCustomer: string;
  let hubToken: string;
  let stackDb: pg.Client;
  let stackSub: string;
  let stackToken: string;

  /** `resources` resources' records of `hours` hours from `from`, billed to `sub`, all received on 9 May at 05:00. */
  const insertRecords = (
    sub: string,
    source: string,
    o: { resources: number; hours: number; from: string; quantity: string },
  ) =>
    hubDb.query(
      `insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, location, tags, received_at, batch_id,
                                   billed_subscription_id)
       select $3, n || '-' || h, '/subscriptions/' || $1 || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/d' || n,
              $2::uuid, $4::timestamptz + h * interval '1 hour', 0, $5::numeric, 'local', '{}', '2026-05-09T05:00:00Z',
              gen_random_uuid(), $1::uuid
       from generate_series(0, $6::int - 1) n, generate_series(0, $7::int - 1) h`,
      [sub, METER, source, o.from, o.quantity, o.resources, o.hours],
    );
  /** The records `where` names re-attributed from `sub` to another subscription on 9 May at 06:00 (reversing entries). */
  const reattributeAway = (sub: string, where: string) =>
    hubDb.query(
      `insert into usage_attributed (source, hour, received_id, billed_subscription_id, reason, quantity, attributed_at)
       select r.source, r.hour, r.id, x.sub, x.reason, x.sign * r.quantity, '2026-05-09T06:00:00Z'
       from usage_received r, (values ($1::uuid, 'reattribution: reversed', -1), ($2::uuid, 'reattribution: linked', 1)) x(sub, reason, sign)
       where r.${where}`,
      [sub, OTHER],
    );

  before(async () => {
    // A page without details reads at most 2,500 records (and one group): 1,200 records a group here.
    t = await startTestSystem({ clock: new Date('2026-05-10T00:00:00Z'), policies: { usagePageRecords: 2_500 } });
    const c = await customerWithSubscription(t, 'pageplans');
    hubSub = c.subscriptionId;
    hubCustomer = c.customerId;
    hubToken = await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.arm);
    hubDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await hubDb.connect();
    const tenant = await tenantSubscription(t, c, 'pageplans');
    stackSub = tenant.sub;
    stackToken = tenant.user;
    stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await stackDb.connect();
  });
  after(async () => {
    await hubDb?.end();
    await stackDb?.end();
    await t?.stop();
  });

  it("pages Daily, the default, as the Hourly pages summed by day, its records read from an index in the key's order", async () => {
    // 1,200 resources' 30 hours (1,200 × 24 and 1,200 × 6 hours of two days): more than a page of
    // days; 90 resources' (d10–d99) first 12 hours re-attributed away (reversing entries), so some
    // of the records' groups cancel and others shrink.
    await insertRecords(hubSub, 'test-daily', {
      resources: 1200,
      hours: 30,
      from: '2026-05-02T00:00:00Z',
      quantity: '0.5',
    });
    await reattributeAway(
      hubSub,
      `source = 'test-daily' and r.resource_uri like '%/d__' and r.hour < '2026-05-02T12:00:00Z'`,
    );
    const api = `${t.b.hub.arm}/subscriptions/${hubSub}/providers/Microsoft.Commerce/UsageAggregates?${API}&reportedStartTime=2026-05-09T00:00:00Z&reportedEndTime=2026-05-10T00:00:00Z`;
    const expected = summedByDay(await allPages(t, `${api}&aggregationGranularity=Hourly`, hubToken));
    const daily = await allPages(t, api, hubToken);
    const seen = daily.map(dailyLine);
    assert.ok(seen.length > 2_000, `more than two pages: ${seen.length}`);
    assert.deepEqual([...seen].sort(), [...expected].sort());
    assert.ok(daily.every((a) => a.properties.usageStartTime.endsWith('T00:00:00+00:00')));
    assert.ok(
      daily.every(
        (a) => Date.parse(a.properties.usageEndTime) - Date.parse(a.properties.usageStartTime) === 86_400_000,
      ),
    );

    // Each granularity's page reads the records' groups in the key's order from an index, and stops
    // at the page: with sorts and sequential scans priced out, no Sort is left in the records' part
    // (the CTE `own`), which is there when no index has the key's order (a Daily page sorted all
    // of its range's records before 0560).
    const kysely = openDatabase(withDatabase(testServerUrl(), `${t.dbPrefix}_hub`), 1);
    try {
      for (const granularity of ['Hourly', 'Daily'] as const) {
        const query = billedPageQuery(
          { subscriptionId: hubSub, by: 'attributedAt', from: new Date('2026-05-09'), to: new Date('2026-05-10') },
          { granularity, showDetails: true },
          { after: undefined, limit: 1000 },
          1001,
        ).compile(kysely.db);
        // Both the plan made for the values and the generic plan the hub runs (db/prepared.ts).
        const pricedOut = ['enable_seqscan = off', 'enable_sort = off'];
        for (const plan of [
          await planOf(hubDb, query, 'format json', pricedOut),
          await genericPlanOf(hubDb, query, pricedOut),
        ]) {
          const own = nodes(plan).find((n) => n['Subplan Name'] === 'CTE own');
          assert.ok(own, `${granularity}: the plan has the CTE own`);
          const types = nodes(own).map((n) => n['Node Type']);
          assert.ok(!types.some((type) => type.endsWith('Sort')), `${granularity}: ${types.join(' > ')}`);
          assert.ok(types.includes('Index Scan'), `${granularity}: ${types.join(' > ')}`);
        }

        // The hub prepares the page's statement on connections that run it on its generic plan,
        // made once without the values (db/prepared.ts). Both pages (the first with groups
        // cancelled by re-attributions) answer the same as the same statement planned for its
        // values (sent unnamed on another connection), run after run.
        const range = { start: new Date('2026-05-09'), end: new Date('2026-05-10'), granularity, showDetails: true };
        const page = (after?: readonly KeyValue[]) =>
          usagePageStore.aggregates(kysely.db, { ...range, subscriptionId: hubSub }, { after, limit: 1000 });
        const order = usageGroupOrder({ granularity, showDetails: true });
        const first = await page();
        const second = await page(order.keyOf(first[999]));
        const billed = { subscriptionId: hubSub, by: 'attributedAt', from: range.start, to: range.end } as const;
        const shape = { granularity, showDetails: true };
        for (const after of [undefined, order.keyOf(first[999])])
          for (const ownLimit of [1001, 4004]) {
            const statement = billedPageQuery(billed, shape, { after, limit: 1000 }, ownLimit);
            const generic = (await executePrepared(kysely.db, statement)).rows;
            const compiled = statement.compile(kysely.db);
            const custom = (await hubDb.query(compiled.sql, [...compiled.parameters])).rows;
            assert.ok(generic.length > 900, `${granularity}: ${generic.length} rows`);
            // Compared whole only when they differ: a failing deepEqual of 1,001 rows prints them all.
            const same = JSON.stringify(generic) === JSON.stringify(custom);
            assert.ok(
              same,
              `${granularity}, after ${JSON.stringify(after)}, ${ownLimit}: the generic plan's rows differ`,
            );
          }
        for (let run = 0; run < 3; run++) {
          assert.deepEqual(await page(), first, `${granularity} page 1, run ${run + 2}`);
          assert.deepEqual(await page(order.keyOf(first[999])), second, `${granularity} page 2, run ${run + 2}`);
        }
        const statement = await executePrepared(
          kysely.db,
          sql<{ generic_plans: string; custom_plans: string }>`
            select generic_plans::text, custom_plans::text from pg_prepared_statements where statement = ${query.sql}`,
        );
        assert.deepEqual(
          statement.rows.map((r) => [r.custom_plans, Number(r.generic_plans) > 0]),
          [['0', true]],
          JSON.stringify(statement.rows),
        );
      }
    } finally {
      await kysely.close();
    }
  });

  it("ends a page without details at the group of its budget's last record, whole, and pages through every group once", async () => {
    // The Daily test's records: 1,200 resources' 30 hours, 1,200 records a group of an hour; a page
    // that may read 2,500 records ends at the group of its 2,500th (its third hour), that group
    // whole; a Daily group (28,800 records) comes whole on a page of its own.
    const kysely = openDatabase(withDatabase(testServerUrl(), `${t.dbPrefix}_hub`), 1);
    const line = (a: { bucket: Date; meter_id: string; quantity: string }) =>
      `${a.bucket.toISOString()} ${a.meter_id} ${a.quantity}`;
    /** Every group of the range, a page at a time, each page reading at most `records` (and one group). */
    const paged = async (q: Parameters<typeof usagePageStore.aggregates>[1], records: number) => {
      const pages: string[][] = [];
      for (let after: readonly KeyValue[] | undefined; ;) {
        const page = await usagePageStore.aggregates(kysely.db, q, { after, limit: 1000 }, records);
        assert.ok(page.length <= 1000);
        pages.push(page.map(line));
        if (page.endsAt === undefined) return pages;
        after = page.endsAt;
      }
    };
    try {
      for (const granularity of ['Hourly', 'Daily'] as const) {
        const q = {
          subscriptionId: hubSub,
          start: new Date('2026-05-09T00:00:00Z'),
          end: new Date('2026-05-10T00:00:00Z'),
          granularity,
          showDetails: false,
        };
        const [whole] = await paged(q, 1e9);
        const pages = await paged(q, 2_500);
        assert.deepEqual(pages.flat(), whole);
        // The page that ends at the range's last group knows it is the last.
        assert.deepEqual(
          pages.map((p) => p.length),
          granularity === 'Hourly' ? [3, 3, 3, 3, 3, 3, 3, 3, 3, 3] : [1, 1],
        );
      }

      // Through the API: the same groups, three a page, each but the last with a continuationToken,
      // as the Hourly pages with details summed over resources show them.
      const api = `${t.b.hub.arm}/subscriptions/${hubSub}/providers/Microsoft.Commerce/UsageAggregates?${API}&reportedStartTime=2026-05-09T00:00:00Z&reportedEndTime=2026-05-10T00:00:00Z&aggregationGranularity=Hourly`;
      const sumsOf = (aggregates: Aggregate[]) => {
        const sums = new Map<string, number>();
        for (const a of aggregates) {
          const key = `${a.properties.usageStartTime} ${a.properties.meterId}`;
          sums.set(key, (sums.get(key) ?? 0) + a.properties.quantity);
        }
        return [...sums].filter(([, q]) => q !== 0).map(([k, q]) => `${k} ${q}`);
      };
      const pageSizes: number[] = [];
      const overApi: Aggregate[] = [];
      for (let next: string | undefined = `${api}&showDetails=false`; next;) {
        const res: { status: number; body: UsagePage } = await t.call('GET', next, { token: hubToken });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        pageSizes.push(res.body.value.length);
        overApi.push(...res.body.value);
        next = res.body.nextLink;
      }
      assert.deepEqual(pageSizes, [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
      assert.deepEqual(sumsOf(overApi), sumsOf(await allPages(t, api, hubToken)));

      // The partner center's utilization records without details (by usage hour, 2 May 00:00 to
      // 3 May 06:00): three hours a page, each but the last with its MS-ContinuationToken.
      const pc = t.b.hub.partnerCenter;
      const pcToken = await t.appToken('csp', pc);
      const utilizations = `${pc}/v1/customers/${hubCustomer}/subscriptions/${hubSub}/utilizations/azure?start_time=2026-05-02T00:00:00Z&end_time=2026-05-03T06:00:00Z&granularity=hourly&show_details=false`;
      const utilizationPages: number[] = [];
      const hours: string[] = [];
      let continuation: string | undefined;
      do {
        const res = await t.call('GET', utilizations, {
          token: pcToken,
          headers: continuation ? { 'MS-ContinuationToken': continuation } : {},
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        utilizationPages.push(res.body.items.length);
        hours.push(
          ...res.body.items.map(
            (r: { usageStartTime: string; quantity: number }) => `${r.usageStartTime} ${r.quantity}`,
          ),
        );
        continuation = res.body.links?.next?.headers?.[0]?.value;
      } while (continuation);
      assert.deepEqual(utilizationPages, [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
      assert.deepEqual(
        hours,
        Array.from({ length: 30 }, (_, h) => {
          const at = new Date(Date.parse('2026-05-02T00:00:00Z') + h * 3_600_000)
            .toISOString()
            .replace('.000Z', '+00:00');
          return `${at} ${h < 12 ? 555 : 600}`; // the first 12 hours less 90 resources re-attributed away
        }),
      );

      // A subscription whose first two hours are re-attributed away whole: the records up to the
      // budget's group sum to nothing, and the page goes on after them.
      const other = await customerWithSubscription(t, 'pageplans-cut');
      await insertRecords(other.subscriptionId, 'test-cut', {
        resources: 1000,
        hours: 3,
        from: '2026-05-03T00:00:00Z',
        quantity: '1',
      });
      await reattributeAway(other.subscriptionId, `source = 'test-cut' and r.hour < '2026-05-03T02:00:00Z'`);
      const q = {
        subscriptionId: other.subscriptionId,
        start: new Date('2026-05-09T00:00:00Z'),
        end: new Date('2026-05-10T00:00:00Z'),
        granularity: 'Hourly' as const,
        showDetails: false,
      };
      assert.deepEqual(await paged(q, 1_500), [[`2026-05-03T02:00:00.000Z ${METER} 1000.000000000`]]);
    } finally {
      await kysely.close();
    }
  });

  it('starts a page at the first hour received in its range: a late record shows, no earlier record is read', async () => {
    const insert = (prefix: string, count: number, hours: string[], receivedAt: string) =>
      hubDb.query(
        `insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, location, tags, received_at, batch_id,
                                     billed_subscription_id)
         select 'test-walk', $3 || n || '-' || h, '/subscriptions/' || $1 || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/' || $3 || n,
                $2::uuid, h::timestamptz, 0, 1, 'local', '{}', $5::timestamptz, gen_random_uuid(), $1::uuid
         from generate_series(1, $4::int) n, unnest($6::text[]) h`,
        [hubSub, METER, prefix, count, receivedAt, hours],
      );
    // Received on 7 May: ten resources' hour of 6 May, and one record of 20 April, come late.
    await insert('w', 10, ['2026-05-06T10:00:00Z'], '2026-05-07T10:30:00Z');
    await insert('late', 1, ['2026-04-20T03:00:00Z'], '2026-05-07T10:45:00Z');
    assert.deepEqual(
      await startTimesOf7May(
        t,
        `${t.b.hub.arm}/subscriptions/${hubSub}/providers/Microsoft.Commerce/UsageAggregates`,
        hubToken,
      ),
      LATE_FIRST,
    );
    // Received on 8 May: 500 resources' two hours of that day. The subscription has tens of
    // thousands of records of earlier hours (the test before), received on other days: a page of
    // 8 May's reports reads none of them, at either granularity.
    await insert('x', 500, ['2026-05-08T00:00:00Z', '2026-05-08T01:00:00Z'], '2026-05-08T10:30:00Z');
    const kysely = openDatabase(withDatabase(testServerUrl(), `${t.dbPrefix}_hub`), 1);
    try {
      for (const granularity of ['Hourly', 'Daily'] as const) {
        const query = billedPageQuery(
          {
            subscriptionId: hubSub,
            by: 'attributedAt',
            from: new Date('2026-05-08T10:00:00Z'),
            to: new Date('2026-05-08T11:00:00Z'),
          },
          { granularity, showDetails: true },
          { after: undefined, limit: 1000 },
          1001,
        ).compile(kysely.db);
        const own = nodes(await planOf(hubDb, query, 'analyze, format json')).find(
          (n) => n['Subplan Name'] === 'CTE own',
        );
        assert.ok(own, `${granularity}: the plan has the CTE own`);
        assert.equal(
          rowsRead(own, 'usage_received'),
          1000,
          `${granularity}: the records the walk read (8 May's, and no other)`,
        );
      }
    } finally {
      await kysely.close();
    }
  });

  it("starts a stack's page at the first hour reported in its range: a late record shows, no earlier record is read", async () => {
    const insert = (prefix: string, count: number, hours: string[], reportedAt: string) =>
      stackDb.query(
        `insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
         select gen_random_uuid(), $2::uuid, h::timestamptz, 1, 1, $1::uuid, gen_random_uuid(),
                '/subscriptions/' || $1 || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/' || $3 || n, 'local', '{}', $5::timestamptz
         from generate_series(1, $4::int) n, unnest($6::text[]) h`,
        [stackSub, METER, prefix, count, reportedAt, hours],
      );
    // History: 1,000 resources' 24 hours of 2 May, reported the next day.
    await insert(
      'old',
      1000,
      Array.from({ length: 24 }, (_, h) => new Date(Date.UTC(2026, 4, 2, h)).toISOString()),
      '2026-05-03T01:00:00Z',
    );
    // Reported on 7 May: ten resources' hour of 6 May, and a change of an hour of 20 April.
    await insert('w', 10, ['2026-05-06T10:00:00Z'], '2026-05-07T10:30:00Z');
    await insert('late', 1, ['2026-04-20T03:00:00Z'], '2026-05-07T10:45:00Z');
    assert.deepEqual(
      await startTimesOf7May(
        t,
        `${t.b.stacks.local.tenantArm}/subscriptions/${stackSub}/providers/Microsoft.Commerce/UsageAggregates`,
        stackToken,
      ),
      LATE_FIRST,
    );
    // Reported on 8 May: 500 resources' two hours of that day. A page of 8 May's reports reads
    // those 1,000 records and none of the 24,000 of 2 May, in its key's order, at either
    // granularity, for the tenant and for the provider (every tenant).
    await insert('x', 500, ['2026-05-08T00:00:00Z', '2026-05-08T01:00:00Z'], '2026-05-08T10:30:00Z');
    const kysely = openDatabase(withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`), 1);
    try {
      for (const granularity of ['Hourly', 'Daily'] as const)
        for (const subscriptionId of [stackSub, undefined])
          for (const limit of [1000, 100]) {
            const q = {
              start: new Date('2026-05-08T10:00:00Z'),
              end: new Date('2026-05-08T11:00:00Z'),
              granularity,
              showDetails: true,
            };
            // A tenant's Daily page asks a day at a time: here the one day, 8 May.
            const query = (
              subscriptionId && granularity === 'Daily'
                ? tenantDayQuery({ ...q, subscriptionId }, new Date('2026-05-08T00:00:00Z'), undefined, limit + 1)
                : outboxAggregatesQuery({ ...q, subscriptionId }, { after: undefined, limit })
            ).compile(kysely.db);
            // Sorts priced out, as a store of millions of records prices them: the walk in the key's
            // order is then the plan, as it is at that size.
            const plan = await planOf(stackDb, query, 'analyze, format json', ['enable_sort = off']);
            const who = `${granularity}, ${subscriptionId ? 'tenant' : 'provider'}, a page of ${limit}`;
            const read = rowsRead(plan, 'usage_records');
            // The whole page: 8 May's records and no earlier one. A page of 100: its groups' records
            // (a Daily group is a resource's two hours) and the few the walk reads past its end,
            // not its whole hour's (500) or day's (1,000), which a page read and grouped to sort
            // them when its order was not the index's.
            const perGroup = granularity === 'Daily' ? 2 : 1;
            if (limit === 1000) assert.equal(read, 1000, `${who}: the records read`);
            else assert.ok(read < (limit + 10) * perGroup, `${who}: ${read} records read`);
            // In the key's order from an index: no sort (every tenant's pages had one before 1214,
            // and every page one of its hour's or day's groups while it ordered its ids as text).
            const types = nodes(plan).map((n) => n['Node Type']);
            assert.ok(!types.some((type) => type.endsWith('Sort')), `${who}: ${types.join(' > ')}`);
          }
    } finally {
      await kysely.close();
    }
  });

  it("pages a stack's Daily usage, a tenant's and every tenant's, as its Hourly pages summed by day", async () => {
    // Reported on 9 May: 1,200 resources' 30 hours of 2 and 3 May, and a change of an hour of 20
    // April: 2,401 Daily groups, three pages that each end within a day.
    await stackDb.query(
      `insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
       select gen_random_uuid(), $2::uuid, h, 1, 0.5, $1::uuid, $1::uuid,
              '/subscriptions/' || $1 || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/daily' || n, 'local', '{}',
              '2026-05-09T05:00:00Z'
       from generate_series(0, 1199) n,
            unnest(array['2026-04-20T03:00:00Z'::timestamptz] || array(select timestamptz '2026-05-02T00:00:00Z' + k * interval '1 hour' from generate_series(0, 29) k)) h
       where n = 0 or h >= '2026-05-01'`,
      [stackSub, METER],
    );
    const { adminArm, tenantArm, providerSubscriptionId } = t.b.stacks.local;
    const operator = await t.appToken('operator', adminArm);
    const range = `${API}&reportedStartTime=2026-05-09T00:00:00Z&reportedEndTime=2026-05-10T00:00:00Z`;
    const provider = `${adminArm}/subscriptions/${providerSubscriptionId}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates?${range}`;
    for (const [api, token] of [
      [`${tenantArm}/subscriptions/${stackSub}/providers/Microsoft.Commerce/UsageAggregates?${range}`, stackToken],
      [`${provider}&subscriberId=${stackSub}`, operator],
      [provider, operator],
    ] as const) {
      const daily = (await allPages(t, api, token)).map(dailyLine);
      assert.equal(daily.length, 2401, api);
      assert.deepEqual(
        [...daily].sort(),
        summedByDay(await allPages(t, `${api}&aggregationGranularity=Hourly`, token)).sort(),
        api,
      );
    }
  });

  it("ends a stack's page without details at the group of its budget's last record, as the hub's", async () => {
    // The Daily test's records of the stack (1,200 resources' 30 hours, one of 20 April), pages that
    // may read 2,500 records: every group once, as one unbounded read has them; the provider's and
    // a tenant's Hourly pages end at the third hour of 1,200 records, a tenant's Daily pages at a day.
    const pool = new pg.Pool({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`), max: 1 });
    const db: MeteringDb = new Kysely({ dialect: new PostgresDialect({ pool }) });
    const line = (a: { bucket: Date | string; subscription_id: string; meter_id: string; quantity: string }) =>
      `${new Date(a.bucket).toISOString()} ${a.subscription_id} ${a.meter_id} ${a.quantity}`;
    const paged = async (q: Parameters<typeof outboxStore.aggregates>[1], records: number) => {
      const pages: string[][] = [];
      for (let after: readonly KeyValue[] | undefined; ;) {
        const page = await outboxStore.aggregates(db, q, { after, limit: 1000 }, records);
        pages.push(page.map(line));
        if (page.endsAt === undefined) return pages;
        after = page.endsAt;
      }
    };
    try {
      const range = {
        start: new Date('2026-05-09T00:00:00Z'),
        end: new Date('2026-05-10T00:00:00Z'),
        showDetails: false,
      };
      for (const q of [
        { ...range, granularity: 'Hourly' as const },
        { ...range, granularity: 'Hourly' as const, subscriptionId: stackSub },
        { ...range, granularity: 'Daily' as const, subscriptionId: stackSub },
      ]) {
        const [whole] = await paged(q, 1e9);
        const pages = await paged(q, 2_500);
        assert.deepEqual(pages.flat(), whole, JSON.stringify(q));
        if (q.granularity === 'Hourly') {
          assert.ok(pages.length >= 10, `${pages.length} pages`);
          assert.ok(pages.every((p) => p.length <= 4));
        } else
          assert.deepEqual(
            pages.map((p) => p.map((g) => g.slice(0, 10))),
            [['2026-04-20', '2026-05-02'], ['2026-05-03']],
          );
      }
    } finally {
      await db.destroy();
    }
  });

  it("asks a tenant's Daily page only the days from its own first record to its last", async () => {
    // Reported on 9 May: another tenant's hour of every day of April, and this tenant's hours of
    // 28 and 29 April. The stack has records of 33 days reported that day; this tenant, of two.
    const [tenant, other] = [crypto.randomUUID(), crypto.randomUUID()];
    await stackDb.query(
      `insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
       select gen_random_uuid(), $3::uuid, h, 1, 2, s, s, '/subscriptions/' || s || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm', 'local', '{}',
              '2026-05-09T07:00:00Z'
       from (select $1::uuid as s, timestamptz '2026-04-28T05:00:00Z' + k * interval '1 day' as h from generate_series(0, 1) k
             union all select $2::uuid, timestamptz '2026-04-01T05:00:00Z' + k * interval '1 day' from generate_series(0, 29) k) x`,
      [tenant, other, METER],
    );
    let statements = 0;
    const pool = new pg.Pool({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`), max: 1 });
    const db: MeteringDb = new Kysely({
      dialect: new PostgresDialect({ pool }),
      log: () => {
        statements++;
      },
    });
    try {
      const q = {
        start: new Date('2026-05-09T00:00:00Z'),
        end: new Date('2026-05-10T00:00:00Z'),
        granularity: 'Daily' as const,
        showDetails: true,
        subscriptionId: tenant,
      };
      const page = await outboxStore.aggregates(db, q, { after: undefined, limit: 1000 });
      assert.deepEqual(
        page.map((a) => `${new Date(a.bucket).toISOString().slice(0, 10)} ${a.quantity}`),
        ['2026-04-28 2.000000000', '2026-04-29 2.000000000'],
      );
      // Its bounds, then its two days: not the 33 days of 1 April to 3 May, a statement each.
      assert.equal(statements, 3);
    } finally {
      await db.destroy();
    }
  });
});
