// The exports' bytes, pinned: every format and stream of invoices whose lines cover the awkward
// cases (late usage, credits and adjustments, unknown meters and names, malformed and nested
// resource ids, names that CSV must quote, tiny and huge quantities) answers exactly the file in
// test/fixtures/exports (the CSP's tenant id, new in each run, written there as {csp}).
// `UPDATE_EXPORT_FIXTURES=1` rewrites the files from what the server answers.
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';
import { REPO } from './helpers/repo.ts';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'exports');
const CUSTOMER = 'c1000000-0000-4000-8000-000000000001';
const UNKNOWN_CUSTOMER = 'c1000000-0000-4000-8000-0000000000ff';
const NAMED_SUB = 'a1000000-0000-4000-8000-000000000001';
const UNNAMED_SUB = 'a1000000-0000-4000-8000-000000000002';
const BASE_VM = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const BLOB = '09f8879e-87e9-4305-a572-4b7be209f857';
const DYNAMIC_IP = '9e2739ba-8674-4796-b465-f64674b822ba';
const UNKNOWN_METER = '11111111-2222-3333-4444-555555555555';

/** The lines every fixture invoice has: [type, customer, subscription, meter, uri, location, from, to, tier, quantity, unit price, amount, description]. */
const LINES: (string | number | null)[][] = [
  [
    'usage',
    CUSTOMER,
    NAMED_SUB,
    BASE_VM,
    '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1',
    'local',
    '2026-01-05',
    '2026-01-05',
    1,
    '48',
    '0.008',
    '0.38',
    null,
  ],
  [
    'late usage',
    CUSTOMER,
    UNNAMED_SUB,
    BLOB,
    '/subscriptions/x/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/vn/subnets/s1',
    'local',
    '2025-12-31',
    '2026-01-03',
    2,
    '0.0000005',
    '1234.5',
    '0',
    null,
  ],
  [
    'usage',
    UNKNOWN_CUSTOMER,
    NAMED_SUB,
    UNKNOWN_METER,
    'not/a/resource',
    null,
    '2026-01-06',
    '2026-01-06',
    1,
    '1234567.123456789',
    '0.000001',
    '1.23',
    null,
  ],
  ['credit', CUSTOMER, null, null, null, null, null, null, null, null, null, '-5', 'Goodwill, "sorry"'],
  ['adjustment', CUSTOMER, NAMED_SUB, null, null, null, null, null, null, null, null, '2.5', null],
  ['usage', CUSTOMER, NAMED_SUB, DYNAMIC_IP, null, 'local', '2026-01-31', '2026-01-31', 1, '0.00005', '0.5', '0', null],
  [
    'usage',
    CUSTOMER,
    NAMED_SUB,
    BASE_VM,
    '/subscriptions/x',
    'local',
    '2026-01-07',
    '2026-01-07',
    1,
    '1000000000000000',
    '0',
    '0',
    null,
  ],
  [
    'usage',
    CUSTOMER,
    NAMED_SUB,
    BASE_VM,
    '//Subscriptions//X//resourcegroups/Rg2//providers/Ns.A/t/n/',
    'local',
    '2026-01-08',
    '2026-01-08',
    1,
    '-2.5',
    '0.1',
    '-0.25',
    null,
  ],
  [
    'usage',
    CUSTOMER,
    NAMED_SUB,
    BASE_VM,
    '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute',
    'local',
    '2026-01-09',
    '2026-01-09',
    3,
    '0.1',
    '0.123456',
    '12345678.91',
    null,
  ],
];

