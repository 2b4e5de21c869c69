import type { Principal } from '../core/principal.ts';
import { listArchives, refuseArchivedUsage } from './archive.ts';
import { countersStore } from './counters-store.ts';
import type { UsageContext } from './service.ts';
import { usageStore } from './store.ts';

// The ledger's proof on the hub: per source, meter and hour, the usage received equals the usage
// attributed; over a range, or over every month still in the database from the counters.

/**
 * The ledger check over every month still in the database: the totals are the maintained counters
 * (no count over the usage tables), and only months whose counters do not balance are searched
 * hour by hour for where. Archived months are named; their totals are their archives'.
 */
export async function verifyWholeLedger(ctx: UsageContext) {
  const totals = await countersStore.totals(ctx.db);
  const differences = [];
  for (const month of await countersStore.unbalancedMonths(ctx.db)) {
    const end = new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1));
    differences.push(...(await usageStore.ledgerDifferences(ctx.db, month, end)));
  }
  return {
    records: Number(totals.records),
    received: totals.received,
    attributed: totals.attributed,
    balanced: differences.length === 0,
    conflicts: { records: Number(totals.conflicts), refusals: Number(totals.refusals) },
    differences: differences.map(differenceView),
    archived: (await listArchives(ctx)).value.map((a) => a.month),
  };
}

const differenceView = (d: { source: string; meter_id: string; hour: Date; received: string; attributed: string }) => ({
  source: d.source,
  meterId: d.meter_id,
  hour: d.hour.toISOString(),
  received: d.received,
  attributed: d.attributed,
});

/** The ledger check over a range of usage hours; a range over an archived month is refused, naming its archive. */
export async function verifyLedger(ctx: UsageContext, caller: Principal, from: Date, to: Date) {
  await refuseArchivedUsage(ctx, caller, { from, to, by: 'hour' });
  const differences = await usageStore.ledgerDifferences(ctx.db, from, to);
  const totals = await usageStore.ledgerTotals(ctx.db, from, to);
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    records: Number(totals.records),
    received: totals.received,
    attributed: totals.attributed,
    balanced: differences.length === 0,
    // Records refused because their key was already received with another quantity (never stored).
    conflicts: await usageStore.conflictCounts(ctx.db, from, to),
    differences: differences.map(differenceView),
  };
}
