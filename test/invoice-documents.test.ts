// Invoice documents: the partner center's statement and a partner's invoice to its customer as PDFs,
// read back with poppler's pdftotext: the text holds the invoice's own number and exact total, and
// only those who may read an invoice get its document.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { cli } from './helpers/cli.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const TABLE = 'b4438d5d-453b-4ee1-b42a-dc72e377f1e4';
const V = 'api-version=2026-11-01';

/** The text of a PDF, as poppler reads it (layout kept, so a line of the document stays one line). */
async function pdfText(pdf: Buffer): Promise<string> {
  const child = promisify(execFile)('pdftotext', ['-layout', '-', '-'], { encoding: 'buffer', maxBuffer: 64 << 20 });
  child.child.stdin?.end(pdf);
  return (await child).stdout.toString('utf8');
}

describe('invoice documents (PDF)', () => {
  let t: TestSystem;
  let csp: string;
  let a: CustomerWithSubscription;
  let b: CustomerWithSubscription;
  const billing = (p: string) => `${t.b.hub.arm}/providers/Stackledger.Billing/${p}`;
  // The system's webhook, told of every invoice and credit note.
  const told: Array<{ type: string; data: Record<string, string> }> = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      told.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  const toldOf = async (type: string, key: string, value: string) => {
    while (!told.some((e) => e.type === type && e.data[key] === value)) await new Promise((r) => setTimeout(r, 50));
    return told.filter((e) => e.type === type && e.data[key] === value);
  };

  /** GETs a document: its status, type and bytes. */
  const fetchPdf = async (url: string, token: string) => {
    const res = await request(url, { headers: { authorization: `Bearer ${token}` }, dispatcher: t.dispatcher });
    return {
      status: res.statusCode,
      type: String(res.headers['content-type']),
      body: Buffer.from(await res.body.arrayBuffer()),
    };
  };
  const adminOf = (c: CustomerWithSubscription) =>
    t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.arm);

  before(async () => {
    t = await startTestSystem({
      clock: new Date('2026-03-01T00:00:00Z'),
      policies: { webhooks: { allowInternalAddresses: true, pollMs: 50 } },
    });
    csp = await t.appToken('csp', t.b.hub.arm);
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hook = await t.call(
      'PUT',
      `${t.b.hub.arm}/providers/Stackledger.Notifications/webhooks/documents?api-version=2026-11-01`,
      {
        token: csp,
        body: {
          properties: {
            url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
            events: ['invoice.finalized', 'creditnote.created'],
            secret: 'documents-webhook-secret',
          },
        },
      },
    );
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    a = await customerWithSubscription(t, 'doc-a');
    b = await customerWithSubscription(t, 'doc-b');
    const ok = (res: { status: number; body: unknown }) => assert.ok(res.status < 300, JSON.stringify(res.body));
    ok(
      await t.call('PUT', `${billing(`billingProfiles/${a.customerId}`)}?${V}`, {
        token: csp,
        body: { taxRate: '20' },
      }),
    );
    ok(
      await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
        token: csp,
        body: { to: '2026-03-20T00:00:00Z' },
      }),
    );
    const usage = (subject: string, meterId: string, quantity: string, day: string) => ({
      specversion: '1.0',
      id: randomUUID(),
      source: 'urn:test:docs',
      type: 'usage',
      subject,
      time: `2026-03-${day}T10:00:00Z`,
      data: { meterId, quantity, resourceUri: `/res/${subject}/${meterId}` },
    });
    ok(
      await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?${V}`, {
        token: csp,
        body: [
          usage(a.subscriptionId, BASE, '333', '02'),
          usage(a.subscriptionId, BASE, '17.5', '03'),
          usage(a.subscriptionId, TABLE, '12.25', '04'),
          usage(b.subscriptionId, BASE, '40', '05'),
        ],
      }),
    );
    ok(
      await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
        token: csp,
        body: { to: '2026-04-01T01:00:00Z' },
      }),
    );
  });
  after(async () => {
    receiver.close();
    await t?.stop();
  });

  const invoiceOf = async (customerId: string) => {
    const list = await t.call('GET', `${billing('invoices')}?${V}&period=2026-03&customerId=${customerId}`, {
      token: csp,
    });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const [inv] = list.body.value.filter((i: { properties: { kind: string } }) => i.properties.kind === 'invoice');
    assert.ok(inv, 'March is closed into an invoice');
    return (await t.call('GET', `${billing(`invoices/${inv.name}`)}?${V}`, { token: csp })).body.properties;
  };

  it("gives the partner and the customer's admin the invoice as a PDF that holds its number and exact total", async () => {
    const inv = await invoiceOf(a.customerId);
    const url = `${billing(`invoices/${inv.invoiceNumber}/pdf`)}?${V}`;
    for (const token of [csp, await adminOf(a)]) {
      const pdf = await fetchPdf(url, token);
      assert.equal(pdf.status, 200);
      assert.equal(pdf.type, 'application/pdf');
      assert.equal(pdf.body.subarray(0, 5).toString(), '%PDF-');
      const text = await pdfText(pdf.body);
      assert.match(text, new RegExp(`Invoice ${inv.invoiceNumber}`));
      assert.match(text, new RegExp(`Total: USD ${inv.total.replace('.', '\\.')}`));
      assert.match(text, new RegExp(`Tax \\(20%\\): USD ${inv.tax.replace('.', '\\.')}`));
      assert.match(text, /doc-a Ltd/);
      assert.match(text, /Period: 2026-03-01 to 2026-03-31/);
      // Grouped: one line per meter of the subscription, with the quantities summed over days.
      assert.match(text, /350\.5/, 'the two days of Base VM hours as one line');
      assert.match(text, /12\.25/);
    }
    // The close told the system's webhook, once, with the invoice's own number and total.
    const finalized = await toldOf('invoice.finalized', 'invoiceNumber', inv.invoiceNumber);
    assert.equal(finalized.length, 1);
    assert.equal(finalized[0].data.total, inv.total);
    assert.equal(finalized[0].data.stream, 'customer');
    assert.equal(finalized[0].data.period, '2026-03');
    // Another customer's admin: the invoice does not exist for it.
    const other = await fetchPdf(url, await adminOf(b));
    assert.equal(other.status, 404);
    assert.equal(JSON.parse(other.body.toString()).error.code, 'InvoiceNotFound');
  });

  it("serves the partner center's statement of the provider's invoice", async () => {
    const pc = await t.appToken('csp', t.b.hub.partnerCenter);
    const list = await t.call('GET', `${t.b.hub.partnerCenter}/v1/invoices`, { token: pc });
    const march = list.body.items.find((i: { billingPeriodStartDate: string }) =>
      i.billingPeriodStartDate.startsWith('2026-03'),
    );
    assert.ok(march);
    const pdf = await fetchPdf(`${t.b.hub.partnerCenter}/v1/invoices/${march.id}/documents/statement`, pc);
    assert.equal(pdf.status, 200);
    assert.equal(pdf.type, 'application/pdf');
    const text = await pdfText(pdf.body);
    assert.match(text, new RegExp(`Statement ${march.id}`));
    assert.equal((await toldOf('invoice.finalized', 'invoiceNumber', march.id))[0].data.stream, 'partner');
    assert.match(text, new RegExp(`Total: USD ${march.totalCharges.toFixed(2).replace('.', '\\.')}`));
    assert.match(text, /doc-a Ltd/);
    assert.match(text, /doc-b Ltd/);
    // A customer's admin is no partner: no statement.
    const denied = await fetchPdf(
      `${t.b.hub.partnerCenter}/v1/invoices/${march.id}/documents/statement`,
      await t.userToken(a.customerId, a.admin.userName, a.admin.password, t.b.hub.partnerCenter),
    );
    assert.ok(denied.status === 403 || denied.status === 404, String(denied.status));
  });

  it('documents a credit note, naming the invoice it corrects', async () => {
    const inv = await invoiceOf(a.customerId);
    const note = await t.call('POST', `${billing('adjustments')}?${V}`, {
      token: csp,
      body: {
        customerId: a.customerId,
        kind: 'credit',
        amount: '-1.50',
        description: 'Outage on 3 March',
        reason: 'SLA credit',
        creditNoteFor: inv.invoiceNumber,
      },
    });
    assert.equal(note.status, 201, JSON.stringify(note.body));
    const pdf = await fetchPdf(`${billing(`invoices/${note.body.creditNote}/pdf`)}?${V}`, await adminOf(a));
    assert.equal(pdf.status, 200);
    const text = await pdfText(pdf.body);
    assert.match(text, new RegExp(`Credit note ${note.body.creditNote}`));
    assert.match(text, new RegExp(`Corrects invoice: ${inv.invoiceNumber}`));
    const noted = await toldOf('creditnote.created', 'creditNote', note.body.creditNote);
    assert.equal(noted[0].data.for, inv.invoiceNumber);
    assert.match(text, /Outage on 3 March/);
    const json = (await t.call('GET', `${billing(`invoices/${note.body.creditNote}`)}?${V}`, { token: csp })).body
      .properties;
    assert.match(text, new RegExp(`Total: USD ${json.total.replace('.', '\\.').replace('-', '\\-')}`));
  });

  it('writes the PDF with `stackledger billing invoice NUMBER --pdf FILE`', async () => {
    const inv = await invoiceOf(a.customerId);
    const file = path.join(t.dataDir, 'march.pdf');
    const r = await cli(['billing', 'invoice', inv.invoiceNumber, '--pdf', file, '--data', t.dataDir]);
    assert.equal(r.code, 0, r.stderr);
    const text = await pdfText(await readFile(file));
    assert.match(text, new RegExp(`Total: USD ${inv.total.replace('.', '\\.')}`));
    const open = await cli([
      'billing',
      'invoice',
      '--unbilled',
      '--customer',
      a.customerId,
      '--pdf',
      file,
      '--data',
      t.dataDir,
    ]);
    assert.equal(open.code, 2, 'the open period has no document');
  });
});
