// An existing stack upgrades to the outbox by month: its records move into monthly partitions
// unchanged (a quarantined one still referred to), the indexes and the counters are there, and a
// month made later takes the records the DEFAULT partition held for it; the closing watermark
// leaves ARM's settings for metering's own row.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import type { StackTables } from '../src/stack/app.ts';
import { STACK_MIGRATIONS } from '../src/stack/migrations.ts';
import { outboxStore } from '../src/stack/metering/outbox-store.ts';
import { meteringStore } from '../src/stack/metering/store.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PREFIX = `t_stack_upgrade_${Date.now()}`;
const NEW = [
  '1207_usage_records_monthly',
  '1208_usage_record_counts',
  '1209_usage_archives',
  '1210_closing_in_one_call',
  '1211_closing_an_hour_once',
  '1212_usage_daily_page_order',
  '1213_usage_reported_days',
  '1214_usage_provider_page_order',
  '1302_quarantine_reference_by_key',
];
const SUB = '99999999-0000-0000-0000-0000000000a1';
const TENANT = '99999999-0000-0000-0000-0000000000c1';
const METER = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const RESOURCES = ['99999999-0000-0000-0000-000000000e01', '99999999-0000-0000-0000-000000000e02'];

describe('upgrading a stack with usage records to monthly partitions', () => {
  const { db, close } = openDatabase<StackTables>(withDatabase(testServerUrl(), PREFIX), 2);
  const records = async () =>
    (
      await sql<Record<string, unknown>>`
        select resource_id::text, meter_id::text, hour, revision, quantity::text, subscription_id::text, tenant_id::text,
               resource_uri, location, tags, reported_at, delivered_at
        from usage_records order by hour, resource_id, meter_id, revision`.execute(db)
    ).rows;
  const insert = (hour: string, resource: string, delivered: boolean) => sql`
    insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at, delivered_at)
    values (${resource}::uuid, ${METER}::uuid, ${hour}::timestamptz, 1, 1.5, ${SUB}::uuid, ${TENANT}::uuid, ${`/vm/${resource}`}, 'local',
            '{"env":"test"}', ${hour}::timestamptz + interval '1 hour', ${delivered ? sql`${hour}::timestamptz + interval '2 hours'` : sql`null`})`;
  let before_: Record<string, unknown>[];

  before(async () => {
    await ensureDatabase(withDatabase(testServerUrl(), PREFIX));
    const old = Object.fromEntries(Object.entries(STACK_MIGRATIONS).filter(([name]) => !NEW.includes(name)));
    await migrate(db, old);
    // Three months of records, some delivered, and one held in the quarantine.
    for (const [day, delivered] of [
      ['2026-01-31T23:00:00Z', true],
      ['2026-02-01T00:00:00Z', true],
      ['2026-02-14T10:00:00Z', false],
      ['2026-03-02T05:00:00Z', false],
    ] as const)
      for (const r of RESOURCES) await insert(day, r, delivered).execute(db);
    await sql`
      insert into usage_quarantine (hour, resource_id, meter_id, revision, state, status, code, message, quarantined_at, refused_at)
      values ('2026-03-02T05:00:00Z', ${RESOURCES[0]}::uuid, ${METER}::uuid, 1, 'held', 400, 'InvalidProperty', 'no', now(), now())`.execute(
      db,
    );
    before_ = await records();
    // Where closing had reached, kept among ARM's settings before 1210.
    await sql`insert into settings (key, value) values ('metering', '{"closedUntil":"2026-03-02T06:00:00.000Z"}')`.execute(
      db,
    );
    await migrate(db, STACK_MIGRATIONS);
  });
  after(async () => {
    await close();
    await dropDatabases(PREFIX);
  });

  it('moves every record, unchanged, into a partition of its month, with the indexes, the quarantine by key', async () => {
    assert.deepEqual(await records(), before_);
    const parts = await sql<{ name: string; n: number }>`
      select c.relname as name, (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I', c.relname), false, true, '')))[1]::text::int as n
      from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'usage_records'::regclass order by 1`.execute(
      db,
    );
    assert.deepEqual(parts.rows, [
      { name: 'usage_records_2026_01', n: 2 },
      { name: 'usage_records_2026_02', n: 4 },
      { name: 'usage_records_2026_03', n: 2 },
      { name: 'usage_records_default', n: 0 },
    ]);
    const kind = await sql<{ relkind: string }>`select relkind from pg_class where relname = 'usage_records'`.execute(
      db,
    );
    assert.equal(kind.rows[0].relkind, 'p');
    const indexes = await sql<{ indexname: string }>`
      select indexname from pg_indexes where tablename = 'usage_records' order by 1`.execute(db);
    assert.deepEqual(
      indexes.rows.map((r) => r.indexname),
      [
        'usage_records_aggregate',
        'usage_records_pkey',
        'usage_records_provider_daily',
        'usage_records_provider_hourly',
        'usage_records_undelivered',
      ],
    );
    // The quarantine keeps its record's key; the reference goes, which a month's move would trip.
    const fk =
      await sql`select 1 from pg_constraint where conrelid = 'usage_quarantine'::regclass and contype = 'f'`.execute(
        db,
      );
    assert.equal(fk.rows.length, 0);
  });

  it("moves the closing watermark out of ARM's settings, unchanged", async () => {
    assert.equal((await meteringStore.closedUntil(db))?.toISOString(), '2026-03-02T06:00:00.000Z');
    const left = await sql`select 1 from settings where key = 'metering'`.execute(db);
    assert.equal(left.rows.length, 0);
  });

  it('counts the outbox from its counters as a recount does', async () => {
    const counts = await outboxStore.counts(db);
    assert.equal(counts.delivered, 4);
    assert.equal(counts.undelivered, 4);
    assert.equal(counts.lastClosedHour?.toISOString(), '2026-03-02T05:00:00.000Z');
    assert.equal(counts.lastDeliveredHour?.toISOString(), '2026-02-01T00:00:00.000Z');
  });

  it('makes a later month from the DEFAULT partition, moving its records (a quarantined one too) in one go', async () => {
    for (const r of RESOURCES) await insert('2027-01-05T00:00:00Z', r, false).execute(db);
    await sql`
      insert into usage_quarantine (hour, resource_id, meter_id, revision, state, status, code, message, quarantined_at, refused_at)
      values ('2027-01-05T00:00:00Z', ${RESOURCES[1]}::uuid, ${METER}::uuid, 1, 'held', 400, 'InvalidProperty', 'no', now(), now())`.execute(
      db,
    );
    const inDefault = async () =>
      Number((await sql<{ n: string }>`select count(*) as n from usage_records_default`.execute(db)).rows[0].n);
    assert.equal(await inDefault(), 2);
    const all = await records();
    const made = await sql<{ made: boolean }>`select ensure_usage_month('2027-01-20T00:00:00Z') as made`.execute(db);
    assert.equal(made.rows[0].made, true);
    assert.equal(await inDefault(), 0);
    assert.deepEqual(await records(), all);
    const again = await sql<{ made: boolean }>`select ensure_usage_month('2027-01-01T00:00:00Z') as made`.execute(db);
    assert.equal(again.rows[0].made, false);
    const counts = await outboxStore.counts(db);
    assert.deepEqual([counts.delivered, counts.undelivered], [4, 6]);
  });
});
