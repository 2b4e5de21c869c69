// An existing hub upgrades to drafts and per-seller numbers: its invoices keep their numbers and
// are finalized; each seller's counter continues from its highest number, so the next invoice
// takes the number after it; invoices closed before cannot be voided (what they billed per key
// was never recorded) and still never change.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { closeDuePeriods } from '../src/billing/billing-run.ts';
import { voidInvoice } from '../src/billing/lifecycle.ts';
import { SimulatedClock } from '../src/core/clock.ts';
import type { Principal } from '../src/core/principal.ts';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import type { HubTables } from '../src/hub/app.ts';
import { hubMigrations } from '../src/hub/migrations.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PARTNER = '99999999-0000-0000-0000-000000000002';
const CUSTOMER = '99999999-0000-0000-0000-0000000000c2';
const PREFIX = `t_drafts_upgrade_${Date.now()}`;

describe('upgrading a hub with invoices to drafts and per-seller numbers', () => {
  const { db, pool, close } = openDatabase<HubTables>(withDatabase(testServerUrl(), PREFIX), 2);
  const ctx = {
    db,
    pool,
    clock: new SimulatedClock(new Date('2026-03-01T01:00:00Z')),
    system: { require: async () => {}, may: async () => true },
  };
  const invoice = (number: string, stream: string, kind: string, seller: string, buyer: string) =>
    sql`
    insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark, invoice_date, currency, subtotal, tax_rate, tax, total, created_at)
    values (gen_random_uuid(), ${number}, ${stream}, ${kind}, ${seller}, ${buyer}::uuid, '2026-01', '2026-01-01', '2026-02-01', 0, 0,
            '2026-02-01', 'USD', 0, 0, 0, 0, '2026-02-01')`.execute(db);

  before(async () => {
    await ensureDatabase(withDatabase(testServerUrl(), PREFIX));
    const {
      '0630_invoice_drafts': _drafts,
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
    await sql`insert into directories (tenant_id, display_name, default_domain, kind, created_at) values (${PARTNER}, 'CSP', 'csp.example', 'partner', ${t0})`.execute(
      db,
    );
    await sql`
      insert into customers (id, partner_tenant_id, commerce_id, company_name, domain, billing_profile, relationship, admin_object_id, created_at, etag)
      values (${CUSTOMER}, ${PARTNER}, gen_random_uuid(), 'Customer', 'c.example', '{}', 'reseller', gen_random_uuid(), ${t0}, '1')`.execute(
      db,
    );
    // January, numbered from the one global sequence.
    await invoice('G000000004', 'partner', 'invoice', 'provider', PARTNER);
    await invoice('INV000000005', 'customer', 'invoice', PARTNER, CUSTOMER);
    await invoice('CN000000006', 'customer', 'credit_note', PARTNER, CUSTOMER);
    await migrate(db, hubMigrations);
  });
  after(async () => {
    await close();
    await dropDatabases(PREFIX);
  });

  it('keeps the numbers, finalized, and continues each seller from its highest', async () => {
    const kept = await sql<{ number: string; status: string; billed_recorded: boolean }>`
      select number, status, billed_recorded from invoices order by number`.execute(db);
    assert.deepEqual(kept.rows, [
      { number: 'CN000000006', status: 'finalized', billed_recorded: false },
      { number: 'G000000004', status: 'finalized', billed_recorded: false },
      { number: 'INV000000005', status: 'finalized', billed_recorded: false },
    ]);
    await closeDuePeriods(ctx, ctx.clock.now(), '2026-02');
    const february = await sql<{ number: string; status: string }>`
      select number, status from invoices where period = '2026-02' order by number`.execute(db);
    assert.deepEqual(february.rows, [
      { number: 'G000000005', status: 'finalized' },
      { number: 'INV000000006', status: 'finalized' },
    ]);
  });

  it('refuses to void an invoice closed before the upgrade, and it never changes', async () => {
    const admin: Principal = { tenantId: PARTNER, objectId: PARTNER, kind: 'ServicePrincipal', audience: 'test' };
    await assert.rejects(voidInvoice(ctx, admin, 'G000000004', 'wrong'), /InvoiceNotVoidable|closed before/);
    await assert.rejects(
      sql`update invoices set total = 1 where number = 'INV000000005'`.execute(db),
      /finalized invoice never changes/,
    );
    const still = await sql<{ status: string }>`select status from invoices where number = 'G000000004'`.execute(db);
    assert.equal(still.rows[0].status, 'finalized');
  });
});
