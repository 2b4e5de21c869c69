// An existing hub upgrades to monthly partitions of usage: its records and attributions move into
// their months' partitions (the attributions carrying their records' source and hour), ids and
// daily aggregates stay as they were, the keys take the source and hour, and the counters start
// from what the tables held.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import type { HubTables } from '../src/hub/app.ts';
import { hubMigrations } from '../src/hub/migrations.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const SUB = '99999999-0000-0000-0000-0000000000a1';
const OTHER = '99999999-0000-0000-0000-0000000000a2';
const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const PREFIX = `t_partitions_${Date.now()}`;

describe('upgrading a hub with usage to monthly partitions', () => {
  const { db, close } = openDatabase<HubTables>(withDatabase(testServerUrl(), PREFIX), 2);
  const rows = async (query: ReturnType<typeof sql>) => (await query.execute(db)).rows;
  const usage = async (source: string, id: string, hour: string, quantity: string) => {
    await sql`
      with received as (
        insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, location, tags, received_at, batch_id)
        values (${source}, ${id}, '/vm', ${BASE}, ${hour}::timestamptz, 1, ${quantity}::numeric, ${SUB}, 'local', '{}', ${hour}::timestamptz, gen_random_uuid())
        returning id, quantity
      )
      insert into usage_attributed (received_id, billed_subscription_id, reason, quantity, attributed_at)
      select id, ${SUB}, 'external meter', quantity, ${hour}::timestamptz from received`.execute(db);
  };
  let was: { daily: unknown[]; attributions: unknown[] };

  before(async () => {
    await ensureDatabase(withDatabase(testServerUrl(), PREFIX));
    // The hub before monthly partitions: without usage's migrations from 0507 on, nor billing's
    // from 0620 on (they build on each other's tables).
    const later = (name: string) => (name >= '0507' && name < '0600') || (name >= '0620' && name < '0700');
    const old = Object.fromEntries(Object.entries(hubMigrations).filter(([name]) => !later(name)));
    await migrate(db, old);
    await usage('cloudevents:urn:meter', 'e1', '2026-01-05T10:00:00Z', '10');
    await usage('cloudevents:urn:meter', 'e2', '2026-01-31T23:00:00Z', '2.5');
    await usage('deployment:x', 'vm1', '2026-02-01T00:00:00Z', '7');
    // A re-attribution of e1 to another subscription: a reversing entry and a new one.
    await sql`
      insert into usage_attributed (received_id, billed_subscription_id, reason, quantity, attributed_at)
      select id, s.sub, s.reason, s.q * quantity, '2026-02-02' from usage_received,
        (values (${SUB}::uuid, 'reattribution: reversed', -1), (${OTHER}::uuid, 'reattribution: linked', 1)) s(sub, reason, q)
      where resource_id = 'e1'`.execute(db);
    await sql`
      insert into usage_conflicts (source, resource_id, meter_id, hour, revision, stored_quantity, offered_quantity, first_refused_at, last_refused_at, refusals)
      values ('deployment:x', 'vm1', ${BASE}, '2026-02-01T00:00:00Z', 1, 7, 8, now(), now(), 3)`.execute(db);
    was = {
      daily: await rows(sql`select * from usage_daily order by 1, 2, 3, 4, 5`),
      attributions: await rows(
        sql`select a.id, a.received_id, r.source, r.hour, a.billed_subscription_id, a.quantity from usage_attributed a join usage_received r on r.id = a.received_id order by a.id`,
      ),
    };
    await migrate(db, hubMigrations);
  });
  after(async () => {
    await close();
    await dropDatabases(PREFIX);
  });

  it('moves each record and attribution into its month, keeping ids and daily aggregates', async () => {
    const placed = await rows(sql`
      select r.resource_id, r.tableoid::regclass::text as received_in, a.tableoid::regclass::text as attributed_in
      from usage_received r join usage_attributed a on a.received_id = r.id group by 1, 2, 3 order by 1`);
    assert.deepEqual(placed, [
      { resource_id: 'e1', received_in: 'usage_received_2026_01', attributed_in: 'usage_attributed_2026_01' },
      { resource_id: 'e2', received_in: 'usage_received_2026_01', attributed_in: 'usage_attributed_2026_01' },
      { resource_id: 'vm1', received_in: 'usage_received_2026_02', attributed_in: 'usage_attributed_2026_02' },
    ]);
    assert.deepEqual(
      await rows(
        sql`select a.id, a.received_id, a.source, a.hour, a.billed_subscription_id, a.quantity from usage_attributed a order by a.id`,
      ),
      was.attributions,
    );
    assert.deepEqual(await rows(sql`select * from usage_daily order by 1, 2, 3, 4, 5`), was.daily);
  });

  it('keys the tables by source, hour and id (attributions by their record too), and the event ids by source and id', async () => {
    const keys = await rows(sql`
      select c.conrelid::regclass::text as t, pg_get_constraintdef(c.oid) as def from pg_constraint c
      where c.contype = 'p' and c.conrelid in ('usage_received'::regclass, 'usage_attributed'::regclass, 'usage_conflicts'::regclass)
      order by 1`);
    assert.deepEqual(keys, [
      { t: 'usage_attributed', def: 'PRIMARY KEY (source, hour, received_id, id)' },
      { t: 'usage_conflicts', def: 'PRIMARY KEY (source, id)' },
      { t: 'usage_received', def: 'PRIMARY KEY (source, hour, id)' },
    ]);
    assert.deepEqual(await rows(sql`select source, event_id from usage_event_ids order by 2`), [
      { source: 'cloudevents:urn:meter', event_id: 'e1' },
      { source: 'cloudevents:urn:meter', event_id: 'e2' },
    ]);
    // The ids go on from where they were.
    const [{ next }] = (await rows(sql`select nextval('usage_received_id_seq')::int as next`)) as { next: number }[];
    assert.equal(next, 4);
  });

  it('starts the counters from what the tables held, and keeps them from there', async () => {
    const counters = async () =>
      rows(sql`select source, month::text, sum(records)::int as records, sum(received)::text as received, sum(attributed)::text as attributed,
                      sum(conflicts)::int as conflicts, sum(refusals)::int as refusals
               from usage_counters group by 1, 2 order by 1, 2`);
    assert.deepEqual(await counters(), [
      {
        source: 'cloudevents:urn:meter',
        month: '2026-01-01',
        records: 2,
        received: '12.500000000',
        attributed: '12.500000000',
        conflicts: 0,
        refusals: 0,
      },
      {
        source: 'deployment:x',
        month: '2026-02-01',
        records: 1,
        received: '7.000000000',
        attributed: '7.000000000',
        conflicts: 1,
        refusals: 3,
      },
    ]);
    await sql`
      update usage_conflicts set refusals = refusals + 1 where resource_id = 'vm1'`.execute(db);
    const after = await counters();
    assert.equal((after[1] as { refusals: number }).refusals, 4);
  });
});
