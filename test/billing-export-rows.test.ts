// The exports' rows are made in TypeScript from the lines' own columns (exports.ts): the binary
// COPY they are read with, a FOCUS row against its columns, the costs the database writes, the
// resource types it keeps by parent, and a hub whose lines kept `resource_parts` (SQL's copy of the resource id rule, dropped
// by migration 0694) exporting the same types from the rule itself, before and after a close.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { to as copyTo } from 'pg-copy-streams';
import { PARTNER, seed } from '../bench/billing-run.ts';
import { closeDuePeriods } from '../src/billing/billing-run.ts';
import { stringify } from 'csv-stringify/sync';
import { type ExportInvoice, NO_INVOICE, NO_LINE } from '../src/billing/export-columns.ts';
import { FOCUS_COLUMN_NAMES, focusColumns, focusShared } from '../src/billing/focus-columns.ts';
import { exportStream } from '../src/billing/exports.ts';
import { parseResourceId, resourceTypeOf } from '../src/core/arm-id.ts';
import { SimulatedClock } from '../src/core/clock.ts';
import { METERS } from '../src/core/meters.ts';
import { BinaryTextRowReader } from '../src/db/copy-text-rows.ts';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import type { HubTables } from '../src/hub/app.ts';
import { hubMigrations } from '../src/hub/migrations.ts';
import { exportRows, mixedLines } from './helpers/export-rows.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PREFIX = `t_export_rows_${Date.now()}`;
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
const typeOf = (uri: string | null) => {
  const id = uri === null ? undefined : parseResourceId(uri);
  return id ? resourceTypeOf(id) : null;
};
const focusOf = (line: Partial<typeof NO_LINE>) =>
  focusColumns(
    focusShared({ line: { ...NO_LINE, line_type: 'usage', ...line }, invoice: NO_INVOICE, names: new Map() }),
  );

