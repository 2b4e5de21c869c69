// An existing hub upgrades to billed quantities kept per invoice (0660): the running totals of
// `billed_daily` and the shares of `invoice_billed` become one row per key and invoice, the part no
// invoice recorded (closed before drafts) on the buyer's latest such invoice; voiding an invoice
// closed since then takes back exactly its share, and its replacement bills the same again (in its
// lines, since 0696). And to
// keys carrying the buyer (0661): closed lines take their invoice's buyer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { voidInvoice } from '../src/billing/lifecycle.ts';
import { SimulatedClock } from '../src/core/clock.ts';
import type { Principal } from '../src/core/principal.ts';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import type { HubTables } from '../src/hub/app.ts';
import { hubMigrations } from '../src/hub/migrations.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PARTNER = '99999999-0000-0000-0000-000000000003';
const CUSTOMER = '99999999-0000-0000-0000-0000000000c3';
const SUB = '99999999-0000-0000-0000-0000000000a3';
const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const JANUARY = '99999999-0000-0000-0000-00000000001a';
const FEBRUARY = '99999999-0000-0000-0000-00000000002f';
const PREFIX = `t_billed_per_invoice_${Date.now()}`;

describe('upgrading billed quantities to one row per invoice', () => {
  const { db, pool, close } = openDatabase<HubTables>(withDatabase(testServerUrl(), PREFIX), 2);
  const ctx = {
    db,
    pool,
    clock: new SimulatedClock(new Date('2026-03-02T00:00:00Z')),
    system: { require: async () => {}, may: async () => true },
  };
  const usage = (hour: string, quantity: string) =>
    sql`
      with received as (
        insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, location, tags, received_at, batch_id)
        values ('cloudevents:upgrade', ${hour}, '/vm', ${BASE}, ${hour}::timestamptz, 1, ${quantity}::numeric, ${SUB}, 'local', '{}', ${hour}::timestamptz, gen_random_uuid())
        returning source, hour, id, quantity
      )
      insert into usage_attributed (source, hour, received_id, billed_subscription_id, reason, quantity, attributed_at)
      select source, hour, id, ${SUB}, 'external meter', quantity, hour from received`.execute(db);
  const invoice = (id: string, number: string, period: string, start: string, end: string, recorded: boolean) =>
    sql`
      insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark,
                            invoice_date, currency, subtotal, tax_rate, tax, total, created_at, billed_recorded)
      values (${id}::uuid, ${number}, 'partner', 'invoice', 'provider', ${PARTNER}::uuid, ${period}, ${start}::timestamptz, ${end}::timestamptz, 0, 0,
              ${end}::timestamptz, 'USD', 0.16, 0, 0, 0.16, ${end}::timestamptz, ${recorded})`.execute(db);
  /** The old shape: a running total per key, naming the last invoice that added to it. */
  const total = (day: string, quantity: string, invoiceId: string) =>
    sql`
      insert into billed_daily (buyer_id, stream, seller, subscription_id, usage_date, meter_id, resource_uri, location, quantity, invoice_id)
      values (${PARTNER}::uuid, 'partner', 'provider', ${SUB}::uuid, ${day}::date, ${BASE}::uuid, '/vm', 'local', ${quantity}::numeric, ${invoiceId}::uuid)`.execute(
      db,
    );
  const billedRows = async () =>
    (
      await sql<{ day: string; quantity: string; invoice: string }>`
        select b.usage_date::text as day, b.quantity::text, coalesce(i.number, i.id::text) as invoice
        from billed_daily b join invoices i on i.id = b.invoice_id order by 1, 3`.execute(db)
    ).rows;

  before(async () => {
    await ensureDatabase(withDatabase(testServerUrl(), PREFIX));
    const {
      '0660_billed_per_invoice': _perInvoice,
      '0661_billing_keys_by_buyer': _keys,
      '0690_close_rows_without_foreign_keys': _close,
      '0691_line_resource_parts_written': _written,
      '0694_line_resource_parts_dropped': _partsDropped,
      '0670_partner_unbilled_lines': _unbilledLines,
      '0695_partner_unbilled_retired_by_close': _retiredByClose,
      '0697_partner_unbilled_below_zero_rated': _belowZeroRated,
      ...earlier
    } = hubMigrations;
    await migrate(db, earlier);
    const t0 = new Date('2026-01-01T00:00:00Z');
    await sql`insert into directories (tenant_id, display_name, default_domain, kind, created_at) values (${PARTNER}, 'CSP', 'csp3.example', 'partner', ${t0})`.execute(
      db,
    );
    await sql`
      insert into customers (id, partner_tenant_id, commerce_id, company_name, domain, billing_profile, relationship, admin_object_id, created_at, etag)
      values (${CUSTOMER}, ${PARTNER}, gen_random_uuid(), 'Customer', 'c3.example', '{}', 'reseller', gen_random_uuid(), ${t0}, '1')`.execute(
      db,
    );
    await sql`
      insert into subscriptions (subscription_id, tenant_id, display_name, state, created_at, offer_id, sold_by)
      values (${SUB}, ${CUSTOMER}, 'Subscription', 'Enabled', ${t0}, 'MS-AZR-0145P', ${PARTNER})`.execute(db);
    // January (closed before drafts: its share per key was never recorded) billed 10 on the 5th and
    // 5 on the 20th; February (recorded) billed 2 late on the 20th and 7 on 3 February.
    await usage('2026-01-05T10:00:00Z', '10');
    await usage('2026-01-20T10:00:00Z', '5');
    await usage('2026-01-20T11:00:00Z', '2');
    await usage('2026-02-03T10:00:00Z', '7');
    await invoice(JANUARY, 'G000000001', '2026-01', '2026-01-01', '2026-02-01', false);
    await invoice(FEBRUARY, 'G000000002', '2026-02', '2026-02-01', '2026-03-01', true);
    await sql`insert into invoice_number_counters (seller, prefix, last) values ('provider', 'G', 2)`.execute(db);
    await sql`
      insert into invoice_lines (invoice_id, line_no, line_type, customer_id, subscription_id, amount)
      values (${JANUARY}::uuid, 1, 'usage', ${CUSTOMER}::uuid, ${SUB}::uuid, 0.16)`.execute(db);
    await total('2026-01-05', '10', JANUARY);
    await total('2026-01-20', '7', FEBRUARY);
    await total('2026-02-03', '7', FEBRUARY);
    await sql`
      insert into invoice_billed (buyer_id, invoice_id, subscription_id, usage_date, meter_id, resource_uri, location, quantity)
      values (${PARTNER}::uuid, ${FEBRUARY}::uuid, ${SUB}::uuid, '2026-01-20', ${BASE}::uuid, '/vm', 'local', 2),
             (${PARTNER}::uuid, ${FEBRUARY}::uuid, ${SUB}::uuid, '2026-02-03', ${BASE}::uuid, '/vm', 'local', 7)`.execute(
      db,
    );
    await migrate(db, hubMigrations);
  });
  after(async () => {
    await close();
    await dropDatabases(PREFIX);
  });

  it('keeps each invoice its share, and what none recorded on the latest invoice closed before drafts', async () => {
    assert.deepEqual(await billedRows(), [
      { day: '2026-01-05', quantity: '10.000000000', invoice: 'G000000001' },
      { day: '2026-01-20', quantity: '5.000000000', invoice: 'G000000001' },
      { day: '2026-01-20', quantity: '2.000000000', invoice: 'G000000002' },
      { day: '2026-02-03', quantity: '7.000000000', invoice: 'G000000002' },
    ]);
    const left = await sql<{ n: number }>`
      select count(*)::int as n from pg_tables where tablename = 'invoice_billed'`.execute(db);
    assert.equal(left.rows[0].n, 0);
  });

  it("gives a closed invoice's lines its buyer (0661), and they still never change", async () => {
    const line = await sql<{ buyer_id: string }>`
      select buyer_id::text from invoice_lines where invoice_id = ${JANUARY}::uuid`.execute(db);
    assert.deepEqual(line.rows, [{ buyer_id: PARTNER }]);
    await assert.rejects(sql`update invoice_lines set amount = 1`.execute(db), /finalized invoice never changes/);
  });

  it('voids February: its share is taken back and billed again on the replacement, January untouched', async () => {
    const admin: Principal = { tenantId: PARTNER, objectId: PARTNER, kind: 'ServicePrincipal', audience: 'test' };
    const { replacement } = await voidInvoice(ctx, admin, 'G000000002', 'wrong price');
    const lines = await sql<{ line_type: string; day: string; quantity: string }>`
      select line_type, usage_date::text as day, quantity::text from invoice_lines where invoice_id = ${replacement.id}::uuid order by line_no`.execute(
      db,
    );
    assert.deepEqual(lines.rows, [
      { line_type: 'late usage', day: '2026-01-20', quantity: '2.000000000' },
      { line_type: 'usage', day: '2026-02-03', quantity: '7.000000000' },
    ]);
    // February's rows are gone; the replacement's lines say what it billed (0696), January's rows stay.
    assert.equal(replacement.billed_in_lines, true);
    assert.deepEqual(await billedRows(), [
      { day: '2026-01-05', quantity: '10.000000000', invoice: 'G000000001' },
      { day: '2026-01-20', quantity: '5.000000000', invoice: 'G000000001' },
    ]);
  });
});
