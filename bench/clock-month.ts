// A month of the simulated clock on a stack with N running VMs: the scheduler's move of P31D with
// metering's work (a day of hours per step and statement), against one INSERT ... SELECT that
// writes the same 744 hours of records set-based into a table of the same shape, in the same run.
import type { BenchResult } from './report.ts';
import { sql } from 'kysely';
import { SimulatedClock } from '../src/core/clock.ts';
import { WorkScheduler } from '../src/core/scheduler.ts';
import { ensureDatabase, openDatabase, withDatabase } from '../src/db/database.ts';
import type { StackTables } from '../src/stack/app.ts';
import { migrateStack } from '../src/stack/migrations.ts';
import { meteringWork } from '../src/stack/metering/job.ts';

const SUBSCRIPTION = '11111111-1111-1111-1111-111111111111';

export async function benchClockMonth(serverUrl: string, vms: number): Promise<BenchResult> {
  const url = withDatabase(serverUrl, `bench_clock_${Date.now()}`);
  await ensureDatabase(url);
  const { db, close } = openDatabase<StackTables>(url, 2);
  try {
    await migrateStack(db);
    const t0 = new Date('2026-01-01T00:00:00Z');
    // N running VMs (half Windows: 3 meters, half Linux: 2), created at midnight, set-based.
    await sql`
      insert into subscriptions (subscription_id, tenant_id, display_name, state, created_at)
      values (${SUBSCRIPTION}, '22222222-2222-2222-2222-222222222222', 'bench', 'Enabled', ${t0})
    `.execute(db);
    await sql`
      insert into resources (id, subscription_id, resource_group, resource_group_key, type, type_key, name, name_key, location, tags, properties, created_at, updated_at)
      select md5('vm' || i)::uuid, ${SUBSCRIPTION}, 'rg', 'rg', 'Microsoft.Compute/virtualMachines', 'microsoft.compute/virtualmachines',
             'vm' || i, 'vm' || i, 'local', '{}', '{}', ${t0}, ${t0}
      from generate_series(1, ${vms}) i
    `.execute(db);
    await sql`
      insert into resource_states (resource_id, subscription_id, valid_from, valid_to, rates, reason, recorded_at)
      select md5('vm' || i)::uuid, ${SUBSCRIPTION}, ${t0}, null,
             case when i % 2 = 0 then '{"fab6eb84-500b-4a09-a8ca-7358f8bbaea5": 2, "9cd92d4c-bafd-4492-b278-bedc2de8232a": 2, "6dab500f-a4fd-49c4-956d-229bb9c8c793": 1}'::jsonb
                  else '{"fab6eb84-500b-4a09-a8ca-7358f8bbaea5": 2, "6dab500f-a4fd-49c4-956d-229bb9c8c793": 1}'::jsonb end,
             'bench', ${t0}
      from generate_series(1, ${vms}) i
    `.execute(db);
    await sql`create table baseline_records (like usage_records including all)`.execute(db);
    await sql`analyze`.execute(db);

    // Ours: the scheduler moves the clock P31D, running metering's work once per day.
    const clock = new SimulatedClock(t0);
    const scheduler = new WorkScheduler(clock);
    scheduler.register(meteringWork(db));
    const end = new Date(t0.getTime() + 31 * 86_400_000);
    let start = performance.now();
    await scheduler.advanceTo(end);
    const ours = performance.now() - start;
    const written = await sql<{ n: string }>`select count(*)::text as n from usage_records`.execute(db);

    // Baseline: the same 744 hours in one INSERT ... SELECT, each hour reported at its end, with no
    // comparison with what earlier closings wrote.
    start = performance.now();
    const base = await sql`
      insert into baseline_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
      select s.resource_id, m.key::uuid, h, 1,
             round(sum(extract(epoch from (least(coalesce(s.valid_to, h + interval '1 hour'), h + interval '1 hour') - greatest(s.valid_from, h))) * m.value::numeric) / 3600, 9),
             r.subscription_id, sub.tenant_id, '/subscriptions/' || r.subscription_id || '/resourceGroups/' || r.resource_group || '/providers/' || r.type || '/' || r.name,
             r.location, r.tags, h + interval '1 hour'
      from generate_series(${t0}::timestamptz, ${end}::timestamptz - interval '1 hour', interval '1 hour') h
      join resource_states s on s.valid_from < h + interval '1 hour' and (s.valid_to is null or s.valid_to > h)
      cross join jsonb_each_text(s.rates) m
      join resources r on r.id = s.resource_id join subscriptions sub on sub.subscription_id = r.subscription_id
      group by h, s.resource_id, m.key, r.subscription_id, sub.tenant_id, r.resource_group, r.type, r.name, r.location, r.tags
    `.execute(db);
    const baseline = performance.now() - start;
    if (String(base.numAffectedRows) !== written.rows[0].n)
      throw new Error(`the baseline wrote ${base.numAffectedRows} rows, the month wrote ${written.rows[0].n}`);
    return {
      benchmark: 'clock-month',
      title: 'clock advance P31D with running VMs (a stack: metering, one step a day)',
      ours_ms: ours,
      baseline_ms: baseline,
      baseline: 'one INSERT ... SELECT of the same month of records',
      // The issue asks for "seconds, not minutes"; a month of 1,000 VMs is 1.86M records, which the
      // database itself writes in tens of seconds here, so the target is that of closing an hour.
      target: 1.5,
      sizes: { vms, hours: 744, records: Number(written.rows[0].n) },
      details: {},
    };
  } finally {
    await close();
  }
}