describe("the exports' rows", () => {
  const { db, pool, close } = openDatabase<HubTables>(withDatabase(testServerUrl(), PREFIX), 4);
  /** Every FOCUS row of January's partner invoices, as [ResourceId, ResourceType]. */
  const exportedTypes = async () => {
    let text = '';
    const selection = { stream: 'partner', period: '2026-01' } as const;
    await pipeline(
      exportStream(db, pool, selection, 'focus'),
      new Writable({
        write: (chunk, _e, done) => {
          text += chunk;
          done();
        },
      }),
    );
    const rows = text.trimEnd().split('\n').slice(1);
    const id = FOCUS_COLUMN_NAMES.indexOf('ResourceId');
    const type = FOCUS_COLUMN_NAMES.indexOf('ResourceType');
    // none of these ids holds a comma or a quote: a row splits on commas
    return rows.map((r) => r.split(',')).map((c) => [c[id] || null, c[type] || null]);
  };

  before(async () => {
    await ensureDatabase(withDatabase(testServerUrl(), PREFIX));
    const { '0694_line_resource_parts_dropped': _dropped, ...before0694 } = hubMigrations;
    await migrate(db, before0694);
    await sql`
      insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark, invoice_date, currency, subtotal, tax_rate, tax, total, created_at, status)
      values (${INVOICE}, 'G000000001', 'partner', 'invoice', 'provider', gen_random_uuid(), '2026-01', '2026-01-01', '2026-02-01', 0, 0, '2026-02-01', 'USD', 0, 0, 0, 0, '2026-02-01', 'finalized')`.execute(
      db,
    );
    // lines closed before 0694, with the parts that release's close wrote
    for (const [n, uri] of URIS.entries())
      await sql`
        insert into invoice_lines (invoice_id, line_no, line_type, resource_uri, amount, buyer_id, resource_parts)
        values (${INVOICE}, ${n + 1}, 'usage', ${uri}, 1, (select buyer_id from invoices where id = ${INVOICE}), resource_parts(${uri}))`.execute(
        db,
      );
    await migrate(db, hubMigrations);
    // closed after it: a day of usage of the seed's VM, and a credit
    await seed(db, 1, 24);
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

  it('0694 drops the kept parts and their SQL function; the lines stay', async () => {
    const column = await sql<{ n: number }>`
      select count(*)::int as n from information_schema.columns where table_name = 'invoice_lines' and column_name = 'resource_parts'`.execute(
      db,
    );
    assert.equal(column.rows[0].n, 0);
    const fn = await sql<{
      n: number;
    }>`select count(*)::int as n from pg_proc where proname = 'resource_parts'`.execute(db);
    assert.equal(fn.rows[0].n, 0);
    const lines = await sql<{
      n: number;
    }>`select count(*)::int as n from invoice_lines where invoice_id = ${INVOICE}`.execute(db);
    assert.equal(lines.rows[0].n, URIS.length);
  });

  it("write FOCUS's ResourceType from the rule, on lines closed before 0694 and by a close after it", async () => {
    const rows = await exportedTypes();
    // the old invoice's lines and the new one's: the seed's VM (two meters) and the credit
    assert.equal(rows.length, URIS.length + 3);
    for (const [uri, type] of rows) assert.equal(type, typeOf(uri), `the type of ${uri}`);
    assert.deepEqual(
      URIS.slice(0, 6).map((uri) => rows.find(([id]) => id === uri)?.[1]),
      [
        'Microsoft.Compute/virtualMachines',
        'Microsoft.Network/virtualNetworks/subnets',
        'Microsoft.Storage/storageAccounts/blobServices/containers',
        'Microsoft.AzureStack/registrations',
        'Microsoft.Compute/disks',
        'Microsoft.Resources/resourceGroups',
      ],
    );
  });

  it('keep a resource type by its parent only where the last segment changes nothing', () => {
    // ids that share parents, usual and not: the kept type is always the rule's
    const segment = fc.constantFrom(
      'subscriptions',
      's1',
      'resourceGroups',
      'resourcegroups',
      'rg',
      'providers',
      'Microsoft.Compute',
      'virtualMachines',
      'vm1',
      'extensions',
      '',
    );
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 11 }),
        fc.boolean(),
        fc.boolean(),
        (parts, lead, trail) => {
          const uri = `${lead ? '/' : ''}${parts.join('/')}${trail ? '/' : ''}`;
          assert.equal(focusOf({ resource_uri: uri }).ResourceType, typeOf(uri), uri);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('write a FOCUS row as its columns, quoted where CSV needs it, whatever lines and invoices follow each other', () => {
    // Text that CSV quotes, and not; the ids, numbers and dates are what their columns hold.
    const words = fc.constantFrom('plain', 'a, comma', 'a "quote"', 'line\nbreak', 'cr\rhere', 'Ünïcode ✓', '');
    const invoice = (corrects: boolean, stream: ExportInvoice['stream']) =>
      fc.record({ buyerName: fc.option(words), issuerName: words }).map((names): ExportInvoice => ({
        ...NO_INVOICE,
        ...names,
        id: crypto.randomUUID(),
        number: 'G000000001',
        stream,
        buyerId: crypto.randomUUID(),
        currency: 'USD',
        periodStart: '2026-01-01T00:00:00Z',
        periodEnd: '2026-02-01T00:00:00Z',
        corrects,
      }));
    const subscriptions = [crypto.randomUUID(), crypto.randomUUID()];
    const names = new Map(subscriptions.map((id, i) => [id, { name: i === 0 ? 'Sub, "one"' : 'two', domain: null }]));
    const amount = fc.constantFrom('0.38', '-12.5', '0', '48.000000000');
    const line = fc.record({
      line_type: fc.constantFrom('usage', 'late usage', 'credit', 'adjustment', 'tax'),
      meter_id: fc.constantFrom(null, ...Object.values(METERS).map((m) => m.id), crypto.randomUUID()),
      subscription_id: fc.constantFrom(null, ...subscriptions),
      resource_uri: fc.option(
        fc.constantFrom(
          ...URIS.filter((u) => u !== null),
          '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/a,b',
        ),
      ),
      location: fc.option(words),
      description: fc.option(words),
      usage_date: fc.option(fc.constantFrom('2026-01-01', '2026-01-31')),
      usage_to: fc.option(fc.constant('2026-01-31')),
      quantity: fc.option(amount),
      unit_price: fc.option(amount),
      list_unit_price: fc.option(amount),
      amount,
      list_cost: fc.option(amount),
      contracted_cost: fc.option(amount),
    });
    fc.assert(
      fc.property(
        fc.tuple(invoice(false, 'partner'), invoice(true, 'customer')),
        mixedLines(
          line.map((l) => ({ ...NO_LINE, ...l })),
          30,
        ),
        fc.array(fc.nat(1), { minLength: 30, maxLength: 30 }),
        (invoices, lines, which) => {
          const focus = exportRows('focus');
          for (const [k, l] of lines.entries()) {
            const input = { line: l, invoice: invoices[which[k]!] as ExportInvoice, names };
            const columns = focusColumns(focusShared(input));
            assert.deepEqual(Object.keys(columns), FOCUS_COLUMN_NAMES);
            assert.equal(focus(input.line, input.invoice, input.names), stringify([Object.values(columns)]));
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("write a line's costs as PostgreSQL's trim_scale(quantity × price): exact, no trailing zeros, the list cost where it differs", async () => {
    const invoice = '99999999-0000-0000-0000-0000000000bb';
    await sql`
      insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark, invoice_date, currency, subtotal, tax_rate, tax, total, created_at, status)
      values (${invoice}, 'G000000003', 'partner', 'invoice', 'provider', gen_random_uuid(), '2026-03', '2026-03-01', '2026-04-01', 0, 0, '2026-04-01', 'USD', 0, 0, 0, 0, '2026-04-01', 'finalized')`.execute(
      db,
    );
    // [line type, quantity, price, list price, amount]
    const lines: [string, string | null, string | null, string | null, string][] = [
      ['usage', '48.000000000', '0.008000', null, '0.38'],
      ['usage', '-0.000', '1.5', null, '0'],
      ['usage', '2', '1.00', '1.0', '2'],
      ['usage', '3', '1.25', '1.00', '3.75'],
      ['credit', null, null, null, '-5.50'],
    ];
    for (const [n, [type, quantity, price, list, amount]] of lines.entries())
      await sql`
        insert into invoice_lines (invoice_id, line_no, line_type, quantity, unit_price, list_unit_price, amount, buyer_id)
        values (${invoice}, ${n + 1}, ${type}, ${quantity}::numeric, ${price}::numeric, ${list}::numeric, ${amount}::numeric, (select buyer_id from invoices where id = ${invoice}))`.execute(
        db,
      );
    let text = '';
    await pipeline(
      exportStream(db, pool, { stream: 'partner', period: '2026-03' }, 'focus'),
      new Writable({
        write: (chunk, _e, done) => {
          text += chunk;
          done();
        },
      }),
    );
    // no value of these rows holds a comma or a quote: a row splits on commas
    const rows = text
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((r) => r.split(','));
    assert.ok(rows.every((r) => r.length === FOCUS_COLUMN_NAMES.length));
    const [contracted, list] = ['ContractedCost', 'ListCost'].map((c) => FOCUS_COLUMN_NAMES.indexOf(c));
    assert.deepEqual(
      rows.map((r) => [r[contracted], r[list]]),
      [
        ['0.384', '0.384'],
        ['0', '0'],
        ['2', '2'],
        ['3.75', '3'],
        ['-5.50', '-5.50'],
      ],
    );
  });

  it('read a binary COPY however its bytes are cut: nulls, empty text, long and non-ASCII values', async () => {
    const query = `select * from (values (1, 'a'::text, null::text, ''), (2, repeat('é', 200), 'Ünïcode ✓', repeat('x', 70000)),
      (3, null, 'tab	quote" comma, line
break', '\\')) v(n, a, b, c) order by n`;
    const client = await pool.connect();
    try {
      const wanted = (
        await client.query<{ n: number; a: string | null; b: string | null; c: string | null }>(query)
      ).rows.map((r) => [String(r.n), r.a, r.b, r.c]);
      const chunks: Buffer[] = [];
      for await (const chunk of client.query(
        copyTo(`copy (select n::text, a, b, c from (${query}) q) to stdout with (format binary)`),
      ))
        chunks.push(chunk as Buffer);
      const bytes = Buffer.concat(chunks);
      // cut once at every position of the first rows (and, for the long value, every 997th)
      // (the first column, a number's text, told ASCII: read without a look, the same rows)
      for (let cut = 0; cut <= bytes.length; cut += cut < 2000 ? 1 : 997) {
        const reader = new BinaryTextRowReader(cut % 2 === 0 ? [true] : []);
        const rows = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
        assert.deepEqual(rows, wanted, `cut at byte ${cut}`);
        assert.ok(reader.complete);
      }
      // and a byte at a time
      const reader = new BinaryTextRowReader();
      const rows = [];
      for (let i = 0; i < bytes.length; i++) rows.push(...reader.push(bytes.subarray(i, i + 1)));
      assert.deepEqual(rows, wanted);
    } finally {
      client.release();
    }
  });
});
