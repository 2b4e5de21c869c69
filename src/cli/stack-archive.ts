import type { Command } from 'commander';
import { API_VERSIONS } from '../core/api-versions.ts';
import type { UsageArchive } from '../stack/metering/archive.ts';
import { CliError, runClient, type Connection } from './client.ts';
import { dataOption, jsonOption, print, tableOrNone } from './output.ts';

// `usage archive --stack NAME --before YYYY-MM`: a stack's operator archives the months its hub
// has all of (the stack writes each to a gzip CSV in its data folder and drops it from its
// outbox). The hub's own archive is the same command without --stack.

/** Archives a stack's delivered months before `before`; answers every archive before it. */
export async function archiveStack(c: Connection, stack: string, before: string): Promise<UsageArchive[]> {
  const admin = c.stack(stack).adminArm;
  const res = await c.http.call(
    'POST',
    `${admin}/providers/Stackledger.Metering/archives?api-version=${API_VERSIONS.system[0]}`,
    { token: await c.token(admin, 'operator'), body: { before } },
  );
  return res.value as UsageArchive[];
}

export function registerStackArchiveCommand(usage: Command): void {
  usage
    .command('archive')
    .description(
      "Archive a stack's months of usage before a month, once its hub acknowledged all of them: each goes to a gzip CSV in " +
        "the stack's data folder (archives/NAME) and leaves its outbox (the stack's operator).",
    )
    .requiredOption('--stack <name>', 'the deployment')
    .requiredOption('--before <month>', 'the first month kept (YYYY-MM): every month before it is archived')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { stack: string; before: string; data: string; json?: boolean }) => {
      if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(o.before)) throw new CliError(`'${o.before}' is not a month (YYYY-MM).`, 2);
      const archives = await runClient(o.data, (c) => archiveStack(c, o.stack, o.before));
      print(o.json, archives, () =>
        tableOrNone(
          ['month', 'records', 'file', 'sha256', 'archived at'],
          archives.map((a) => [a.month, a.rows, a.file, a.sha256, a.archivedAt]),
          'no month archived',
        ),
      );
    });
}
