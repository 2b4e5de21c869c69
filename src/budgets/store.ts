import type { Kysely } from 'kysely';
import { type Cursor, keyset, pageQuery } from '../core/paging.ts';
import { jsonValue } from '../db/database.ts';
import type { BudgetAlertsTable, BudgetScope, BudgetTables, BudgetsTable } from './tables.ts';

// All SQL of budgets and their alerts.
export type BudgetDb = Kysely<BudgetTables>;

export const budgetStore = {
  async get(db: BudgetDb, scope: BudgetScope, scopeId: string, name: string): Promise<BudgetsTable | undefined> {
    return db
      .selectFrom('budgets')
      .selectAll()
      .where('scope', '=', scope)
      .where('scope_id', '=', scopeId)
      .where('name', '=', name)
      .executeTakeFirst();
  },

  /** A page of a scope's budgets, by name. */
  async list(db: BudgetDb, scope: BudgetScope, scopeId: string, cursor: Cursor): Promise<BudgetsTable[]> {
    const query = db.selectFrom('budgets').selectAll().where('scope', '=', scope).where('scope_id', '=', scopeId);
    return pageQuery(query, BUDGETS_KEYSET, cursor).execute();
  },

  /** Every budget in force on `day` (YYYY-MM-DD), by customer. */
  async inForce(db: BudgetDb, day: string): Promise<BudgetsTable[]> {
    return db
      .selectFrom('budgets')
      .selectAll()
      .where('start_date', '<=', day)
      .where((eb) => eb.or([eb('end_date', 'is', null), eb('end_date', '>=', day)]))
      .orderBy('customer_id')
      .execute();
  },

  /** Creates or replaces a budget (by scope and name). */
  async put(db: BudgetDb, row: BudgetsTable): Promise<{ budget: BudgetsTable; created: boolean }> {
    const values = { ...row, notifications: jsonValue(row.notifications) };
    const saved = await db
      .insertInto('budgets')
      .values(values)
      .onConflict((oc) =>
        oc.columns(['scope', 'scope_id', 'name']).doUpdateSet((eb) => ({
          amount: eb.ref('excluded.amount'),
          start_date: eb.ref('excluded.start_date'),
          end_date: eb.ref('excluded.end_date'),
          notifications: eb.ref('excluded.notifications'),
          etag: eb.ref('excluded.etag'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return { budget: saved, created: saved.id === row.id };
  },

  async delete(db: BudgetDb, scope: BudgetScope, scopeId: string, name: string): Promise<boolean> {
    const r = await db
      .deleteFrom('budgets')
      .where('scope', '=', scope)
      .where('scope_id', '=', scopeId)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  },

  /** Records an alert once: true when this call recorded it (the threshold was crossed just now). */
  async fire(db: BudgetDb, alert: BudgetAlertsTable): Promise<boolean> {
    const r = await db
      .insertInto('budget_alerts')
      .values(alert)
      .onConflict((oc) => oc.doNothing())
      .returning('budget_id')
      .executeTakeFirst();
    return r !== undefined;
  },

  async alerts(db: BudgetDb, budgetId: string): Promise<BudgetAlertsTable[]> {
    return db.selectFrom('budget_alerts').selectAll().where('budget_id', '=', budgetId).orderBy('fired_at').execute();
  },
};

export const BUDGETS_KEYSET = keyset<BudgetsTable>('budgets', [['name', 'text']], (b) => [b.name]);
