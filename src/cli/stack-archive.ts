import type { UsageArchive } from '../stack/metering/archive.ts';
import { SYSTEM_API, type Connection } from './client.ts';
import { tableOrNone } from './output.ts';

// `usage archive --stack NAME --before YYYY-MM` (cli/usage.ts): a stack's operator archives the months its hub
// has all of (the stack writes each to a gzip CSV in its data folder and drops it from its
// outbox). The hub's own archive is the same command without --stack.

/** Archives a stack's delivered months before `before`; answers every archive before it. */
export async function archiveStack(c: Connection, stack: string, before: string): Promise<UsageArchive[]> {
  const admin = c.stack(stack).adminArm;
  const res = await c.http.call('POST', `${admin}/providers/Stackledger.Metering/archives?${SYSTEM_API}`, {
    token: await c.token(admin, 'operator'),
    body: { before },
  });
  return res.value as UsageArchive[];
}

/** A stack's archives as a table. */
export const stackArchivesText = (archives: UsageArchive[]) =>
  tableOrNone(
    ['month', 'records', 'file', 'sha256', 'archived at'],
    archives.map((a) => [a.month, a.rows, a.file, a.sha256, a.archivedAt]),
    'no month archived',
  );
