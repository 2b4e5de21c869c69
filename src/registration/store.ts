import { type Kysely, sql } from 'kysely';
import { jsonValue } from '../db/database.ts';
import { keyset, pageQuery, type Cursor } from '../core/paging.ts';
import { ANY_TYPE_ORDER, NAMED_ROW_ORDER, whereNamed, type NamedRowFilter } from '../db/named-rows.ts';
import type { CustomerSubscriptionLinksTable, RegistrationsTable, RegistrationTables } from './tables.ts';

// All SQL of registrations and customer subscription links. Links are never edited in place:
// ending one sets its valid_to, and adding it again writes a new row.
export type RegistrationDb = Kysely<RegistrationTables>;

export const REGISTRATION_TYPE = 'Microsoft.AzureStack/registrations';

/** ARM's generic order (group, type, name) over registrations, whose type is one. */
const AS_ANY_TYPE = {
  ...ANY_TYPE_ORDER,
  columns: [sql.ref('resource_group_key'), sql`${REGISTRATION_TYPE.toLowerCase()}::text`, sql.ref('name_key')],
};

export const LIVE_LINK_ORDER = keyset(
  'customerSubscriptions',
  [
    ['valid_from', 'time'],
    ['id', 'int'],
  ],
  (r: CustomerSubscriptionLinksTable) => [r.valid_from, r.id],
);

