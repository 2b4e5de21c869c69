import { jsonValue } from '../../db/database.ts';
import type { Kysely } from 'kysely';
import { pageQuery, type Cursor } from '../../core/paging.ts';
import { ANY_TYPE_ORDER, NAMED_ROW_ORDER, whereNamed, type NamedRowFilter } from '../../db/named-rows.ts';
import type { SettingsTable } from '../../arm/tables.ts';
import type { MeteringTables } from '../metering/tables.ts';
import type { OperationsTable, QuotaUsage, ResourcesTable, ResourcesTables } from './tables.ts';

// All SQL of tenant resources and their operations. The database is handed with metering's
// tables too, so that a change and what it tells metering share one transaction; only metering's
// store touches those.
export type ResourcesDb = Kysely<
  ResourcesTables &
    MeteringTables & {
      subscriptions: { subscription_id: string; tenant_id: string; state: string };
      settings: SettingsTable;
    }
>;

/** Resources of one type and name in a resource group, live or not. */
const named = (db: ResourcesDb, subscriptionId: string, resourceGroup: string, type: string, name: string) =>
  whereNamed(db.selectFrom('resources').selectAll(), { subscriptionId, resourceGroup, type, name, live: false });

export const resourcesStore = {
  get: (db: ResourcesDb, subscriptionId: string, resourceGroup: string, type: string, name: string) =>
    named(db, subscriptionId, resourceGroup, type, name).where('deleted_at', 'is', null).executeTakeFirst(),

  byId: (db: ResourcesDb, id: string) => db.selectFrom('resources').selectAll().where('id', '=', id).executeTakeFirst(),
  liveById: (db: ResourcesDb, id: string) =>
    db.selectFrom('resources').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst(),

  /** Whether a live resource of the type has the name anywhere on the deployment. */
  nameTaken: async (db: ResourcesDb, type: string, name: string): Promise<boolean> =>
    (await db
      .selectFrom('resources')
      .select('id')
      .where('type_key', '=', type.toLowerCase())
      .where('name_key', '=', name.toLowerCase())
      .where('deleted_at', 'is', null)
      .executeTakeFirst()) !== undefined,

  /** The newest resource of that name, deleted or not. */
  getIncludingDeleted: (db: ResourcesDb, subscriptionId: string, resourceGroup: string, type: string, name: string) =>
    named(db, subscriptionId, resourceGroup, type, name).orderBy('created_at', 'desc').executeTakeFirst(),

  /** Inserts a resource with what it counts toward quotas (the counters follow, by trigger). */
  insert: async (db: ResourcesDb, row: ResourcesTable, usage: QuotaUsage) => {
    await db
      .insertInto('resources')
      .values({
        ...row,
        tags: jsonValue(row.tags),
        properties: jsonValue(row.properties),
        sku: row.sku === null ? null : jsonValue(row.sku),
        quota_usage: JSON.stringify(usage),
      })
      .execute();
  },

  /**
   * Updates a resource with what it now counts toward quotas (the counters follow, by trigger);
   * `usage` undefined keeps what it counted (a change that cannot alter it: another domain's links).
   */
  update: async (db: ResourcesDb, row: ResourcesTable, usage: QuotaUsage | undefined) => {
    await db
      .updateTable('resources')
      .set({
        tags: jsonValue(row.tags),
        properties: jsonValue(row.properties),
        sku: row.sku === null ? null : jsonValue(row.sku),
        updated_at: row.updated_at,
        ...(usage ? { quota_usage: JSON.stringify(usage) } : {}),
      })
      .where('id', '=', row.id)
      .execute();
  },

  /** What a subscription's live resources count toward its quotas (its counters). */
  quotaUsage: async (db: ResourcesDb, subscriptionId: string): Promise<QuotaUsage> => {
    const rows = await db
      .selectFrom('resource_usage')
      .select(['counter', 'amount'])
      .where('subscription_id', '=', subscriptionId)
      .execute();
    return Object.fromEntries(rows.map((r) => [r.counter, Number(r.amount)]));
  },

  markDeleted: async (db: ResourcesDb, id: string, at: Date) => {
    await db.updateTable('resources').set({ deleted_at: at }).where('id', '=', id).execute();
  },

  /** A page of live resources of one type, optionally of one group. */
  list: (db: ResourcesDb, subscriptionId: string, type: string, resourceGroup: string | undefined, cursor: Cursor) =>
    pageQuery(
      whereNamed(db.selectFrom('resources').selectAll(), { subscriptionId, type, resourceGroup }),
      NAMED_ROW_ORDER,
      cursor,
    ).execute(),

  /** A page of live resources of every type, for ARM's generic list: optionally of one group, type, name or location. */
  listAnyType: (db: ResourcesDb, filter: NamedRowFilter, cursor: Cursor) =>
    pageQuery(whereNamed(db.selectFrom('resources').selectAll(), filter), ANY_TYPE_ORDER, cursor).execute(),

  liveInSubscription: (db: ResourcesDb, subscriptionId: string) =>
    db
      .selectFrom('resources')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('deleted_at', 'is', null)
      .execute(),

  liveInGroup: (db: ResourcesDb, subscriptionId: string, resourceGroup: string) =>
    db
      .selectFrom('resources')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('resource_group_key', '=', resourceGroup.toLowerCase())
      .where('deleted_at', 'is', null)
      .execute(),

  insertOperation: async (db: ResourcesDb, row: OperationsTable) => {
    await db
      .insertInto('operations')
      .values({ ...row, error: row.error === null ? null : jsonValue(row.error) })
      .execute();
  },

  getOperation: (db: ResourcesDb, id: string) =>
    db.selectFrom('operations').selectAll().where('id', '=', id).executeTakeFirst(),
};
