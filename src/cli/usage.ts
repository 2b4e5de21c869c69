import { Option, type Command } from 'commander';
import { DAY_MS, parseInstant, startOfDay, startOfHour } from '../core/clock.ts';
import type { Granularity } from '../core/usage-api.ts';
import { findMeter } from '../core/meters.ts';
import { actorOptions, whoActs, type ActorFlags } from './actor.ts';
import { archiveStack, stackArchivesText } from './stack-archive.ts';
import { reconciliationText, registerQuarantineCommands, stackOption, verifyStack } from './bridge.ts';
import { armList, CliError, runClient, SYSTEM_API, type Connection } from './client.ts';
import { dataOption, jsonOption, print, tableOrNone } from './output.ts';
import { PERIOD_PATTERN, periodBounds } from '../core/periods.ts';

// Usage: on the hub, billed to a subscription (the commerce API: a customer's, or the registration
// subscription); on a stack, as its tenant or its operator sees it; the ledger's proof.

const COMMERCE_API = 'api-version=2015-06-01-preview';

export async function systemNow(c: Connection): Promise<Date> {
  const clock = await c.http.call('GET', `${c.bootstrap.hub.arm}/providers/Stackledger.System/clock?${SYSTEM_API}`, {
    token: await c.token(c.bootstrap.hub.arm),
  });
  return new Date(clock.now);
}

/** A reported-time window: --to defaults to now (on the boundary), --from to 30 days before. */
async function usageWindow(
  c: Connection,
  o: { from?: string; to?: string; granularity: Granularity },
): Promise<{ from: Date; to: Date }> {
  const to = o.to ? parseInstant(o.to) : (o.granularity === 'Hourly' ? startOfHour : startOfDay)(await systemNow(c));
  const from = o.from ? parseInstant(o.from) : new Date((to?.getTime() ?? 0) - 30 * DAY_MS);
  if (!from || !to) throw new CliError('--from and --to take ISO 8601 times.', 2);
  return { from, to };
}

export interface UsageLine {
  usageStart: string;
  usageEnd: string;
  meterId: string;
  meter: string;
  unit: string;
  quantity: number;
  resource?: string;
  location?: string;
}

/** Aggregates of a usage API (hub or stack) as lines: meter names, resource and location. */
async function usageLines(c: Connection, url: string, token: string): Promise<UsageLine[]> {
  return (await armList(c, url, token)).map((r) => {
    const p = r.properties;
    const data = p.instanceData ? JSON.parse(p.instanceData)['Microsoft.Resources'] : undefined;
    const meter = findMeter(p.meterId);
    return {
      usageStart: p.usageStartTime,
      usageEnd: p.usageEndTime,
      meterId: p.meterId,
      meter: meter?.name ?? p.meterId,
      unit: meter?.unit ?? '',
      quantity: p.quantity,
      resource: data?.resourceUri,
      location: data?.location,
    };
  });
}

const windowQuery = (w: { from: Date; to: Date }, granularity: Granularity, details: boolean) =>
  `reportedStartTime=${w.from.toISOString()}&reportedEndTime=${w.to.toISOString()}&aggregationGranularity=${granularity}&showDetails=${details}`;

/** Usage billed to a subscription on the hub, as the CSP (admin on behalf of, or owner). */
export async function hubUsage(
  c: Connection,
  subscriptionId: string,
  w: { from: Date; to: Date },
  granularity: Granularity,
  details = true,
): Promise<UsageLine[]> {
  const arm = c.bootstrap.hub.arm;
  return usageLines(
    c,
    `${arm}/subscriptions/${subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?${COMMERCE_API}&${windowQuery(w, granularity, details)}`,
    await c.token(arm),
  );
}

/** The bounds of a calendar month, YYYY-MM (UTC): the billing period of day 1; a bad label is a wrong command line. */
export function monthBounds(period: string): { start: Date; end: Date } {
  if (!PERIOD_PATTERN.test(period)) throw new CliError(`'${period}' is not a period such as 2026-01.`, 2);
  return periodBounds(period, 1);
}

/**
 * What the hub billed to a subscription for the usage of one month, whenever it was reported (up
 * to now): totals per stack (the deployment's location) and meter.
 */
