// An open period's preview read from one snapshot: its sums, then its lines a batch at a time from
// a cursor (the customer's `invoices/unbilled` streams them). Any batch size gives the same lines,
// the sums are the lines' sums, and a reader that stops early gives its connection back.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Decimal } from 'decimal.js';
import { PARTNER, seed } from '../bench/billing-run.ts';
import { ratedStore, type InvoiceWindow, type PreviewSums } from '../src/billing/rated-store.ts';
import type { StoredLine } from '../src/billing/store.ts';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import type { HubTables } from '../src/hub/app.ts';
import { hubMigrations } from '../src/hub/migrations.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PREFIX = `t_unbilled_preview_${Date.now()}`;

describe("an open period's preview, streamed", () => {
  const { db, pool, close } = openDatabase<HubTables>(withDatabase(testServerUrl(), PREFIX), 2);
  // The provider's open January to its partner: a line per customer, meter and day.
  const window: InvoiceWindow = {
    invoiceId: randomUUID(),
    seller: 'provider',
    buyerId: PARTNER,
    periodStart: new Date('2026-01-01T00:00:00Z'),
    periodEnd: new Date('2026-02-01T00:00:00Z'),
    taxRate: '0',
  };
  const read = async (batch: number, stopAfter = Number.POSITIVE_INFINITY) => {
    let sums: PreviewSums = [];
    const batches: StoredLine[][] = [];
    for await (const part of ratedStore.previewStream(pool, db, 'partner', window, batch)) {
      if ('sums' in part) sums = part.sums;
      else batches.push(part.lines);
      if (batches.length >= stopAfter) break;
    }
    return { sums, batches };
  };

  before(async () => {
    await ensureDatabase(withDatabase(testServerUrl(), PREFIX));
    await migrate(db, hubMigrations);
    await seed(db, 3, 24 * 10);
  });
  after(async () => {
    await close();
    await dropDatabases(PREFIX);
  });

  it('reads the same lines in any batch size, in invoice order, and sums them as its sums say', async () => {
    const whole = await read(100_000);
    const lines = whole.batches.flat();
    assert.equal(lines.length, 3 * 2 * 10, 'three customers, two meters, ten days');
    const small = await read(7);
    assert.deepEqual(
      small.batches.map((b) => b.length),
      [...Array(8).fill(7), 4],
    );
    assert.deepEqual(small.batches.flat(), lines);
    assert.deepEqual(small.sums, whole.sums);
    assert.deepEqual(
      lines.map((l) => l.line_no),
      [...lines.map((l) => l.line_no)].sort((a, b) => a - b),
    );
    const bySubscription = new Map<string | null, Decimal>();
    for (const l of lines)
      bySubscription.set(l.subscription_id, (bySubscription.get(l.subscription_id) ?? new Decimal(0)).plus(l.amount));
    assert.deepEqual(
      whole.sums.map((s) => [s.subscriptionId, new Decimal(s.amount).toFixed(2), new Decimal(s.usage).toFixed(2)]),
      [...bySubscription].map(([id, sum]) => [id, sum.toFixed(2), sum.toFixed(2)]),
    );
  });

  it('gives its connection back when its reader stops after a batch', async () => {
    for (let i = 0; i < 3; i++) {
      const { batches } = await read(5, 1);
      assert.equal(batches.length, 1);
      assert.equal(pool.totalCount - pool.idleCount, 0, 'no connection still checked out');
    }
  });
});
