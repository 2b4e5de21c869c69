// An existing hub upgrades to incremental rating: the daily aggregates are backfilled from its
// attributions, and what its invoices took by id watermark becomes billed quantities, so the next
// close bills exactly what those invoices left: the usage after the watermark (late usage of a
// closed month as such) and the adjustments after theirs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { closeDuePeriods } from '../src/billing/billing-run.ts';
import { unbilledPage } from '../src/billing/invoices.ts';
import { SimulatedClock } from '../src/core/clock.ts';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import type { HubTables } from '../src/hub/app.ts';
import { hubMigrations } from '../src/hub/migrations.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PARTNER = '99999999-0000-0000-0000-000000000001';
const CUSTOMER = '99999999-0000-0000-0000-0000000000c1';
const SUB = '99999999-0000-0000-0000-0000000000a1';
const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const PREFIX = `t_upgrade_${Date.now()}`;

describe('upgrading a hub with invoices to incremental rating', () => {
  const { db, pool, close } = openDatabase<HubTables>(withDatabase(testServerUrl(), PREFIX), 2);
  const usage = async (hour: string, quantity: string): Promise<string> => {
    const r = await sql<{ id: string }>`
      with received as (
        insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, location, tags, received_at, batch_id)
        values ('cloudevents:upgrade', ${hour}, '/vm', ${BASE}, ${hour}::timestamptz, 1, ${quantity}::numeric, ${SUB}, 'local', '{}', ${hour}::timestamptz, gen_random_uuid())
        returning id, quantity
      )
      insert into usage_attributed (received_id, billed_subscription_id, reason, quantity, attributed_at)
      select id, ${SUB}, 'external meter', quantity, ${hour}::timestamptz from received returning id::text`.execute(db);
    return r.rows[0].id;
  };
  const adjustment = async (amount: string): Promise<string> => {
    const r = await sql<{ id: string }>`
      insert into billing_adjustments (seller, customer_id, kind, amount, description, reason, created_by, created_at)
      values (${PARTNER}, ${CUSTOMER}, 'credit', ${amount}::numeric, 'credit', 'test', 'test', '2026-01-20') returning id::text`.execute(
      db,
    );
    return r.rows[0].id;
  };
  /** An invoice of January as the watermark-based close wrote it. */
  const januaryInvoice = async (
    stream: string,
    seller: string,
    buyer: string,
    watermark: string,
    adjustments: string,
  ) => {
    await sql`
      insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark, invoice_date, currency, subtotal, tax_rate, tax, total, created_at)
      values (gen_random_uuid(), ${`${stream}-2026-01`}, ${stream}, 'invoice', ${seller}, ${buyer}::uuid, '2026-01', '2026-01-01', '2026-02-01', ${watermark}::bigint, ${adjustments}::bigint,
              '2026-02-01', 'USD', 0, 0, 0, 0, '2026-02-01')`.execute(db);
  };

  before(async () => {
    await ensureDatabase(withDatabase(testServerUrl(), PREFIX));
    // The hub as it was: before usage's daily aggregates, monthly partitions, billed quantities (and
    // their keeping per invoice) and drafts.
    const {
      '0505_usage_daily': _daily,
      '0506_usage_daily_line_order': _order,
      '0507_usage_partitions': _partitions,
      '0510_attribution_carries_daily_key': _carried,
      '0511_records_without_registration_key': _unkeyed,
      '0530_usage_daily_pending': _pending,
      '0540_attributions_keyed_by_record': _keyedByRecord,
      '0550_first_attribution_on_record': _firstOnRecord,
      '0560_usage_daily_page_order': _dailyPageOrder,
      '0561_usage_received_days': _receivedDays,
      '0562_usage_archive_reported_span': _archiveSpan,
      '0563_usage_daily_pending_sets': _pendingSets,
      '0564_usage_received_partition_triggers': _partitionTriggers,
      '0620_billed_quantities': _billed,
      '0630_invoice_drafts': _drafts,
      '0660_billed_per_invoice': _perInvoice,
      '0661_billing_keys_by_buyer': _keys,
      '0690_close_rows_without_foreign_keys': _close,
      '0691_line_resource_parts_written': _written,
      '0694_line_resource_parts_dropped': _partsDropped,
      '0670_partner_unbilled_lines': _unbilledLines,
      '0695_partner_unbilled_retired_by_close': _retiredByClose,
      '0697_partner_unbilled_below_zero_rated': _belowZeroRated,
      '0692_usage_by_hour_dropped': _byHourDropped,
      ...before
    } = hubMigrations;
    await migrate(db, before);
    const t0 = new Date('2026-01-01T00:00:00Z');
    await sql`insert into directories (tenant_id, display_name, default_domain, kind, created_at) values (${PARTNER}, 'CSP', 'csp.example', 'partner', ${t0})`.execute(
      db,
    );
    await sql`
      insert into customers (id, partner_tenant_id, commerce_id, company_name, domain, billing_profile, relationship, admin_object_id, created_at, etag)
      values (${CUSTOMER}, ${PARTNER}, gen_random_uuid(), 'Customer', 'c.example', '{}', 'reseller', gen_random_uuid(), ${t0}, '1')`.execute(
      db,
    );
    await sql`
      insert into subscriptions (subscription_id, tenant_id, display_name, state, created_at, offer_id, sold_by)
      values (${SUB}, ${CUSTOMER}, 'Subscription', 'Enabled', ${t0}, 'MS-AZR-0145P', ${PARTNER})`.execute(db);
    // January, closed by watermark: usage on the 5th and 20th and a credit, all taken in.
    await usage('2026-01-05T10:00:00Z', '10');
    const mark = await usage('2026-01-20T10:00:00Z', '5');
    const taken = await adjustment('-1.00');
    await januaryInvoice('partner', 'provider', PARTNER, mark, '0');
    await januaryInvoice('customer', PARTNER, CUSTOMER, mark, taken);
    // After the close: late usage for 20 January, February's usage, and a second credit.
    await usage('2026-01-20T11:00:00Z', '2');
    await usage('2026-02-03T10:00:00Z', '7');
    await adjustment('-2.00');
    await migrate(db, hubMigrations);
  });
  after(async () => {
    await close();
    await dropDatabases(PREFIX);
  });

  it('backfills the daily aggregates and the billed quantities', async () => {
    const daily = await sql<{ day: string; quantity: string }>`
      select usage_date::text as day, quantity::text from usage_daily order by 1`.execute(db);
    assert.deepEqual(daily.rows, [
      { day: '2026-01-05', quantity: '10.000000000' },
      { day: '2026-01-20', quantity: '7.000000000' },
      { day: '2026-02-03', quantity: '7.000000000' },
    ]);
    const billed = await sql<{ stream: string; day: string; quantity: string }>`
      select stream, usage_date::text as day, quantity::text from billed_daily order by 1, 2`.execute(db);
    assert.deepEqual(billed.rows, [
      { stream: 'customer', day: '2026-01-05', quantity: '10.000000000' },
      { stream: 'customer', day: '2026-01-20', quantity: '5.000000000' },
      { stream: 'partner', day: '2026-01-05', quantity: '10.000000000' },
      { stream: 'partner', day: '2026-01-20', quantity: '5.000000000' },
    ]);
  });

  it("fills the partner's unbilled lines (0670): what its invoices left of each aggregate, rated", async () => {
    const ctx = {
      db,
      pool,
      clock: new SimulatedClock(new Date('2026-02-15T00:00:00Z')),
      system: { require: async () => {}, may: async () => true },
    };
    const page = await unbilledPage(
      ctx,
      'partner',
      { seller: 'provider', buyerId: PARTNER, since: new Date('2026-01-01T00:00:00Z') },
      undefined,
      10,
    );
    assert.deepEqual(
      page.lines.map((l) => ({ type: l.line_type, day: l.usage_date, quantity: l.quantity, amount: l.amount })),
      [
        { type: 'late usage', day: '2026-01-20', quantity: '2.000000000', amount: '0.02' },
        { type: 'usage', day: '2026-02-03', quantity: '7.000000000', amount: '0.06' },
      ],
    );
  });

  it('closes February with what January left: the late usage, the new usage and the new credit', async () => {
    const ctx = {
      db,
      pool,
      clock: new SimulatedClock(new Date('2026-03-01T01:00:00Z')),
      system: { require: async () => {}, may: async () => true },
    };
    const r = await closeDuePeriods(ctx, ctx.clock.now(), '2026-02');
    assert.deepEqual(r.periods, ['2026-02']);
    const lines = await sql<{
      stream: string;
      line_type: string;
      day: string;
      quantity: string | null;
      amount: string;
    }>`
      select i.stream, l.line_type, l.usage_date::text as day, l.quantity::text, l.amount::text
      from invoice_lines l join invoices i on i.id = l.invoice_id where i.period = '2026-02' order by 1, l.line_no`.execute(
      db,
    );
    assert.deepEqual(lines.rows, [
      { stream: 'customer', line_type: 'late usage', day: '2026-01-20', quantity: '2.000000000', amount: '0.02' },
      { stream: 'customer', line_type: 'usage', day: '2026-02-03', quantity: '7.000000000', amount: '0.06' },
      { stream: 'customer', line_type: 'credit', day: '2026-01-20', quantity: null, amount: '-2.00' },
      { stream: 'partner', line_type: 'late usage', day: '2026-01-20', quantity: '2.000000000', amount: '0.02' },
      { stream: 'partner', line_type: 'usage', day: '2026-02-03', quantity: '7.000000000', amount: '0.06' },
    ]);
  });
});