export async function monthUsage(
  c: Connection,
  subscriptionId: string,
  period: string,
): Promise<Array<{ stack: string; meterId: string; meter: string; unit: string; quantity: number }>> {
  const { start, end } = monthBounds(period);
  const now = startOfHour(await systemNow(c));
  const midnight = startOfDay(now);
  // Whole days at Daily granularity; the hours reported since the last midnight at Hourly.
  const lines = [
    ...(midnight > start ? await hubUsage(c, subscriptionId, { from: start, to: midnight }, 'Daily') : []),
    ...(now > midnight && now > start
      ? await hubUsage(c, subscriptionId, { from: midnight > start ? midnight : start, to: now }, 'Hourly')
      : []),
  ];
  const totals = new Map<string, { stack: string; meterId: string; meter: string; unit: string; quantity: number }>();
  for (const l of lines) {
    const t = Date.parse(l.usageStart);
    if (t < start.getTime() || t >= end.getTime()) continue;
    const key = `${l.location} ${l.meterId}`;
    const total = totals.get(key) ?? {
      stack: l.location ?? '',
      meterId: l.meterId,
      meter: l.meter,
      unit: l.unit,
      quantity: 0,
    };
    total.quantity += l.quantity;
    totals.set(key, total);
  }
  return [...totals.values()].sort((a, b) => a.stack.localeCompare(b.stack) || a.meter.localeCompare(b.meter));
}

const lineRows = (lines: UsageLine[]) =>
  lines.map((l) => [l.usageStart.slice(0, 16), l.meter, l.quantity, l.unit, l.location, l.resource]);
const LINE_HEAD = ['usage from', 'meter', 'quantity', 'unit', 'location', 'resource'];

interface WindowFlags {
  from?: string;
  to?: string;
  granularity: Granularity;
  byMeter?: boolean;
  data: string;
  json?: boolean;
}

const windowOptions = (cmd: Command) =>
  cmd
    .option('--from <time>', 'reported from (ISO 8601, inclusive; default: 30 days before --to)')
    .option('--to <time>', 'reported until (ISO 8601, exclusive; default: now, on the hour or at midnight)')
    .addOption(new Option('--granularity <g>', 'Hourly or Daily').choices(['Hourly', 'Daily']).default('Daily'))
    .option('--by-meter', 'sum over resources (no per-resource lines)')
    .addOption(dataOption())
    .addOption(jsonOption());

