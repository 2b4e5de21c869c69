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
      .values(rows.map((r) => ({ ...r, old_value: JSON.stringify(r.old_value ?? null), new_value: JSON.stringify(r.new_value ?? null) })) as any)
      .execute();
  },

  /** Records of a directory, or of a partner (its own and its customers'), in [from, to). */
  async list(db: AuditDb, filter: { directoryId?: string; partnerId?: string }, from: Date, to: Date, offset: number, limit: number): Promise<ActivityLogTable[]> {
    let q = db.selectFrom('activity_log').selectAll().where('occurred_at', '>=', from).where('occurred_at', '<', to);
    if (filter.directoryId) q = q.where('directory_id', '=', filter.directoryId);
    if (filter.partnerId) {
      const partner = filter.partnerId;
      q = q.where((eb) => eb.or([eb('partner_id', '=', partner), eb('directory_id', '=', partner)]));
    }
    return q.orderBy('occurred_at').orderBy('id').offset(offset).limit(limit).execute();
  },
};
