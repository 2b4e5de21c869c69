import type { Kysely } from 'kysely';
import type { ActivityLogTable, AuditTables } from './tables.ts';

// All SQL of the activity log. Rows are only ever inserted.
export type AuditDb = Kysely<AuditTables>;

export type NewActivity = Omit<ActivityLogTable, 'id'>;

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
  async list(
    db: AuditDb,
    directoryId: string,
    from: Date,
    to: Date,
    offset: number,
    limit: number,
  ): Promise<ActivityLogTable[]> {
    return db
      .selectFrom('activity_log')
      .selectAll()
      .where('directory_id', '=', directoryId)
      .where('occurred_at', '>=', from)
      .where('occurred_at', '<', to)
      .orderBy('occurred_at')
      .orderBy('id')
      .offset(offset)
      .limit(limit)
      .execute();
  },
};