const EXPORTS: { name: string; query: string }[] = [
  { name: 'partner-recon.csv', query: 'format=recon' },
  { name: 'partner-recon-customer.csv', query: `format=recon&customerId=${CUSTOMER}` },
  { name: 'partner-focus.csv', query: 'format=focus' },
  { name: 'partner-json.json', query: 'format=json' },
  { name: 'customer-recon.csv', query: 'format=recon&stream=customer' },
  { name: 'customer-focus.csv', query: 'format=focus&stream=customer' },
  { name: 'customer-json.json', query: 'format=json&stream=customer' },
  { name: 'empty-focus.csv', query: 'format=focus&stream=customer&customerId=c1000000-0000-4000-8000-0000000000ee' },
  { name: 'empty-json.json', query: 'format=json&stream=customer&customerId=c1000000-0000-4000-8000-0000000000ee' },
];

describe('exports, byte for byte', () => {
  let t: TestSystem;

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-02-01T00:00:00Z') });
    const csp = t.b.csp.tenantId;
    const db = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await db.connect();
    await db.query(
      `insert into customers (id, partner_tenant_id, commerce_id, company_name, domain, billing_profile, relationship, admin_object_id, created_at, etag)
       values ($1, $2, gen_random_uuid(), 'Contoso, "Ltd"', 'contoso.example', '{}', 'reseller', gen_random_uuid(), now(), 'e')`,
      [CUSTOMER, csp],
    );
    await db.query(
      `insert into subscriptions (subscription_id, tenant_id, display_name, state, created_at) values ($1, $2, e'Prod\\nline', 'Enabled', now())`,
      [NAMED_SUB, CUSTOMER],
    );
    const invoices = [
      ['99999999-0000-0000-0000-0000000000a1', 'G900000001', 'partner', 'invoice', 'provider', csp],
      ['99999999-0000-0000-0000-0000000000a2', 'CN900000002', 'partner', 'credit_note', 'provider', csp],
      ['99999999-0000-0000-0000-0000000000a3', 'G900000003', 'customer', 'invoice', csp, CUSTOMER],
      ['99999999-0000-0000-0000-0000000000a4', 'CN900000004', 'customer', 'credit_note', csp, CUSTOMER],
    ];
    for (const [id, number, stream, kind, seller, buyer] of invoices) {
      await db.query(
        `insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark, invoice_date, currency, subtotal, tax_rate, tax, total, created_at)
         values ($1, $2, $3, $4, $5, $6, '2026-01', '2026-01-01', '2026-02-01', 0, 0, '2026-02-01', 'USD', 0, 0, 0, 0, '2026-02-01')`,
        [id, number, stream, kind, seller, buyer],
      );
      for (const [n, line] of LINES.entries())
        await db.query(
          // with the resource id's parts, as a close writes them (migration 0691)
          `insert into invoice_lines (invoice_id, line_no, line_type, customer_id, subscription_id, meter_id, resource_uri, location, usage_date, usage_to, tier, quantity, unit_price, amount, description, reason, created_by, buyer_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
          [
            id,
            n + 1,
            ...line,
            line[0] === 'credit' ? 'a reason' : null,
            line[0] === 'credit' ? 'admin@csp' : null,
            buyer,
          ],
        );
    }
    await db.end();
  });
  after(async () => t?.stop());

  for (const e of EXPORTS)
    it(`answers ${e.name}`, async () => {
      const token = await t.appToken('csp', t.b.hub.arm);
      const res = await t.http.open(
        'GET',
        `${t.b.hub.arm}/providers/Stackledger.Billing/exports?api-version=2026-11-01&period=2026-01&${e.query}`,
        { token },
      );
      assert.equal(res.statusCode, 200);
      const chunks: Buffer[] = [];
      for await (const chunk of res.body) chunks.push(chunk as Buffer);
      const got = Buffer.concat(chunks).toString('utf8').replaceAll(t.b.csp.tenantId, '{csp}');
      const file = path.join(FIXTURES, e.name);
      if (process.env.UPDATE_EXPORT_FIXTURES) {
        await mkdir(FIXTURES, { recursive: true });
        await writeFile(file, got);
      }
      assert.equal(got, await readFile(file, 'utf8'));
    });
});
