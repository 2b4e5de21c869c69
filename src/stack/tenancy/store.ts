import type { Kysely } from 'kysely';
import { keyset, pageQuery, type Cursor } from '../../core/paging.ts';
import type { DirectoryTenantsTable, TenancyTables } from './tables.ts';

// All SQL of the deployment's onboarded directories.
export type TenancyDb = Kysely<TenancyTables>;

/** Onboarded directories, oldest first (index directory_tenants_created, migration 1002). */
export const DIRECTORY_TENANT_ORDER = keyset(
  'directoryTenants',
  [
    ['created_at', 'time'],
    ['tenant_id', 'uuid'],
  ],
  (r: DirectoryTenantsTable) => [r.created_at, r.tenant_id],
);

export const tenancyStore = {
  byName: (db: TenancyDb, name: string) =>
    db.selectFrom('directory_tenants').selectAll().where('name_key', '=', name.toLowerCase()).executeTakeFirst(),

  byTenantId: (db: TenancyDb, tenantId: string) =>
    db.selectFrom('directory_tenants').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst(),

  insert: async (db: TenancyDb, row: DirectoryTenantsTable) => {
    await db.insertInto('directory_tenants').values(row).execute();
  },

  remove: async (db: TenancyDb, tenantId: string): Promise<boolean> => {
    const r = await db.deleteFrom('directory_tenants').where('tenant_id', '=', tenantId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  },

  list: (db: TenancyDb, cursor: Cursor) =>
    pageQuery(db.selectFrom('directory_tenants').selectAll(), DIRECTORY_TENANT_ORDER, cursor).execute(),

  consentSeen: async (db: TenancyDb, tenantId: string, at: Date) => {
    await db.updateTable('directory_tenants').set({ consent_seen_at: at }).where('tenant_id', '=', tenantId).execute();
  },
};
