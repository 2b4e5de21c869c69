// A line keeps what the exports write of its resource id (`invoice_lines.resource_parts`, billing's
// migrations 0650 and 0680): its group and provider namespace as parseResourceId reads them, and
// FOCUS's ResourceType, its ARM type as resourceTypeOf names it. Lines closed before either
// migration get theirs when it runs; lines a close writes after them, from the close (once per
// resource id since 0691); closed lines still never change.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { BASE, PARTNER, seed } from '../bench/billing-run.ts';
import { closeDuePeriods } from '../src/billing/billing-run.ts';
import { parseResourceId, resourceTypeOf } from '../src/core/arm-id.ts';
import { SimulatedClock } from '../src/core/clock.ts';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import { hubMigrations, type HubTables } from '../src/hub/app.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PREFIX = `t_resource_parts_${Date.now()}`;
const INVOICE = '99999999-0000-0000-0000-0000000000aa';

/** Resource ids as lines may hold them, usual and not (one null). */
const URIS = [
  '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1',
  '/subscriptions/s1/resourcegroups/RG2/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default',
  '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/blobServices/default/containers/c',
  '/subscriptions/s1/providers/Microsoft.AzureStack/registrations/r1',
  '//subscriptions//s1/resourceGroups/rg//providers/Microsoft.Compute/disks/d1/',
  '/subscriptions/s1/resourceGroups/rg',
  '/subscriptions/s1/resourceGroups',
  '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines',
  '/vm',
  '',
  null,
  '/subscriptions/s1',
];

