import type { Kysely } from 'kysely';
import type { ActivityLogTable, AuditTables } from './tables.ts';
import { keyset, pageQuery, type Cursor } from '../core/paging.ts';

// All SQL of the activity log. Rows are only ever inserted.
export type AuditDb = Kysely<AuditTables>;

export type NewActivity = Omit<ActivityLogTable, 'id'>;

/** A directory's activity in the order it happened (index activity_log_directory_order, migration 0302). */
export const ACTIVITY_ORDER = keyset(
  'activity',
  [
    ['occurred_at', 'time'],
    ['id', 'int'],
  ],
  (r: ActivityLogTable) => [r.occurred_at, r.id],
);

export const auditStore = {
  async append(db: AuditDb, rows: NewActivity[]): Promise<void> {
    if (rows.length === 0) return;
    await db
      .insertInto('activity_log')
      .values(
        rows.map((r) => ({
          ...r,
          old_value: JSON.stringify(r.old_value ?? null),
          new_value: JSON.stringify(r.new_value ?? null),
        })),
      )
      .execute();
  },

  /** The records of one directory in [from, to), oldest first. */
  async list(db: AuditDb, directoryId: string, from: Date, to: Date, cursor: Cursor): Promise<ActivityLogTable[]> {
    const q = db
      .selectFrom('activity_log')
      .selectAll()
      .where('directory_id', '=', directoryId)
      .where('occurred_at', '>=', from)
      .where('occurred_at', '<', to);
    return pageQuery(q, ACTIVITY_ORDER, cursor).execute();
  },
};
