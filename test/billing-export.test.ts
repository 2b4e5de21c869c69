// Exports are streamed: an invoice of 400,000 lines leaves the server as a FOCUS CSV of some
// 200 MB while the (in-process) server's heap stays flat. The 10-million-line figure is in
// BENCHMARKS.md (`npm run bench -- export`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { rangeSelect } from '../src/billing/export-lines.ts';
import { EXPORT_FORMATS, type InvoiceToExport, prepareExport } from '../src/billing/exports.ts';
import { startTestSystem, type TestSystem, withHubDatabase } from './helpers/system.ts';

const LINES = 400_000;
/** Three of the export's ranges of lines (LINE_RANGE). */
const RANGES_LINES = 150_000;

/**
 * A closed invoice of `buyer` for a month of 31 days (YYYY-MM), of `lines` usage lines written
 * straight into the hub's database, line i of vm i; `subscription` is each line's, as SQL of i,
 * and `resource` its resource id (all under one parent unless it says otherwise).
 */
async function closedInvoice(
  db: pg.Client,
  buyer: string,
  o: { id: string; number: string; period: string; lines: number; subscription: string; resource?: string },
): Promise<void> {
  const start = `${o.period}-01`;
  const end = new Date(Date.parse(`${start}T00:00:00Z`) + 31 * 86_400_000).toISOString().slice(0, 10);
  await db.query(
    `insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark, invoice_date, currency, subtotal, tax_rate, tax, total, created_at)
     values ($2, $3, 'partner', 'invoice', 'provider', $1, $4, $5, $6, 0, 0, $6, 'USD', 0, 0, 0, 0, $6)`,
    [buyer, o.id, o.number, o.period, start, end],
  );
  await db.query(
    `insert into invoice_lines (buyer_id, invoice_id, line_no, line_type, customer_id, subscription_id, meter_id, resource_uri, location, usage_date, usage_to, tier, quantity, unit_price, amount)
     select $1, $2, i, 'usage', $1, ${o.subscription}, 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5',
            ${o.resource ?? `'/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm' || i`}, 'local',
            $3::date + (i % 31), $3::date + (i % 31), 1, 48, 0.008, 0.38
     from generate_series(1, ${o.lines}) i`,
    [buyer, o.id, start],
  );
}

/**
 * How many rows of a period's FOCUS export name each SubAccountName (its last column), read as
 * the export streams; `rename` runs once, while the first of its ranges is read (the answer waits
 * for this reader).
 */
async function subAccountNames(t: TestSystem, period: string, rename: () => Promise<unknown>) {
  const token = await t.appToken('csp', t.b.hub.arm);
  const res = await t.http.open(
    'GET',
    `${t.b.hub.arm}/providers/Stackledger.Billing/exports?api-version=2026-11-01&period=${period}&format=focus`,
    { token },
  );
  assert.equal(res.statusCode, 200);
  let rows = -1; // the header first
  let renamed = false;
  const names = new Map<string, number>();
  let rest = '';
  for await (const chunk of res.body) {
    const lines = (rest + (chunk as Buffer).toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (rows++ < 0) continue;
      const subAccountName = line.slice(line.lastIndexOf(',') + 1);
      names.set(subAccountName, (names.get(subAccountName) ?? 0) + 1);
    }
    if (!renamed && rows > 1000) {
      await rename();
      renamed = true;
    }
  }
  assert.ok(renamed, 'renamed midway');
  return [...names];
}

/** What stays alive, measured after a full collection (test/run.ts runs node with --expose-gc). */
function liveHeap(): number {
  global.gc!();
  return process.memoryUsage().heapUsed;
}

/** Samples the live heap until `stop`, which answers how much it grew at its peak and how much it kept, in MB. */
function watchHeap() {
  const before = liveHeap();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, liveHeap());
  }, 250);
  return {
    stop() {
      clearInterval(sampler);
      return { grew: (peak - before) / 1e6, kept: (liveHeap() - before) / 1e6 };
    },
  };
}

