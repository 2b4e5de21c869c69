import { Option, type Command } from 'commander';
import { parseInstant } from '../core/clock.ts';
import { findMeter } from '../core/meters.ts';
import { armList, CliError, runClient, type Connection, SYSTEM_API } from './client.ts';
import { dataOption, jsonOption, print, tableOrNone } from './output.ts';
import type { Reconciliation } from '../stack/bridge/reconcile.ts';
import type { QuarantineEntry } from '../stack/bridge/store.ts';

// A stack's bridge as its operator sees it: the quarantine of records the hub refused (list,
// retry, drop with a reason) and the reconciliation of its outbox with what the hub received.

const bridgeUrl = (c: Connection, stack: string) => `${c.stack(stack).adminArm}/providers/Stackledger.System/bridge`;
const operatorToken = (c: Connection, stack: string) => c.token(c.stack(stack).adminArm, 'operator');

export async function quarantineList(c: Connection, stack: string): Promise<QuarantineEntry[]> {
  return armList(c, `${bridgeUrl(c, stack)}/quarantine?${SYSTEM_API}`, await operatorToken(c, stack));
}

/** Retries (back to the outbox) or drops (with a reason) held records: the given ids, or all. */
export async function quarantineAction(
  c: Connection,
  stack: string,
  action: 'retry' | 'drop',
  which: { ids?: number[]; all?: boolean; reason?: string },
) {
  return c.http.call('POST', `${bridgeUrl(c, stack)}/quarantine/${action}?${SYSTEM_API}`, {
    token: await operatorToken(c, stack),
    body: which,
  });
}

/** The stack's delivered records against the hub's received ones, per hour and meter (default: the last 24 closed hours). */
export async function reconcileStack(c: Connection, stack: string, range: { from?: string; to?: string }) {
  const q = new URLSearchParams();
  if (range.from) q.set('from', range.from);
  if (range.to) q.set('to', range.to);
  return c.http.call('GET', `${bridgeUrl(c, stack)}/reconciliation?${SYSTEM_API}&${q}`, {
    token: await operatorToken(c, stack),
  });
}

const meterName = (id: string) => findMeter(id)?.name ?? id;

/** What `usage verify --stack` prints: one line per difference. */
export function reconciliationText(stack: string, r: Reconciliation): string {
  return [
    `${stack}, ${r.from} to ${r.to}: ${r.balanced ? 'the stack and the hub agree' : `${r.differences.length} DIFFERENCES`}`,
    ...r.differences.map(
      (d) =>
        `  ${d.hour} ${meterName(d.meterId)}: stack delivered ${d.stack.records} records, ${d.stack.quantity}; hub received ${d.hub.records} records, ${d.hub.quantity}`,
    ),
  ].join('\n');
}

const idsOf = (o: { id?: string[]; all?: boolean }) => {
  if (Boolean(o.id?.length) === Boolean(o.all))
    throw new CliError('Name the records with --id (one or more), or use --all.', 2);
  if (o.all) return { all: true };
  const ids = o.id!.map(Number);
  if (!ids.every((n) => Number.isSafeInteger(n) && n > 0))
    throw new CliError('--id takes the ids that `usage quarantine list` shows.', 2);
  return { ids };
};

export function registerQuarantineCommands(usage: Command): void {
  const quarantine = usage
    .command('quarantine')
    .description(
      "Usage records a stack's hub refused, set aside so that the rest keeps flowing (the stack's operator).",
    );
  const common = (cmd: Command) =>
    cmd.requiredOption('--stack <name>', 'the deployment').addOption(dataOption()).addOption(jsonOption());
  const selection = (cmd: Command) =>
    cmd.option('--id <ids...>', 'the quarantined records (ids from `list`)').option('--all', 'every held record');

  common(
    quarantine.command('list').description("The quarantined records: held, retried or dropped, with the hub's reason."),
  ).action(async (o: { stack: string; data: string; json?: boolean }) => {
    const entries = await runClient(o.data, (c) => quarantineList(c, o.stack));
    print(o.json, entries, () =>
      tableOrNone(
        ['id', 'state', 'hour', 'meter', 'quantity', 'resource', 'refused with', 'dropped by, why'],
        entries.map((e) => [
          e.id,
          e.deliveredAt ? 'delivered' : e.state,
          e.hour.slice(0, 16),
          meterName(e.meterId),
          e.quantity,
          e.resourceUri,
          `${e.refusal.code}: ${e.refusal.message}`,
          e.dropped ? `${e.dropped.by}: ${e.dropped.reason}` : '',
        ]),
        'nothing in quarantine',
      ),
    );
  });

  selection(
    common(
      quarantine
        .command('retry')
        .description('Puts held records back in the outbox: the next delivery sends them (after a fix).'),
    ),
  ).action(async (o: { stack: string; id?: string[]; all?: boolean; data: string; json?: boolean }) => {
    const which = idsOf(o);
    const result = await runClient(o.data, (c) => quarantineAction(c, o.stack, 'retry', which));
    print(o.json, result, () =>
      result.retried.length ? `back in the outbox: ${result.retried.join(', ')}` : 'nothing was held',
    );
  });

  selection(
    common(
      quarantine
        .command('drop')
        .description('Keeps held records out for good (the usage record itself stays in the ledger), saying why.'),
    ),
  )
    .requiredOption('--reason <text>', 'why they are dropped: kept with the records, with who dropped them')
    .action(
      async (o: { stack: string; id?: string[]; all?: boolean; reason: string; data: string; json?: boolean }) => {
        const which = idsOf(o);
        const result = await runClient(o.data, (c) =>
          quarantineAction(c, o.stack, 'drop', { ...which, reason: o.reason }),
        );
        print(o.json, result, () =>
          result.dropped.length ? `dropped: ${result.dropped.join(', ')}` : 'nothing was held',
        );
      },
    );
}

/** `usage verify --stack`: checks the range and asks the stack to reconcile. */
export async function verifyStack(data: string, o: { stack: string; from?: string; to?: string }) {
  for (const t of [o.from, o.to])
    if (t !== undefined && !parseInstant(t)) throw new CliError(`'${t}' is not an ISO 8601 time.`, 2);
  return runClient(data, (c) => reconcileStack(c, o.stack, o));
}

export const stackOption = () =>
  new Option(
    '--stack <name>',
    "compare this stack's delivered records with what the hub received, per hour and meter (its operator)",
  );