export function registerUsageCommands(program: Command): void {
  const usage = program
    .command('usage')
    .description('Usage: billed on the hub, reported by the stacks, and the ledger that proves they agree.');

  windowOptions(
    usage
      .command('show')
      .description(
        "Usage billed to a subscription on the hub (a customer's, or the registration subscription), by meter and resource.",
      )
      .requiredOption(
        '--subscription <id>',
        'the subscription: a customer subscription, or the registration subscription',
      ),
  ).action(async (o: WindowFlags & { subscription: string }) => {
    const lines = await runClient(o.data, async (c) =>
      hubUsage(c, o.subscription, await usageWindow(c, o), o.granularity, !o.byMeter),
    );
    print(o.json, lines, () => tableOrNone(LINE_HEAD, lineRows(lines), 'no usage in that window'));
  });

  usage
    .command('summary')
    .description("A month's usage billed to a subscription on the hub, per stack and meter (whenever it was reported).")
    .requiredOption(
      '--subscription <id>',
      'the subscription: a customer subscription, or the registration subscription',
    )
    .requiredOption('--period <YYYY-MM>', 'the month (UTC)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { subscription: string; period: string; data: string; json?: boolean }) => {
      const totals = await runClient(o.data, (c) => monthUsage(c, o.subscription, o.period));
      print(o.json, totals, () =>
        tableOrNone(
          ['stack', 'meter', 'quantity', 'unit'],
          totals.map((t) => [t.stack, t.meter, t.quantity, t.unit]),
          `no usage in ${o.period}`,
        ),
      );
    });

  actorOptions(
    windowOptions(
      usage
        .command('stack')
        .description(
          "Usage as a stack reports it: a tenant subscription's (the tenant usage API), or every tenant's (the provider usage API, as the operator).",
        )
        .requiredOption('--stack <name>', 'the deployment')
        .option('--subscription <id>', 'a tenant subscription on the deployment (default: all, as the operator)')
        .option('--customer <customer>', 'the customer (id or domain) whose tenant reads'),
    ),
  ).action(async (o: WindowFlags & ActorFlags & { stack: string; subscription?: string; customer?: string }) => {
    const lines = await runClient(o.data, async (c) => {
      const s = c.stack(o.stack);
      const w = await usageWindow(c, o);
      const query = windowQuery(w, o.granularity, !o.byMeter);
      if (!o.subscription)
        return usageLines(
          c,
          `${s.adminArm}/subscriptions/${s.providerSubscriptionId}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates?${COMMERCE_API}&${query}`,
          await c.token(s.adminArm, 'operator'),
        );
      const who = await whoActs(c, o);
      return usageLines(
        c,
        `${s.tenantArm}/subscriptions/${o.subscription}/providers/Microsoft.Commerce/UsageAggregates?${COMMERCE_API}&${query}`,
        await c.tokenAs(who, s.tenantArm),
      );
    });
    print(o.json, lines, () => tableOrNone(LINE_HEAD, lineRows(lines), 'no usage in that window'));
  });

  usage
    .command('verify')
    .description(
      'Prove the ledger: per deployment, meter and hour, the usage received equals the usage attributed. With --stack, compare that ' +
        "stack's delivered records with what the hub received (default: the last 24 closed hours). Exits 1 on any difference.",
    )
    .addOption(dataOption())
    .addOption(stackOption())
    .option(
      '--from <time>',
      'first usage hour (ISO 8601; default: the beginning, or 24 hours before --to with --stack)',
    )
    .option(
      '--to <time>',
      'end of the range, exclusive (ISO 8601; default: the end, or the last closed hour with --stack)',
    )
    .addOption(jsonOption())
    .action(async (o: { data: string; stack?: string; from?: string; to?: string; json?: boolean }) => {
      if (o.stack) {
        const result = await verifyStack(o.data, { stack: o.stack, from: o.from, to: o.to });
        print(o.json, result, () => reconciliationText(o.stack!, result));
        if (!result.balanced) process.exitCode = 1;
        return;
      }
      for (const t of [o.from, o.to])
        if (t !== undefined && !parseInstant(t)) throw new CliError(`'${t}' is not an ISO 8601 time.`, 2);
      // Without a range, the hub checks the whole ledger from its maintained counters.
      const result = await runClient(o.data, (c) => verifyLedger(c, o.from, o.to));
      print(o.json, result, () =>
        [
          `${result.records} records, ${result.received} received, ${result.attributed} attributed: ${result.balanced ? 'balanced' : 'NOT BALANCED'}`,
          ...(result.conflicts?.records
            ? [`  ${result.conflicts.records} conflicting records refused (${result.conflicts.refusals} times)`]
            : []),
          ...result.differences.map(
            (d: { hour: string; source: string; meterId: string; received: string; attributed: string }) =>
              `  ${d.hour} ${d.source} ${d.meterId}: received ${d.received}, attributed ${d.attributed}`,
          ),
        ].join('\n'),
      );
      if (!result.balanced) process.exitCode = 1;
    });

  usage
    .command('archive')
    .description(
      'Archive every month before --before whose usage is invoiced and whose billing periods are closed: each month ' +
        "to a gzipped CSV file in the hub's archive folder, then its partitions are dropped. Refuses any month billing is not done with. " +
        "With --stack, a deployment's months its hub acknowledged all of, from the stack's outbox (its operator).",
    )
    .requiredOption('--before <YYYY-MM>', 'archive the months strictly before this one')
    .option('--stack <name>', "a deployment's outbox rather than the hub's usage")
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { before: string; stack?: string; data: string; json?: boolean }) => {
      if (!PERIOD_PATTERN.test(o.before)) throw new CliError(`'${o.before}' is not a month such as 2026-01.`, 2);
      if (o.stack) {
        const stack = o.stack;
        const archives = await runClient(o.data, (c) => archiveStack(c, stack, o.before));
        print(o.json, archives, () => stackArchivesText(archives));
        return;
      }
      const result = await runClient(o.data, (c) =>
        usageSystemCall(c, 'POST', `archive?before=${encodeURIComponent(o.before)}`),
      );
      print(o.json, result, () => archivesText(result.value, `no month before ${o.before} to archive`));
    });

  usage
    .command('archives')
    .description('The archived months of usage: file, rows, quantity per meter and sha256.')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { data: string; json?: boolean }) => {
      // Every page of the list (`armList` follows its nextLink).
      const value = await runClient(o.data, async (c) =>
        armList<ArchiveView>(
          c,
          `${c.bootstrap.hub.arm}/providers/Stackledger.System/usage/archives?${SYSTEM_API}`,
          await c.token(c.bootstrap.hub.arm),
        ),
      );
      print(o.json, { value }, () => archivesText(value, 'no month is archived'));
    });

  registerQuarantineCommands(usage);
}

interface ArchiveView {
  month: string;
  file: string;
  records: number;
  attributions: number;
  sha256: string;
}

const archivesText = (archives: ArchiveView[], none: string) =>
  tableOrNone(
    ['month', 'records', 'attributions', 'file', 'sha256'],
    archives.map((a) => [a.month, a.records, a.attributions, a.file, a.sha256]),
    none,
  );

/** A call to the hub's usage system routes (`/providers/Stackledger.System/usage/{path}`), as the operator. */
async function usageSystemCall(c: Connection, method: 'GET' | 'POST', pathAndQuery: string) {
  const sep = pathAndQuery.includes('?') ? '&' : '?';
  return c.http.call(
    method,
    `${c.bootstrap.hub.arm}/providers/Stackledger.System/usage/${pathAndQuery}${sep}${SYSTEM_API}`,
    { token: await c.token(c.bootstrap.hub.arm) },
  );
}

export async function verifyLedger(c: Connection, from?: string, to?: string) {
  const range = [from && `from=${encodeURIComponent(from)}`, to && `to=${encodeURIComponent(to)}`].filter(Boolean);
  return usageSystemCall(c, 'GET', range.length > 0 ? `verify?${range.join('&')}` : 'verify');
}