export const registrationStore = {
  getLive: (db: RegistrationDb, subscriptionId: string, resourceGroup: string, name: string) =>
    db
      .selectFrom('registrations')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('resource_group_key', '=', resourceGroup.toLowerCase())
      .where('name_key', '=', name.toLowerCase())
      .where('deleted_at', 'is', null)
      .executeTakeFirst(),

  insert: async (db: RegistrationDb, row: RegistrationsTable) => {
    await db
      .insertInto('registrations')
      .values({ ...row, tags: jsonValue(row.tags) })
      .execute();
  },

  update: async (db: RegistrationDb, row: RegistrationsTable) => {
    await db
      .updateTable('registrations')
      .set({
        tags: jsonValue(row.tags),
        object_id: row.object_id,
        cloud_id: row.cloud_id,
        billing_model: row.billing_model,
        registration_token: row.registration_token,
        multi_tenancy_approved: row.multi_tenancy_approved,
        etag: row.etag,
        updated_at: row.updated_at,
      })
      .where('id', '=', row.id)
      .execute();
  },

  /** Every live registration, oldest first: the deployments the hub knows (the portal lists them). */
  allLive: (db: RegistrationDb) =>
    db
      .selectFrom('registrations')
      .select(['name', 'object_id'])
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .execute(),

  /** The newest live registration of a deployment. */
  liveByCloudId: (db: RegistrationDb, cloudId: string) =>
    db
      .selectFrom('registrations')
      .selectAll()
      .where('cloud_id', '=', cloudId)
      .where('deleted_at', 'is', null)
      .orderBy('created_at', 'desc')
      .executeTakeFirst(),

  /** The live registration of a deployment that names this principal (of legacy duplicates, the one naming it). */
  liveByCloudIdAndObjectId: (db: RegistrationDb, cloudId: string, objectId: string) =>
    db
      .selectFrom('registrations')
      .selectAll()
      .where('cloud_id', '=', cloudId)
      .where('object_id', '=', objectId)
      .where('deleted_at', 'is', null)
      .orderBy('created_at', 'desc')
      .executeTakeFirst(),

  /**
   * Serializes every claim on one cloud id until the transaction ends, so that two concurrent PUTs
   * cannot both find it free. (No unique index: folders from before the rule may hold duplicates.)
   */
  lockCloudId: async (db: RegistrationDb, cloudId: string) => {
    await sql`select pg_advisory_xact_lock(hashtext(${'registration:' + cloudId}))`.execute(db);
  },

  /** Another live registration (not `exceptId`) holding the cloud id, if any. */
  otherLiveHolder: (db: RegistrationDb, cloudId: string, exceptId: string | undefined) => {
    let q = db
      .selectFrom('registrations')
      .select(['id', 'name'])
      .where('cloud_id', '=', cloudId)
      .where('deleted_at', 'is', null);
    if (exceptId !== undefined) q = q.where('id', '<>', exceptId);
    return q.executeTakeFirst();
  },

  /** Cloud ids held by more than one live registration (only folders from before the rule have them). */
  sharedCloudIds: async (db: RegistrationDb) => {
    const { rows } = await sql<{ cloud_id: string; registrations: string[] }>`
      select cloud_id::text, array_agg('/subscriptions/' || subscription_id || '/resourceGroups/' || resource_group || '/providers/Microsoft.AzureStack/registrations/' || name order by created_at) as registrations
      from registrations where deleted_at is null group by cloud_id having count(*) > 1 order by cloud_id
    `.execute(db);
    return rows;
  },

  markDeleted: async (db: RegistrationDb, id: string, at: Date) => {
    await db.updateTable('registrations').set({ deleted_at: at }).where('id', '=', id).execute();
  },

  /** A page of live registrations, optionally of one group. */
  list: (db: RegistrationDb, subscriptionId: string, resourceGroup: string | undefined, cursor: Cursor) =>
    pageQuery(
      whereNamed(db.selectFrom('registrations').selectAll(), { subscriptionId, resourceGroup }),
      NAMED_ROW_ORDER,
      cursor,
    ).execute(),

  /** A page of live registrations for ARM's generic list: optionally of one group, name or location. */
  listFiltered: (db: RegistrationDb, filter: Omit<NamedRowFilter, 'type'>, cursor: Cursor) =>
    pageQuery(whereNamed(db.selectFrom('registrations').selectAll(), filter), AS_ANY_TYPE, cursor).execute(),

  liveLink: (db: RegistrationDb, registrationId: string, customerSubscriptionId: string) =>
    db
      .selectFrom('customer_subscription_links')
      .selectAll()
      .where('registration_id', '=', registrationId)
      .where('customer_subscription_id', '=', customerSubscriptionId)
      .where('valid_to', 'is', null)
      .executeTakeFirst(),

  insertLink: async (db: RegistrationDb, row: Omit<CustomerSubscriptionLinksTable, 'id'>) => {
    await db.insertInto('customer_subscription_links').values(row).execute();
  },

  endLink: async (db: RegistrationDb, id: string, at: Date, by: string) => {
    await db
      .updateTable('customer_subscription_links')
      .set({ valid_to: at, ended_by: by })
      .where('id', '=', id)
      .where('valid_to', 'is', null)
      .execute();
  },

  endAllLinks: async (db: RegistrationDb, registrationId: string, at: Date, by: string) => {
    await db
      .updateTable('customer_subscription_links')
      .set({ valid_to: at, ended_by: by })
      .where('registration_id', '=', registrationId)
      .where('valid_to', 'is', null)
      .execute();
  },

  liveLinks: (db: RegistrationDb, registrationId: string, cursor: Cursor) =>
    pageQuery(
      db
        .selectFrom('customer_subscription_links')
        .selectAll()
        .where('registration_id', '=', registrationId)
        .where('valid_to', 'is', null),
      LIVE_LINK_ORDER,
      cursor,
    ).execute(),

  /** Every link a registration ever had, oldest first: its history. */
  history: (db: RegistrationDb, registrationId: string) =>
    db
      .selectFrom('customer_subscription_links')
      .selectAll()
      .where('registration_id', '=', registrationId)
      .orderBy('valid_from')
      .orderBy('id')
      .execute(),

  /**
   * The link that held a directory on a deployment at a time: the one rule (`link_in_force`, SQL,
   * in the migrations) that attribution and re-attribution apply too.
   */
  linkAt: async (db: RegistrationDb, cloudId: string, tenantId: string, at: Date) => {
    const { rows } = await sql<CustomerSubscriptionLinksTable>`
      select * from link_in_force(${cloudId}::uuid, ${tenantId}::uuid, ${at}::timestamptz)
    `.execute(db);
    return rows[0];
  },
};
