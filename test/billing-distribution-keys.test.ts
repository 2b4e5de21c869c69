// Billing's and usage's keys carry their distribution column (ARCHITECTURE.md, "Beyond one database server"):
// every primary and unique key of a distributed billing table contains it, and every foreign key
// between them carries it on both sides. Invoice numbers are unique per seller by the seller's
// counter, not by an index: two drafts of one seller finalized at once take two numbers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { PARTNER, seed } from '../bench/billing-run.ts';
import { closeDuePeriods } from '../src/billing/billing-run.ts';
import { BILLING_JOB, finalizeDraft } from '../src/billing/lifecycle.ts';
import { SimulatedClock } from '../src/core/clock.ts';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import type { HubTables } from '../src/hub/app.ts';
import { hubMigrations } from '../src/hub/migrations.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PREFIX = `t_billing_keys_${Date.now()}`;

/** Each distributed billing table and its distribution column. */
const DISTRIBUTED: Record<string, string> = {
  invoices: 'buyer_id',
  invoice_lines: 'buyer_id',
  billing_adjustments: 'customer_id',
  billed_daily: 'buyer_id',
  billed_adjustments: 'buyer_id',
  invoice_number_counters: 'seller',
};

interface Key {
  table: string;
  name: string;
  kind: string;
  columns: string[];
  references: string | null;
  referenced: string[] | null;
}

describe("billing's keys carry the distribution column", () => {
  const { db, pool, close } = openDatabase<HubTables>(withDatabase(testServerUrl(), PREFIX), 4);

  before(async () => {
    await ensureDatabase(withDatabase(testServerUrl(), PREFIX));
    await migrate(db, hubMigrations);
  });
  after(async () => {
    await close();
    await dropDatabases(PREFIX);
  });

  /** The primary, unique and foreign keys of `tables`, and their unique indexes that are no constraint. */
  const keysOf = async (tables: string[]) =>
    (
      await sql<Key>`
      select c.conrelid::regclass::text as table, c.conname as name, c.contype as kind,
             array(select a.attname::text from unnest(c.conkey) with ordinality k(n, o) join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.o) as columns,
             c.confrelid::regclass::text as references,
             array(select a.attname::text from unnest(c.confkey) with ordinality k(n, o) join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.o) as referenced
      from pg_constraint c where c.conrelid::regclass::text = any(${tables}::text[]) and c.contype in ('p', 'u', 'f')
      union all
      -- unique indexes that are no constraint (invoices_once)
      select i.indrelid::regclass::text, i.indexrelid::regclass::text, 'i',
             array(select a.attname::text from unnest(i.indkey) with ordinality k(n, o) join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n order by k.o), null, null
      from pg_index i
      where i.indrelid::regclass::text = any(${tables}::text[]) and i.indisunique
        and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)
      order by 1, 2`.execute(db)
    ).rows;
  /** Keys without their table's distribution column, and foreign keys to a distributed table without its column on both sides. */
  const withoutDistribution = (keys: Key[], distributed: Record<string, string>, reference: string[] = []) =>
    keys.filter((k) =>
      k.kind !== 'f'
        ? !k.columns.includes(distributed[k.table])
        : !reference.includes(k.references ?? '') &&
          (!k.columns.includes(distributed[k.table]) ||
            !k.references ||
            !k.referenced?.includes(distributed[k.references])),
    );

  it('has the distribution column in every primary and unique key, and on both sides of every foreign key', async () => {
    const keys = await keysOf(Object.keys(DISTRIBUTED));
    assert.deepEqual(withoutDistribution(keys, DISTRIBUTED), []);
    // Lines and billed rows have none since 0690: written only with their invoice, checked per row.
    const foreign = keys.filter((k) => k.kind === 'f').map((k) => `${k.table}(${k.columns}) → ${k.references}`);
    assert.deepEqual(foreign.sort(), [
      'billed_adjustments(adjustment_id,buyer_id) → billing_adjustments',
      'billed_adjustments(invoice_id,buyer_id) → invoices',
      'billing_adjustments(credit_note_for,customer_id) → invoices',
      'invoices(credit_note_for,buyer_id) → invoices',
      'invoices(replaces,buyer_id) → invoices',
    ]);
  });

  it("has usage's distribution column in every key of its distributed tables; its foreign keys name reference tables only", async () => {
    const usage: Record<string, string> = {
      usage_received: 'source',
      usage_attributed: 'source',
      usage_conflicts: 'source',
      usage_counters: 'source',
      usage_received_days: 'source',
      usage_event_ids: 'source',
      usage_daily_pending: 'source',
      usage_daily: 'billed_subscription_id',
      partner_unbilled_lines: 'subscription_id',
    };
    const keys = await keysOf(Object.keys(usage));
    assert.deepEqual(withoutDistribution(keys, usage, ['registrations', 'customer_subscription_links']), []);
    // Every one holds its column, keys or none (the pending daily keys have none).
    const { rows: held } = await sql<{ table: string }>`
      select table_name as table from information_schema.columns
      where table_schema = current_schema() and (table_name, column_name) in (select * from unnest(${Object.keys(usage)}::text[], ${Object.values(usage)}::text[]))
      order by 1`.execute(db);
    assert.deepEqual(
      held.map((r) => r.table),
      Object.keys(usage).sort(),
    );
    // The keys that make usage exact are there (the catalog is read, not assumed).
    const primary = Object.fromEntries(keys.filter((k) => k.kind === 'p').map((k) => [k.table, k.columns.join(',')]));
    assert.equal(primary.usage_received, 'source,hour,id');
    assert.match(primary.usage_attributed ?? '', /^source,hour,/);
  });

  it("numbers two drafts of one seller finalized at once from the seller's counter: two numbers, no gap", async () => {
    await seed(db, 2, 24);
    await sql`
      insert into billing_profiles (seller, customer_id, billing_day, tax_rate, grace_period_days, updated_by, updated_at)
      values (${PARTNER}, null, 1, 0, 3, 'test', '2026-01-01')`.execute(db);
    const ctx = {
      db,
      pool,
      clock: new SimulatedClock(new Date('2026-02-01T01:00:00Z')),
      system: { require: async () => {}, may: async () => true },
    };
    await closeDuePeriods(ctx, ctx.clock.now(), '2026-01');
    const drafts = await db.selectFrom('invoices').select('id').where('status', '=', 'draft').execute();
    assert.equal(drafts.length, 2);
    const done = await Promise.all(drafts.map((d) => finalizeDraft(ctx, d.id, BILLING_JOB)));
    assert.deepEqual(done.map((d) => d?.number).sort(), ['INV000000001', 'INV000000002']);
  });
});
