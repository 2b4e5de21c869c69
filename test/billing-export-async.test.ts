// Asynchronous exports of a 1,000-customer month: requested with POST …/exports (202 and an
// operation to poll), written by the hub's export worker into files of at most PART_ROWS rows,
// whose manifest sums exactly to the invoices; files fetched with range requests (a download cut
// half-way resumes), readable only in the scope that requested them; a job whose process died
// (its lease ran out) is finished by the worker of another; expired exports answer 410.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Decimal } from 'decimal.js';
import pg from 'pg';
import { request } from 'undici';
import { withDatabase } from '../src/db/database.ts';
import { cli } from './helpers/cli.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const V = 'api-version=2026-11-01';
const CUSTOMERS = 1000;
const PART_ROWS = 700;
const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const VM_HOURS = '6dab500f-a4fd-49c4-956d-229bb9c8c793';

interface Manifest {
  files: { url: string; rows: number; bytes: number; sha256: string }[];
  rows: number;
  totals: { invoices: number; billedCost: string; subtotal: string; tax: string; total: string; currency: string };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('asynchronous exports', () => {
  let t: TestSystem;
  let db: pg.Client;
  let csp: string;
  let outsider: CustomerWithSubscription;
  let outsiderToken: string;
  /** The customers' FOCUS export of the first test and its first file, which the CLI's must equal. */
  let customersExport: Manifest;
  let firstFile: Buffer | undefined;
  const exportsUrl = () => `${t.b.hub.arm}/providers/Stackledger.Billing/exports?${V}`;

  /** Requests an export as `token` and polls its operation until it is done. */
  const exportDone = async (body: Record<string, string>, token = csp) => {
    const posted = await t.call('POST', exportsUrl(), { token, body });
    assert.equal(posted.status, 202, JSON.stringify(posted.body));
    const operation = String(posted.headers['azure-asyncoperation']);
    assert.match(operation, /\/providers\/Stackledger\.Billing\/exports\/operations\/[0-9a-f-]{36}\?api-version=/);
    assert.match(String(posted.headers.location), /\/exports\/[0-9a-f-]{36}\?api-version=/);
    for (let i = 0; i < 600; i++) {
      const op = await t.call<{ status: string; properties: { manifest?: Manifest } }>('GET', operation, { token });
      assert.equal(op.status, 200);
      if (op.body.status === 'Succeeded') return { operation, location: String(posted.headers.location), op: op.body };
      assert.equal(op.body.status, 'InProgress', JSON.stringify(op.body));
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the export did not finish in 60 s');
  };
  const fetchFile = async (url: string, token = csp) => {
    const res = await t.http.open('GET', url, { token });
    assert.equal(res.statusCode, 200);
    return Buffer.from(await res.body.arrayBuffer());
  };

  before(async () => {
    t = await startTestSystem({
      clock: new Date('2026-01-25T00:00:00Z'),
      policies: { exports: { partRows: PART_ROWS, pollMs: 50, leaseMs: 1500 } },
    });
    csp = await t.appToken('csp', t.b.hub.arm);
    outsider = await customerWithSubscription(t, 'outsider');
    outsiderToken = await t.userToken(
      outsider.customerId,
      outsider.admin.userName,
      outsider.admin.password,
      t.b.hub.arm,
    );
    // The CSP's 1,000 customers, each a subscription with one VM running the first two days of
    // January, written straight into the hub's database (as bench/billing-run.ts seeds them).
    db = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_hub`) });
    await db.connect();
    const partner = t.b.csp.tenantId;
    const t0 = '2026-01-01T00:00:00Z';
    await db.query(
      `insert into customers (id, partner_tenant_id, commerce_id, company_name, domain, billing_profile, relationship, admin_object_id, created_at, etag)
       select md5('c' || i)::uuid, $1, md5('k' || i)::uuid, 'Customer ' || i, 'c' || i || '.bench.example', '{}', 'reseller', md5('a' || i)::uuid, $2, '1'
       from generate_series(1, ${CUSTOMERS}) i`,
      [partner, t0],
    );
    await db.query(
      `insert into subscriptions (subscription_id, tenant_id, display_name, state, created_at, offer_id, sold_by)
       select md5('s' || i)::uuid, md5('c' || i)::uuid, 'Subscription ' || i, 'Enabled', $2, 'MS-AZR-0145P', $1
       from generate_series(1, ${CUSTOMERS}) i`,
      [partner, t0],
    );
    await db.query(
      `insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, tenant_id, location, tags, received_at, batch_id)
       select 'seed', 'vm' || i, '/subscriptions/' || md5('s' || i)::uuid || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm', m.meter::uuid,
              $1::timestamptz + h * interval '1 hour', 1, m.q, md5('s' || i)::uuid, md5('c' || i)::uuid, 'local', '{}', $1::timestamptz + (h + 1) * interval '1 hour', md5('b')::uuid
       from generate_series(1, ${CUSTOMERS}) i cross join generate_series(0, 47) h
       cross join (values ('${BASE}', 2.0), ('${VM_HOURS}', 1.0)) m(meter, q)`,
      [t0],
    );
    await db.query(
      `insert into usage_attributed (source, hour, received_id, billed_subscription_id, reason, quantity, attributed_at)
       select source, hour, id, stack_subscription_id, 'linked', quantity, received_at from usage_received where source = 'seed' order by id`,
    );
    // January closes as the clock passes its end.
    const moved = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
      token: csp,
      body: { to: '2026-02-01T01:00:00Z' },
    });
    assert.ok(moved.status < 300, JSON.stringify(moved.body));
  });
  after(async () => {
    await db?.end();
    await t?.stop();
  });

  it("exports the customers' invoices in files whose rows and totals are exactly the invoices'", async () => {
    const { op, location } = await exportDone({ period: '2026-01', format: 'focus', of: 'customers' });
    const manifest = op.properties.manifest!;
    const invoices = (
      await db.query(
        `select count(*)::int as n, sum(subtotal)::text as subtotal, sum(tax)::text as tax, sum(total)::text as total,
                (select count(*)::int from invoice_lines l join invoices i on i.id = l.invoice_id where i.stream = 'customer' and i.period = '2026-01') as lines
         from invoices where stream = 'customer' and period = '2026-01' and seller = $1`,
        [t.b.csp.tenantId],
      )
    ).rows[0];
    assert.ok(invoices.n >= CUSTOMERS, `${invoices.n} invoices`);
    assert.deepEqual(
      {
        invoices: manifest.totals.invoices,
        subtotal: manifest.totals.subtotal,
        tax: manifest.totals.tax,
        total: manifest.totals.total,
      },
      { invoices: invoices.n, subtotal: invoices.subtotal, tax: invoices.tax, total: invoices.total },
    );
    assert.equal(manifest.rows, invoices.lines);
    assert.equal(manifest.files.length, Math.ceil(invoices.lines / PART_ROWS));
    assert.equal(
      manifest.files.reduce((n, f) => n + f.rows, 0),
      manifest.rows,
    );
    // Each file: its bytes and sha256 as the manifest says, a header and its rows, and the
    // BilledCost (the first column) of all of them adds up to the invoices' subtotal.
    let billed = new Decimal(0);
    const bodies: Buffer[] = [];
    customersExport = manifest;
    for (const f of manifest.files) {
      const body = await fetchFile(f.url);
      bodies.push(body);
      firstFile ??= body;
      assert.equal(body.length, f.bytes);
      assert.equal(sha256(body), f.sha256);
      const lines = body.toString('utf8').trimEnd().split('\n');
      assert.match(lines[0], /^BilledCost,/);
      assert.equal(lines.length - 1, f.rows);
      for (const line of lines.slice(1)) billed = billed.plus(line.slice(0, line.indexOf(',')));
    }
    assert.equal(billed.toFixed(2), invoices.subtotal);
    assert.equal(manifest.totals.billedCost, invoices.subtotal);
    // The same rows, in the same order and bytes, as the streamed export.
    const streamed = await fetchFile(
      `${t.b.hub.arm}/providers/Stackledger.Billing/exports?${V}&period=2026-01&format=focus&stream=customer`,
    );
    const header = bodies[0].subarray(0, bodies[0].indexOf(10) + 1);
    const joined = Buffer.concat([bodies[0], ...bodies.slice(1).map((b) => b.subarray(header.length))]);
    assert.ok(joined.equals(streamed), 'the files, less their repeated headers, are the streamed export');
    // The export itself (the Location) answers 200 with the same manifest.
    const done = await t.call<{ properties: { status: string; manifest: Manifest } }>('GET', location, {
      token: csp,
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.properties.status, 'Succeeded');
    assert.deepEqual(done.body.properties.manifest, manifest);
  });

  it("exports the provider's invoice as JSON files that sum to it", async () => {
    const { op } = await exportDone({ period: '2026-01', format: 'json', of: 'provider' });
    const manifest = op.properties.manifest!;
    const invoice = (
      await db.query(
        `select total::text, subtotal::text, (select count(*)::int from invoice_lines where invoice_id = i.id) as lines
         from invoices i where stream = 'partner' and period = '2026-01' and buyer_id = $1 and kind = 'invoice'`,
        [t.b.csp.tenantId],
      )
    ).rows[0];
    assert.ok(invoice.lines >= CUSTOMERS * 4, `${invoice.lines} lines`);
    assert.equal(manifest.totals.total, invoice.total);
    assert.equal(manifest.rows, invoice.lines);
    let billed = new Decimal(0);
    for (const f of manifest.files) {
      const items = JSON.parse((await fetchFile(f.url)).toString('utf8')) as { billingPreTaxTotal: number }[];
      assert.equal(items.length, f.rows);
      for (const item of items) billed = billed.plus(item.billingPreTaxTotal);
    }
    assert.equal(billed.toFixed(2), invoice.subtotal);
  });

  it('resumes a download cut off half-way with a range request', async () => {
    const { op } = await exportDone({ period: '2026-01', format: 'recon', of: 'provider' });
    const f = op.properties.manifest!.files[0];
    const whole = await fetchFile(f.url);
    // Cut the connection once half the file has arrived.
    const half = Math.floor(f.bytes / 2);
    const controller = new AbortController();
    const res = await request(f.url, {
      headers: { authorization: `Bearer ${csp}` },
      dispatcher: t.dispatcher,
      signal: controller.signal,
    });
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.equal(res.headers.etag, `"${f.sha256}"`);
    const received: Buffer[] = [];
    let got = 0;
    await assert.rejects(async () => {
      for await (const chunk of res.body) {
        received.push(chunk as Buffer);
        got += (chunk as Buffer).length;
        if (got >= half) controller.abort();
      }
    });
    const kept = Buffer.concat(received).subarray(0, half);
    const rest = await t.http.open('GET', f.url, {
      token: csp,
      headers: { range: `bytes=${half}-`, 'if-range': `"${f.sha256}"` },
    });
    assert.equal(rest.statusCode, 206);
    assert.equal(rest.headers['content-range'], `bytes ${half}-${f.bytes - 1}/${f.bytes}`);
    const resumed = Buffer.concat([kept, Buffer.from(await rest.body.arrayBuffer())]);
    assert.ok(resumed.equals(whole), 'the resumed download is the file, byte for byte');
    assert.equal(sha256(resumed), f.sha256);
    // An If-Range naming another version gets the whole file; a range past its end, 416.
    const stale = await t.http.open('GET', f.url, {
      token: csp,
      headers: { range: `bytes=${half}-`, 'if-range': '"0000"' },
    });
    assert.equal(stale.statusCode, 200);
    assert.equal(Buffer.from(await stale.body.arrayBuffer()).length, f.bytes);
    const beyond = await t.call('GET', f.url, { token: csp, headers: { range: `bytes=${f.bytes + 10}-` } });
    assert.equal(beyond.status, 416);
    assert.equal((beyond.body as { error: { code: string } }).error.code, 'RangeNotSatisfiable');
    assert.equal(beyond.headers['content-range'], `bytes */${f.bytes}`);
  });

  it('the CLI exports with --async into a folder, finishing a partly downloaded file', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'stackledger-export-'));
    try {
      const prefix = 'stackledger-customers-focus-2026-01';
      // A download of the first file that stopped half-way (the same bytes as the first test's).
      const whole = firstFile!;
      await writeFile(path.join(out, `${prefix}-00001.csv.part`), whole.subarray(0, Math.floor(whole.length / 2)));
      const args = ['billing', 'export', '--period', '2026-01', '--format', 'focus', '--of', 'customers'];
      const r = await cli([...args, '--async', '--out', out, '--json', '--data', t.dataDir]);
      assert.equal(r.code, 0, r.stderr);
      const manifest = JSON.parse(r.stdout) as Manifest;
      const files = (await readdir(out)).sort();
      assert.deepEqual(
        files,
        manifest.files.map((_, i) => `${prefix}-${String(i + 1).padStart(5, '0')}.csv`),
      );
      for (const [i, f] of manifest.files.entries())
        assert.equal(sha256(await readFile(path.join(out, files[i]))), f.sha256);
      assert.deepEqual(
        manifest.files.map((f) => f.sha256),
        customersExport.files.map((f) => f.sha256),
      );
      assert.deepEqual(manifest.totals, customersExport.totals);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('shows an export, its operation and its files to no one outside the scope that asked for it', async () => {
    const { operation, location, op } = await exportDone({ period: '2026-01', format: 'recon', of: 'provider' });
    const file = op.properties.manifest!.files[0].url;
    for (const url of [operation, location, file]) {
      const r = await t.call('GET', url, { token: outsiderToken });
      assert.equal(r.status, 404, url);
      assert.equal((r.body as { error: { code: string } }).error.code, 'ExportNotFound');
    }
    // The outsider's own export of its invoices is its own: the CSP's scope of customers differs.
    const own = await exportDone({ period: '2026-01', format: 'recon', of: 'customers' }, outsiderToken);
    const mine = await db.query(
      `select total::text from invoices where stream = 'customer' and period = '2026-01' and buyer_id = $1`,
      [outsider.customerId],
    );
    assert.equal(own.op.properties.manifest!.totals.invoices, mine.rows.length, 'its own invoices only');
    const theirs = await t.call('GET', own.operation, { token: csp });
    assert.equal(theirs.status, 404);
  });

  it('refuses bad input with ARM errors and changes nothing', async () => {
    const before = (await db.query('select count(*)::int as n from export_jobs')).rows[0].n;
    const cases: [Record<string, unknown>, number, string, string?][] = [
      [{ period: '2026-01', format: 'xml', of: 'customers' }, 400, 'InvalidExportFormat'],
      [{ period: '2026-13', format: 'focus' }, 400, 'InvalidBillingPeriod'],
      [{ period: 'January', format: 'focus' }, 400, 'InvalidBillingPeriod'],
      [{ period: '2026-01', of: 'everyone' }, 400, 'InvalidStream'],
      [{ period: '2026-01', of: 'customers', customerId: 'x' }, 400, 'InvalidCustomerId'],
      [{ format: 'focus' }, 400, ''],
      [{ period: '2026-01', of: 'provider' }, 403, 'AuthorizationFailed', 'outsider'],
    ];
    for (const [body, status, code, who] of cases) {
      const r = await t.call('POST', exportsUrl(), { token: who ? outsiderToken : csp, body });
      assert.equal(r.status, status, JSON.stringify({ body, answer: r.body }));
      const error = (r.body as { error: { code: string; message: string } }).error;
      assert.ok(error.message, JSON.stringify(r.body));
      if (code) assert.equal(error.code, code);
    }
    assert.equal((await db.query('select count(*)::int as n from export_jobs')).rows[0].n, before);
    const base = `${t.b.hub.arm}/providers/Stackledger.Billing/exports`;
    for (const url of [`${base}/not-a-guid?${V}`, `${base}/operations/${randomUUID()}?${V}`]) {
      const r = await t.call('GET', url, { token: csp });
      assert.equal(r.status, 404);
    }
    const { op } = await exportDone({ period: '2026-01', format: 'recon', of: 'provider' });
    const files = op.properties.manifest!.files;
    for (const n of ['0', String(files.length + 1), 'x', '99999999999']) {
      const r = await t.call('GET', files[0].url.replace('/files/1?', `/files/${n}?`), { token: csp });
      assert.equal(r.status, 404, n);
    }
  });

  it('finishes a job whose process died: another takes it over once its lease runs out, writing its files afresh', async () => {
    const id = randomUUID();
    const dir = path.join(t.dataDir, 'exports', id);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'part-00001.csv'), 'what a killed process left half-written');
    // Claimed by a process that has since died: its lease runs out a second from now.
    const scope = { stream: 'partner', buyerId: t.b.csp.tenantId };
    const selection = { ...scope, period: '2026-01', kind: 'invoice' };
    await db.query(
      `insert into export_jobs (id, requested_by, scope, selection, period, format, export_of, status, rows_done, attempts, lease_id, leased_until, created_at)
       values ($1, 'a killed process', $2, $3, '2026-01', 'recon', 'provider', 'Running', 123, 1, gen_random_uuid(), now() + interval '1 second', $4)`,
      [id, JSON.stringify(scope), JSON.stringify(selection), new Date('2026-02-01T01:00:00Z')],
    );
    const operation = `${t.b.hub.arm}/providers/Stackledger.Billing/exports/operations/${id}?${V}`;
    await new Promise((r) => setTimeout(r, 300));
    const held = await t.call<{ status: string }>('GET', operation, { token: csp });
    assert.equal(held.body.status, 'InProgress', 'a live lease is not taken over');
    let op: { status: string; properties: { manifest?: Manifest } } | undefined;
    for (let i = 0; i < 300 && op?.status !== 'Succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      op = (await t.call<typeof op & object>('GET', operation, { token: csp })).body;
    }
    assert.equal(op?.status, 'Succeeded');
    const row = (await db.query('select attempts from export_jobs where id = $1', [id])).rows[0];
    assert.equal(row.attempts, 2);
    const reference = await exportDone({ period: '2026-01', format: 'recon', of: 'provider' });
    const taken = op!.properties.manifest!;
    assert.deepEqual(
      taken.files.map((f) => f.sha256),
      reference.op.properties.manifest!.files.map((f) => f.sha256),
    );
    assert.equal(sha256(await fetchFile(taken.files[0].url)), taken.files[0].sha256);
    // What the killed process left is gone: only the finishing attempt's folder remains.
    const left = await readdir(dir, { recursive: true });
    assert.ok(!left.includes('part-00001.csv'), 'the half-written file was removed');
    assert.equal(left.filter((f) => f.endsWith('.csv')).length, taken.files.length);
  });

  it('keeps the files for the retention, then answers ExportExpired and removes them', async () => {
    const { operation, op } = await exportDone({ period: '2026-01', format: 'recon', of: 'provider' });
    const id = operation.split('/operations/')[1].split('?')[0];
    await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
      token: csp,
      body: { to: '2026-02-02T02:00:00Z' },
    });
    for (const url of [operation, op.properties.manifest!.files[0].url]) {
      const r = await t.call('GET', url, { token: csp });
      assert.equal(r.status, 410, url);
      assert.equal((r.body as { error: { code: string } }).error.code, 'ExportExpired');
    }
    await assert.rejects(readdir(path.join(t.dataDir, 'exports', id)), 'its files are gone');
  });

  it("names a subscription beyond its buyer's, asked while the file's COPY runs, as the streamed export does", async () => {
    // Customer 1's subscription now belongs to no customer of the CSP (as one moved away would): its
    // name is not among those read when each invoice begins, and is asked when its lines come.
    const moved = "md5('s' || 1)::uuid";
    const owner = await db.query(`select tenant_id::text from subscriptions where subscription_id = ${moved}`);
    await db.query(`update subscriptions set tenant_id = gen_random_uuid() where subscription_id = ${moved}`);
    try {
      const { op } = await exportDone({ period: '2026-01', format: 'focus', of: 'customers' });
      const bodies = await Promise.all(op.properties.manifest!.files.map((f) => fetchFile(f.url)));
      const header = bodies[0].subarray(0, bodies[0].indexOf(10) + 1);
      const joined = Buffer.concat([bodies[0], ...bodies.slice(1).map((b) => b.subarray(header.length))]);
      assert.ok(joined.includes(',Subscription 1\n'), "the moved subscription's rows name it");
      const streamed = await fetchFile(
        `${t.b.hub.arm}/providers/Stackledger.Billing/exports?${V}&period=2026-01&format=focus&stream=customer`,
      );
      assert.ok(joined.equals(streamed), 'the files, less their repeated headers, are the streamed export');
    } finally {
      await db.query(`update subscriptions set tenant_id = $1 where subscription_id = ${moved}`, [
        owner.rows[0].tenant_id,
      ]);
    }
  });
});
