// `stackledger demo --json`: the real command starts its own hub and stacks east and west, runs the
// seed's flow over a simulated January and prints one JSON document, checked here against sums done
// by hand (VM sizes × hours × list prices) and against the hub's ledger in its database.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { newGuid } from '../src/core/ids.ts';
import { withDatabase } from '../src/db/database.ts';
import { cli, type CliResult } from './helpers/cli.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';
import type { UndeclaredJson } from '../src/core/http-client.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const JANUARY_HOURS = 31 * 24;
// The list prices per vCPU hour (the public Azure Stack Hub prices the default price sheet holds).
const BASE_PRICE = 0.008;
const WINDOWS_PRICE = 0.046;
const cents = (n: number) => Math.round(n * 100) / 100;

describe('stackledger demo', () => {
  const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
  let dir: string;
  let run: CliResult;
  let elapsedMs: number;
  let doc: UndeclaredJson;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'stackledger-demo-test-'));
    const started = Date.now();
    run = await cli([
      'demo',
      '--json',
      '--data',
      path.join(dir, 'data'),
      '--database',
      withDatabase(testServerUrl(), prefix),
    ]);
    elapsedMs = Date.now() - started;
    assert.equal(run.code, 0, run.stderr);
    doc = JSON.parse(run.stdout);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await dropDatabases(prefix);
  });

  it('prints exactly one JSON document on standard output, and the story on standard error', (t) => {
    assert.deepEqual(Object.keys(doc).sort(), ['customers', 'registrationSubscription']);
    assert.match(run.stderr, /Who pays for what/);
    assert.match(run.stderr, /the ledger: .* balanced/);
    assert.doesNotMatch(run.stderr, /MISMATCH/);
    // "Well under a minute" on a quiet machine; the bound leaves room for a busy test run.
    t.diagnostic(`the demo took ${(elapsedMs / 1000).toFixed(1)} s`);
    assert.ok(elapsedMs < 300_000, `took ${elapsedMs} ms`);
  });

  it('has the three customers: registered on one deployment, on both, on none', () => {
    assert.deepEqual(
      doc.customers.map((c: { name: unknown; registeredOn: unknown }) => [c.name, c.registeredOn]),
      [
        ['Adatum', ['east']],
        ['Bellows', ['east', 'west']],
        ['Corvid', []],
      ],
    );
    const ids = doc.customers.flatMap((c: { tenantId: unknown; subscriptionId: unknown }) => [
      c.tenantId,
      c.subscriptionId,
    ]);
    assert.equal(
      new Set([...ids, doc.registrationSubscription.subscriptionId]).size,
      7,
      'every directory and subscription is its own',
    );
  });

  it("bills each customer exactly its own tenant's VMs on the deployments it is registered on, and the rest to the registration subscription", () => {
    const byName = Object.fromEntries(doc.customers.map((c: { name: unknown; usage: unknown }) => [c.name, c.usage]));
    // Adatum: Standard_D2_v2 (2 vCPUs) on east; its Standard_A1_v2 (1) on west, where it is not registered.
    assert.deepEqual(byName.Adatum, { east: 2 * JANUARY_HOURS, west: 0 });
    // Bellows: Standard_D3_v2 (4) on east, Standard_A2_v2 (2) on west.
    assert.deepEqual(byName.Bellows, { east: 4 * JANUARY_HOURS, west: 2 * JANUARY_HOURS });
    // Corvid: registered nowhere; its Standard_A1_v2 (1) on east is the CSP's.
    assert.deepEqual(byName.Corvid, { east: 0, west: 0 });
    assert.deepEqual(doc.registrationSubscription.usage, { east: 1 * JANUARY_HOURS, west: 1 * JANUARY_HOURS });
  });

  it("matches the hub's ledger, summed in its database", async () => {
    const db = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${prefix}_hub`) });
    await db.connect();
    try {
      const { rows } = await db.query(
        `select a.billed_subscription_id::text as sub, r.location, sum(a.quantity)::float8 as q
           from usage_attributions a join usage_received r on r.id = a.received_id
          where r.meter_id = $1 and r.hour >= '2026-01-01T00:00:00Z' and r.hour < '2026-02-01T00:00:00Z'
          group by 1, 2`,
        [BASE],
      );
      const ledger = (sub: string, location: string) =>
        rows.find((r) => r.sub === sub && r.location === location)?.q ?? 0;
      for (const owner of [...doc.customers, doc.registrationSubscription]) {
        for (const stack of ['east', 'west'])
          assert.equal(
            owner.usage[stack],
            ledger(owner.subscriptionId, stack),
            `${owner.name ?? 'registration'} on ${stack}`,
          );
      }
    } finally {
      await db.end();
    }
  });

  it('invoices each customer its month at the list prices: base vCPU hours, and Windows vCPU hours on top', () => {
    const totals = Object.fromEntries(
      doc.customers.map((c: { name: unknown; invoiceTotal: unknown }) => [c.name, c.invoiceTotal]),
    );
    // Adatum: the Windows D2_v2 on east (2 vCPUs).
    assert.equal(totals.Adatum, cents(2 * JANUARY_HOURS * (BASE_PRICE + WINDOWS_PRICE)));
    // Bellows: the Linux D3_v2 on east (4) and the Windows A2_v2 on west (2).
    assert.equal(
      totals.Bellows,
      cents(4 * JANUARY_HOURS * BASE_PRICE + 2 * JANUARY_HOURS * (BASE_PRICE + WINDOWS_PRICE)),
    );
    assert.equal(totals.Corvid, 0);
  });

  it('refuses a data folder that is not fresh', async () => {
    const used = path.join(dir, 'used');
    await mkdir(used);
    await writeFile(path.join(used, 'bootstrap.json'), '{}');
    const refused = await cli(['demo', '--data', used]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /needs a fresh data folder/);
  });
});
