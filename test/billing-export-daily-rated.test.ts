// The reconciliation file's rows and the JSON export's partner lines are the partner center's
// daily-rated line item (views.ts), written with runs of fields kept per kind and value
// (row-runs.ts): for any lines, in any order and across invoices, the same bytes as the
// item's view written field by field (its CSV cells; JSON.stringify, and the comma that follows
// each object of the JSON array).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { csvField } from '../src/billing/csv-field.ts';
import {
  type ExportInvoice,
  type ExportLine,
  jsonArray,
  NO_INVOICE,
  NO_LINE,
  RECON_COLUMNS,
  ROW_FORMATS,
} from '../src/billing/export-columns.ts';
import { dailyRatedLineView, type Names, numberText } from '../src/billing/views.ts';
import { METERS } from '../src/core/meters.ts';
import { exportRows, mixedLines } from './helpers/export-rows.ts';

const PARTIES = ['11111111-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000002'];
const SUBSCRIPTIONS = ['22222222-0000-0000-0000-000000000001', '22222222-0000-0000-0000-000000000002'];
const text = fc.oneof(fc.constantFrom('', 'plain', 'a, "quoted"\nline', 'é ☃ 𝄞', '\\back'), fc.string());
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const decimal = fc.constantFrom('0', '1', '0.38', '-2.5', '48.000000000', '0.008000', '123456789.123456789');

const lineArb: fc.Arbitrary<ExportLine> = fc
  .record({
    line_type: fc.constantFrom('usage', 'late usage'),
    meter_id: nullable(
      fc.constantFrom(...Object.values(METERS).map((m) => m.id), 'FAB6EB84500B4A09A8CA7358F8BBAEA5', 'not-a-meter'),
    ),
    customer_id: nullable(fc.constantFrom(...PARTIES, '33333333-0000-0000-0000-000000000009')),
    subscription_id: nullable(fc.constantFrom(...SUBSCRIPTIONS)),
    resource_uri: nullable(
      fc.constantFrom(
        '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1',
        '/subscriptions/s1/resourcegroups/RG2/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default',
        '/subscriptions/s1',
        '',
        'not an id, "quoted"',
      ),
    ),
    location: nullable(text),
    usage_date: nullable(fc.constantFrom('2026-01-01', '2026-01-31', '2026-02-28')),
    tier: nullable(fc.integer({ min: 1, max: 3 })),
    quantity: nullable(decimal),
    unit_price: nullable(decimal),
    amount: decimal,
  })
  .map((l) => ({ ...NO_LINE, ...l }));

const invoiceArb: fc.Arbitrary<ExportInvoice> = fc
  .record({
    number: fc.constantFrom('G000000001', 'G000000002', 'x,"y"'),
    buyerId: fc.constantFrom(...PARTIES),
    currency: fc.constantFrom('USD', 'EUR'),
  })
  .map((i) => ({ ...NO_INVOICE, ...i, stream: 'partner' as const }));

const namesArb: fc.Arbitrary<Names> = fc
  .array(fc.tuple(fc.constantFrom(...PARTIES, ...SUBSCRIPTIONS), text, nullable(text)), { maxLength: 4 })
  .map((entries) => new Map(entries.map(([id, name, domain]) => [id, { name, domain }])));

/** The reconciliation row as the view's fields, each written as the file writes it. */
function reconOf(view: Record<string, unknown>): string {
  const keys = Object.keys(view);
  const cells = RECON_COLUMNS.map((c) => {
    const value = view[keys.find((k) => k.toLowerCase() === c.toLowerCase())!];
    return typeof value === 'number' ? String(value) : csvField(value as string);
  });
  return `${cells.join(',')}\n`;
}

describe("the daily-rated line item's rows in the exports", () => {
  it('writes the bytes of the view, field by field, for any lines across invoices and names', () => {
    fc.assert(
      fc.property(
        mixedLines(lineArb, 60),
        fc.array(fc.tuple(fc.nat(2), fc.nat(1)), { minLength: 60, maxLength: 60 }),
        fc.array(invoiceArb, { minLength: 3, maxLength: 3 }),
        fc.array(namesArb, { minLength: 2, maxLength: 2 }),
        (lines, contexts, invoices, namesOf) => {
          const recon = exportRows('recon');
          const json = exportRows('json');
          for (const [k, line] of lines.entries()) {
            const [i, n] = contexts[k]!;
            const invoice = invoices[i]!;
            const names = namesOf[n]!;
            const view = dailyRatedLineView(line as Parameters<typeof dailyRatedLineView>[0], {
              partnerId: invoice.buyerId,
              invoiceNumber: invoice.number,
              currency: invoice.currency,
              names,
            });
            assert.equal(recon(line, invoice, names), reconOf(view));
            assert.equal(json(line, invoice, names), `${JSON.stringify(view)},\n`);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("prints a number from the database's text as JavaScript prints its double", () => {
    const digits = (min: number, max: number) =>
      fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((d) => d.join(''));
    const integer = fc.oneof(
      fc.constant('0'),
      fc.tuple(fc.constantFrom(...'123456789'), digits(0, 22)).map(([a, b]) => a + b),
    );
    const decimalText = fc
      .tuple(fc.boolean(), integer, fc.option(digits(1, 20), { nil: undefined }))
      .map(([negative, i, f]) => `${negative ? '-' : ''}${i}${f === undefined ? '' : `.${f}`}`);
    const odd = fc.constantFrom(
      '-0',
      '-0.000',
      '0.000001',
      '0.0000001',
      '0.00000100',
      '1e5',
      '',
      '-',
      '.5',
      '5.',
      '00.5',
      'NaN',
      '1.5.2',
    );
    fc.assert(
      fc.property(fc.oneof(decimalText, odd), (text) => assert.equal(numberText(text), String(Number(text)))),
      { numRuns: 20_000 },
    );
    assert.equal(numberText(null), '0');
  });

  it('ends the JSON export as one array, however its text is cut into chunks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 4 })), { maxLength: 4 }),
        fc.array(fc.nat(40), { maxLength: 12 }),
        async (objects, cuts) => {
          const text = Buffer.from(ROW_FORMATS.json.header + objects.map((o) => `${JSON.stringify(o)},\n`).join(''));
          const at = [...new Set(cuts.map((c) => Math.min(c, text.length)))].sort((a, b) => a - b);
          const chunks = [0, ...at].map((from, i) => text.subarray(from, at[i] ?? text.length));
          const out: Buffer[] = [];
          await pipeline(
            Readable.from(chunks),
            jsonArray(),
            new Writable({
              write: (chunk, _e, done) => {
                out.push(chunk);
                done();
              },
            }),
          );
          const array = Buffer.concat(out).toString();
          assert.equal(
            array,
            `[\n${objects.map((o) => JSON.stringify(o)).join(',\n')}${objects.length ? '\n' : ''}]\n`,
          );
          assert.deepEqual(JSON.parse(array), JSON.parse(JSON.stringify(objects)));
        },
      ),
      { numRuns: 300 },
    );
  });
});
