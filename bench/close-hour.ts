// Closing one hour for N resources (the stack's metering), against one INSERT ... SELECT that
// writes the same rows into a table of the same shape, in the same run.
import { sql } from 'kysely';
import { ensureDatabase, openDatabase, withDatabase } from '../src/db/database.ts';
import type { StackTables } from '../src/stack/app.ts';
import { migrateStack } from '../src/stack/migrations.ts';
import { meteringStore } from '../src/stack/metering/store.ts';
import { type BenchResult, median } from './report.ts';

export async function benchCloseHour(serverUrl: string, resources: number): Promise<BenchResult> {
  const url = withDatabase(serverUrl, `bench_close_${Date.now()}`);
  await ensureDatabase(url);
  const { db, close } = openDatabase<StackTables>(url, 2);
  try {
    await migrateStack(db);
    const t0 = new Date('2026-01-01T00:00:00Z');
    // One subscription; N resources: 60% Windows/Linux VMs (2-3 meters), 20% IPs, 20% storage accounts.
    await sql`
      insert into subscriptions (subscription_id, tenant_id, display_name, state, created_at) values ('11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222', 'bench', 'Enabled', ${t0})
    `.execute(db);
    await sql`
      insert into resources (id, subscription_id, resource_group, resource_group_key, type, type_key, name, name_key, location, tags, properties, created_at, updated_at)
      select md5('r' || i)::uuid, '11111111-1111-1111-1111-111111111111', 'rg', 'rg',
             case when i % 5 < 3 then 'Microsoft.Compute/virtualMachines' when i % 5 = 3 then 'Microsoft.Network/publicIPAddresses' else 'Microsoft.Storage/storageAccounts' end,
             case when i % 5 < 3 then 'microsoft.compute/virtualmachines' when i % 5 = 3 then 'microsoft.network/publicipaddresses' else 'microsoft.storage/storageaccounts' end,
             'r' || i, 'r' || i, 'local', '{}', '{}', ${t0}, ${t0}
      from generate_series(1, ${resources}) i
    `.execute(db);
    await sql`
      insert into resource_states (resource_id, subscription_id, valid_from, valid_to, rates, reason, recorded_at)
      select md5('r' || i)::uuid, '11111111-1111-1111-1111-111111111111', ${t0}::timestamptz + (i % 60) * interval '1 minute', null,
             case when i % 5 = 0 then '{"fab6eb84-500b-4a09-a8ca-7358f8bbaea5": 2, "9cd92d4c-bafd-4492-b278-bedc2de8232a": 2, "6dab500f-a4fd-49c4-956d-229bb9c8c793": 1}'::jsonb
                  when i % 5 < 3 then '{"fab6eb84-500b-4a09-a8ca-7358f8bbaea5": 4, "6dab500f-a4fd-49c4-956d-229bb9c8c793": 1}'::jsonb
                  when i % 5 = 3 then '{"f271a8a3-88c4-4d93-956a-063e1d2fa80b": 1}'::jsonb
                  else '{"09f8879e-87e9-4305-a572-4b7be209f857": 12.5}'::jsonb end,
             'bench', ${t0}
      from generate_series(1, ${resources}) i
    `.execute(db);
    // The same table shape, with the same keys and indexes: what storing the records costs anyway.
    await sql`create table baseline_records (like usage_records including all)`.execute(db);
    // And a table with no key and no index: the bare cost of the statement, for reference.
    await sql`create table bare_records (like usage_records including defaults)`.execute(db);
    await sql`analyze`.execute(db);

    const ours: number[] = [];
    const baseline: number[] = [];
    const bare: number[] = [];
    let rows = 0;
    for (let run = 0; run < 3; run++) {
      const hour = new Date(t0.getTime() + (run + 1) * 3_600_000);
      const reported = new Date(hour.getTime() + 3_600_000);
      let start = performance.now();
      rows = await meteringStore.closeHour(db, hour, reported);
      ours.push(performance.now() - start);

      // The baseline writes the same rows (same quantities and columns) with one INSERT ... SELECT,
      // without checking what an earlier closing wrote.
      const end = new Date(hour.getTime() + 3_600_000);
      const insertSelect = (table: string) => sql`
        insert into ${sql.table(table)} (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
        select s.resource_id, m.key::uuid, ${hour}::timestamptz, 1,
               round(sum(extract(epoch from (least(coalesce(s.valid_to, ${end}::timestamptz), ${end}::timestamptz) - greatest(s.valid_from, ${hour}::timestamptz))) * m.value::numeric) / 3600, 9),
               r.subscription_id, sub.tenant_id, '/subscriptions/' || r.subscription_id || '/resourceGroups/' || r.resource_group || '/providers/' || r.type || '/' || r.name,
               r.location, r.tags, ${reported}::timestamptz
        from resource_states s cross join jsonb_each_text(s.rates) m
        join resources r on r.id = s.resource_id join subscriptions sub on sub.subscription_id = r.subscription_id
        where s.valid_from < ${end}::timestamptz and (s.valid_to is null or s.valid_to > ${hour}::timestamptz)
        group by s.resource_id, m.key, r.subscription_id, sub.tenant_id, r.resource_group, r.type, r.name, r.location, r.tags
      `;
      start = performance.now();
      const base = await insertSelect('baseline_records').execute(db);
      baseline.push(performance.now() - start);
      start = performance.now();
      await insertSelect('bare_records').execute(db);
      bare.push(performance.now() - start);
      if (Number(base.numAffectedRows) !== rows)
        throw new Error(`the baseline wrote ${base.numAffectedRows} rows, closing wrote ${rows}`);
    }
    // Closing the same hour again writes nothing (idempotence), and costs this much:
    const again = performance.now();
    const rewritten = await meteringStore.closeHour(db, new Date(t0.getTime() + 3_600_000), new Date());
    const againMs = performance.now() - again;
    return {
      benchmark: 'close-hour',
      title: 'close one metering hour (the stack)',
      ours_ms: median(ours),
      baseline_ms: median(baseline),
      baseline: 'one INSERT ... SELECT of the same rows into a table of the same shape (same key and indexes)',
      target: 1.5,
      sizes: { resources, recordsPerHour: rows },
      details: {
        bareInsertSelectMs: Math.round(median(bare)),
        ratioToBare: Number((median(ours) / median(bare)).toFixed(2)),
        closeAgainMs: Math.round(againMs),
        closeAgainWrote: rewritten,
        runs: { ours: ours.map(Math.round), baseline: baseline.map(Math.round), bare: bare.map(Math.round) },
      },
    };
  } finally {
    await close();
  }
}