describe('a large export, streamed', () => {
  let t: TestSystem;

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-02-01T00:00:00Z') });
    // A closed invoice of the CSP with LINES lines, written straight into the hub's database.
    await withHubDatabase(t, (db) =>
      closedInvoice(db, t.b.csp.tenantId, {
        id: '99999999-0000-0000-0000-0000000000aa',
        number: 'G900000001',
        period: '2026-01',
        lines: LINES,
        subscription: `md5('s' || (i % 1000))::uuid`,
      }),
    );
  });
  after(async () => t?.stop());

  it('keeps the heap flat while hundreds of megabytes go out', async () => {
    const token = await t.appToken('csp', t.b.hub.arm);
    const heap = watchHeap();
    const res = await t.http.open(
      'GET',
      `${t.b.hub.arm}/providers/Stackledger.Billing/exports?api-version=2026-11-01&period=2026-01&format=focus`,
      { token },
    );
    assert.equal(res.statusCode, 200);
    let bytes = 0;
    let rows = -1; // the header first
    let outOfOrder = 0;
    let rest = '';
    for await (const chunk of res.body) {
      bytes += chunk.length;
      const text = rest + (chunk as Buffer).toString();
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      // each line in line-number order: line n is vm n's
      for (const line of lines) if (rows++ >= 0 && !line.includes(`/virtualMachines/vm${rows},`)) outOfOrder++;
    }
    const { grew } = heap.stop();
    assert.equal(rest, '');
    assert.equal(rows, LINES, 'a header and every line');
    assert.equal(outOfOrder, 0, 'every line in order');
    assert.ok(bytes > 150e6, `${Math.round(bytes / 1e6)} MB exported`);
    assert.ok(grew < 40, `the live heap grew by ${Math.round(grew)} MB while ${Math.round(bytes / 1e6)} MB streamed`);
  });

  it("keeps none of the lines' text once the exports end, whatever their values (a subscription's run each)", async () => {
    // An invoice as a close numbers it: each subscription's lines together, each subscription a
    // resource parent of its own. Every value an export reads is cut from a 64 kB chunk of its
    // COPY's answer; one kept past the export (a parent's resource type, a run's text by
    // subscription) kept its whole chunk alive: 110 MB after these exports of 2,000 subscriptions.
    const subscriptions = 2000;
    await withHubDatabase(t, async (db) => {
      await db.query(
        `insert into subscriptions (subscription_id, tenant_id, display_name, state, created_at, offer_id, sold_by)
         select md5('runs' || n)::uuid, $1, 'Runs ' || n, 'Enabled', now(), 'MS-AZR-0145P', $1 from generate_series(0, $2 - 1) n`,
        [t.b.csp.tenantId, subscriptions],
      );
      await closedInvoice(db, t.b.csp.tenantId, {
        id: '99999999-0000-0000-0000-0000000000ee',
        number: 'G900000004',
        period: '2025-10',
        lines: RANGES_LINES,
        subscription: `md5('runs' || ((i - 1) * ${subscriptions} / ${RANGES_LINES}))::uuid`,
        resource: `'/subscriptions/' || md5('runs' || ((i - 1) * ${subscriptions} / ${RANGES_LINES}))::uuid || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm' || (i / 31)`,
      });
    });
    const token = await t.appToken('csp', t.b.hub.arm);
    const heap = watchHeap();
    for (const format of ['focus', 'recon', 'json']) {
      const res = await t.http.open(
        'GET',
        `${t.b.hub.arm}/providers/Stackledger.Billing/exports?api-version=2026-11-01&period=2025-10&format=${format}`,
        { token },
      );
      assert.equal(res.statusCode, 200);
      let lines = 0;
      for await (const chunk of res.body) for (const byte of chunk as Buffer) if (byte === 10) lines++;
      assert.ok(lines > RANGES_LINES, `${format}: every line (${lines})`);
    }
    const { grew, kept } = heap.stop();
    assert.ok(kept < 16, `the live heap kept ${Math.round(kept)} MB after three exports`);
    assert.ok(grew < 40, `the live heap grew by ${Math.round(grew)} MB while they streamed`);
  });

  it("reads a range of lines by the key's index, in its order, by one process, once the lines are analyzed", async () => {
    await withHubDatabase(t, async (db) => {
      await db.query('analyze invoice_lines');
      await db.query('begin transaction isolation level repeatable read, read only');
      // Costs under which the key's index looks dear, as the bench's invoice's statistics made it
      // look (its ranges were read by a bitmap scan and sorted on disk, on three processes).
      await db.query('set local random_page_cost = 100');
      await prepareExport(db);
      const invoice = { id: '99999999-0000-0000-0000-0000000000aa', stream: 'partner' } as InvoiceToExport;
      const plans = [];
      for (const format of EXPORT_FORMATS) {
        const explained = await db.query(`explain ${rangeSelect(format, invoice, { after: 100_000, to: 150_000 })}`);
        plans.push(explained.rows.map((r) => r['QUERY PLAN']).join('\n'));
      }
      await db.query('rollback');
      for (const plan of plans) {
        assert.match(plan, /Index Scan using invoice_lines_pkey/, plan);
        assert.doesNotMatch(plan, /Sort|Gather|Bitmap/, plan);
      }
    });
  });

  it('gives its connection back when the client goes away midway', async () => {
    const token = await t.appToken('csp', t.b.hub.arm);
    const url = `${t.b.hub.arm}/providers/Stackledger.Billing/exports?api-version=2026-11-01&period=2026-01&format=focus`;
    // More aborted downloads than the hub's pool has connections (10): a connection kept by any
    // of them would leave the last ones, and everything after, waiting.
    for (let n = 0; n < 12; n++) {
      const res = await t.http.open('GET', url, { token });
      assert.equal(res.statusCode, 200);
      for await (const _chunk of res.body) break; // the first chunk, then the client hangs up
    }
    await withHubDatabase(t, async (db) => {
      // The server's COPY ends with its connection.
      let copying = -1;
      for (let tries = 0; tries < 50 && copying !== 0; tries++) {
        if (tries > 0) await new Promise((r) => setTimeout(r, 100));
        const r = await db.query(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'copy (%' and pid <> pg_backend_pid()`,
        );
        copying = r.rows[0].n;
      }
      assert.equal(copying, 0, 'no COPY still runs for a client that went away');
    });
    const res = await t.http.open('GET', url.replace('format=focus', 'format=json'), { token });
    assert.equal(res.statusCode, 200);
    let lines = 0;
    for await (const chunk of res.body) for (const byte of chunk as Buffer) if (byte === 10) lines++;
    assert.equal(lines, LINES + 2, 'the pool still serves a whole export: "[", every line, "]"');
  });

  it('exports every invoice of a selection of more invoices than a page of them (1,000), each once', async () => {
    const invoices = 2_345;
    await withHubDatabase(t, async (db) => {
      // The CSP's invoices to as many customers, of a line each (a period's one invoice per buyer).
      await db.query(
        `with made as (
           insert into invoices (id, number, stream, kind, seller, buyer_id, period, period_start, period_end, watermark, adjustment_watermark, invoice_date, currency, subtotal, tax_rate, tax, total, created_at)
           select gen_random_uuid(), 'C8' || lpad(i::text, 8, '0'), 'customer', 'invoice', $2, gen_random_uuid(), '2025-09', '2025-09-01', '2025-10-01', 0, 0,
                  '2025-10-01', 'USD', 0, 0, 0, 0, '2025-10-01'
           from generate_series(1, $1) i
           returning id, buyer_id)
         insert into invoice_lines (buyer_id, invoice_id, line_no, line_type, customer_id, subscription_id, meter_id, resource_uri, location, usage_date, usage_to, tier, quantity, unit_price, amount)
         select buyer_id, id, 1, 'usage', buyer_id, gen_random_uuid(), 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5',
                '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm', 'local', '2025-09-01', '2025-09-01', 1, 48, 0.008, 0.38
         from made`,
        [invoices, t.b.csp.tenantId],
      );
    });
    const token = await t.appToken('csp', t.b.hub.arm);
    const res = await t.http.open(
      'GET',
      `${t.b.hub.arm}/providers/Stackledger.Billing/exports?api-version=2026-11-01&stream=customer&period=2025-09&format=json`,
      { token },
    );
    assert.equal(res.statusCode, 200);
    let text = '';
    for await (const chunk of res.body) text += (chunk as Buffer).toString();
    const numbers = (JSON.parse(text) as { invoiceNumber: string }[]).map((r) => r.invoiceNumber);
    assert.equal(numbers.length, invoices);
    assert.equal(new Set(numbers).size, invoices, 'each invoice once');
  });

  it('reads every range from one snapshot: a subscription renamed midway keeps its name to the end', async () => {
    await withHubDatabase(t, async (db) => {
      const named = await db.query(
        `select subscription_id::text as id, display_name as name from subscriptions where display_name <> '' limit 1`,
      );
      assert.equal(named.rowCount, 1, 'a subscription with a name');
      const { id, name } = named.rows[0];
      // An invoice of another period, its lines (three ranges) all of that subscription.
      await closedInvoice(db, t.b.csp.tenantId, {
        id: '99999999-0000-0000-0000-0000000000bb',
        number: 'G900000002',
        period: '2025-12',
        lines: RANGES_LINES,
        subscription: `'${id}'::uuid`,
      });
      const names = await subAccountNames(t, '2025-12', () =>
        db.query('update subscriptions set display_name = $2 where subscription_id = $1', [id, `${name} (renamed)`]),
      );
      assert.deepEqual(
        names,
        [[name, RANGES_LINES]],
        'every line names the subscription as it was when the export began',
      );
      await db.query('update subscriptions set display_name = $2 where subscription_id = $1', [id, name]);
    });
  });

  it("names a subscription beyond its buyer's customers as the export's snapshot has it, when a row first names it", async () => {
    await withHubDatabase(t, async (db) => {
      // A subscription of a directory that is none of the CSP's customers (as one moved away since
      // would be): not among the names read when the invoice begins, but asked when a row names it.
      const moved = '99999999-0000-0000-0000-0000000000cc';
      await db.query(
        `insert into subscriptions (subscription_id, tenant_id, display_name, state, created_at, offer_id, sold_by)
         values ($1, gen_random_uuid(), 'Moved away', 'Enabled', now(), 'MS-AZR-0145P', $2)`,
        [moved, t.b.csp.tenantId],
      );
      // Its lines come after the first 100,000 (the export's third range), the others name no subscription.
      await closedInvoice(db, t.b.csp.tenantId, {
        id: '99999999-0000-0000-0000-0000000000dd',
        number: 'G900000003',
        period: '2025-11',
        lines: RANGES_LINES,
        subscription: `case when i > 100000 then '${moved}'::uuid end`,
      });
      // Renamed while the export reads its first range, long before a row names it.
      const names = await subAccountNames(t, '2025-11', () =>
        db.query("update subscriptions set display_name = 'Moved away (renamed)' where subscription_id = $1", [moved]),
      );
      assert.deepEqual(
        names,
        [
          ['', 100_000],
          ['Moved away', RANGES_LINES - 100_000],
        ],
        'the name it had when the export began',
      );
    });
  });
});