describe('the resource id parts a line keeps', () => {
  const { db, pool, close } = openDatabase<HubTables>(withDatabase(testServerUrl(), PREFIX), 4);
  // Lines written after 0661 carry their invoice's buyer (the distribution column).
  const insertLines = async (from: number, withBuyer: boolean) => {
    for (const [n, uri] of URIS.entries())
      await (
        withBuyer
          ? sql`
        insert into invoice_lines (invoice_id, line_no, line_type, resource_uri, amount, buyer_id)
        values (${INVOICE}, ${from + n}, 'usage', ${uri}, 1, (select buyer_id from invoices where id = ${INVOICE}))`
          : sql`
        insert into invoice_lines (invoice_id, line_no, line_type, resource_uri, amount)
        values (${INVOICE}, ${from + n}, 'usage', ${uri}, 1)`
      ).execute(db);
  };
  /** The partner lines closed before the migrations (INVOICE's), or by the close after them. */
  const parts = async (closedBefore: boolean) =>
    (
      await sql<{
        line_no: number;
        resource_uri: string | null;
        resource_parts: (string | null)[] | null;
        rule: string[] | null;
      }>`
        select l.line_no, l.resource_uri, l.resource_parts, resource_parts(l.resource_uri) as rule
        from invoice_lines l join invoices i on i.id = l.invoice_id
        where (l.invoice_id = ${INVOICE}) = ${closedBefore} and i.stream = 'partner' order by l.line_no`.execute(db)
    ).rows;

  before(async () => {
    await ensureDatabase(withDatabase(testServerUrl(), PREFIX));
    const {
      '0650_line_resource_parts': _parts,
      '0660_billed_per_invoice': _shares,
      '0661_billing_keys_by_buyer': _keys,
      '0680_line_resource_type': _type,
      '0690_close_rows_without_foreign_keys': _close,
      '0691_line_resource_parts_written': _written,
      '0670_partner_unbilled_lines': _unbilledLines,
      ...earlier
    } = hubMigrations;
    const {
      '0680_line_resource_type': _type2,
      '0690_close_rows_without_foreign_keys': _close2,
      '0691_line_resource_parts_written': _written2,
      ...before0680
    } = hubMigrations;
    await migrate(db, earlier);
    await sql`
      insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark, invoice_date, currency, subtotal, tax_rate, tax, total, created_at)
      values (${INVOICE}, 'G000000001', 'partner', 'invoice', 'provider', gen_random_uuid(), '2026-01', '2026-01-01', '2026-02-01', 0, 0, '2026-02-01', 'USD', 0, 0, 0, 0, '2026-02-01')`.execute(
      db,
    );
    await insertLines(1, false); // closed before both migrations
    await migrate(db, before0680);
    await insertLines(101, true); // closed with 0650's parts
    await migrate(db, hubMigrations);
    // closed after them: a day of usage of each resource id (the seed's VM, then these), and a credit
    await seed(db, 1, 24);
    await sql`
      insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, tenant_id, location, tags, received_at, batch_id)
      select 'bench', 'r' || n, uri, ${BASE}::uuid, '2026-01-05', 1, 1, md5('s1')::uuid, md5('c1')::uuid, 'local', '{}', '2026-01-05T01:00:00Z', md5('b')::uuid
      from unnest(${URIS.filter((u) => u !== null)}::text[]) with ordinality u(uri, n)`.execute(db);
    await sql`
      insert into usage_attributed (source, hour, received_id, billed_subscription_id, reason, quantity, attributed_at)
      select source, hour, id, stack_subscription_id, 'linked', quantity, received_at from usage_received where resource_id like 'r%' order by id`.execute(
      db,
    );
    await sql`
      insert into billing_adjustments (seller, customer_id, kind, amount, description, reason, created_by, created_at)
      values ('provider', ${PARTNER}, 'credit', -1, 'credit', 'test', 'test', '2026-01-10')`.execute(db);
    const clock = new SimulatedClock(new Date('2026-02-01T01:00:00Z'));
    const ctx = { db, pool, clock, system: { require: async () => {}, may: async () => true } };
    await closeDuePeriods(ctx, clock.now(), '2026-01');
  });
  after(async () => {
    await close();
    await dropDatabases(PREFIX);
  });

  it('are what the rule gives, on lines closed before the migrations and on lines a close wrote after them', async () => {
    const closedAfter = await parts(false);
    // the seed's VM (two meters), each id above but the null one, and the credit (no resource)
    assert.equal(closedAfter.length, URIS.length + 2);
    assert.equal(closedAfter.filter((r) => r.resource_uri === null).length, 1);
    for (const row of [...(await parts(true)), ...closedAfter])
      assert.deepEqual(row.resource_parts, row.rule, `the parts of ${row.resource_uri}`);
    // the customer's invoice too
    const differing = await sql<{ n: number }>`
      select count(*)::int as n from invoice_lines where resource_parts is distinct from resource_parts(resource_uri)`.execute(
      db,
    );
    assert.equal(differing.rows[0].n, 0);
  });

  it('are the group and namespace parseResourceId reads, on lines closed before the migrations and after', async () => {
    const rows = [...(await parts(true)), ...(await parts(false))];
    assert.equal(rows.length, URIS.length * 3 + 2);
    for (const row of rows) {
      const id = row.resource_uri ? parseResourceId(row.resource_uri) : undefined;
      const [group, namespace] = row.resource_parts ?? [null, null];
      assert.equal(group ?? undefined, id?.resourceGroup, `the group of ${row.resource_uri}`);
      assert.equal(namespace ?? undefined, id?.namespace, `the namespace of ${row.resource_uri}`);
    }
  });

  it("hold FOCUS's ResourceType: the resource's ARM type, none for an id that is not a resource's", async () => {
    const closedBefore = await parts(true);
    for (const row of [...closedBefore, ...(await parts(false))]) {
      const id = row.resource_uri ? parseResourceId(row.resource_uri) : undefined;
      assert.equal(row.resource_parts?.[2] ?? undefined, id && resourceTypeOf(id), `the type of ${row.resource_uri}`);
    }
    assert.deepEqual(
      closedBefore.filter((r) => r.line_no < 100).map((r) => r.resource_parts?.[2] ?? null),
      [
        'Microsoft.Compute/virtualMachines',
        'Microsoft.Network/virtualNetworks/subnets',
        'Microsoft.Storage/storageAccounts/blobServices/containers',
        'Microsoft.AzureStack/registrations',
        'Microsoft.Compute/disks',
        'Microsoft.Resources/resourceGroups',
        null,
        null,
        null,
        null,
        null,
        'Microsoft.Resources/subscriptions',
      ],
    );
  });

  it('leave closed lines unchangeable', async () => {
    await assert.rejects(
      sql`update invoice_lines set amount = 2 where invoice_id = ${INVOICE}`.execute(db),
      /a finalized invoice never changes/,
    );
  });
});
