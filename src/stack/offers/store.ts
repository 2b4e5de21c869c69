import { type Kysely, sql } from 'kysely';
import { keyset, pageQuery, type Cursor } from '../../core/paging.ts';
import { jsonValue } from '../../db/database.ts';
import type { OffersTable, OffersTables, PlansTable, QuotasTable } from './tables.ts';

// All SQL of quotas, plans and offers.
export type OffersDb = Kysely<OffersTables>;

/** A provider's quotas at a location: by the primary key (provider, location, name). */
export const QUOTA_ORDER = keyset(
  'quotas',
  [
    ['provider', 'text'],
    ['location', 'text'],
    ['name_key', 'text'],
  ],
  (q: QuotasTable) => [q.provider, q.location, q.name_key],
);
/** A subscription's plans by group and name (unique together there, as its unique index orders them). */
export const PLAN_ORDER = keyset(
  'plans',
  [
    ['resource_group_key', 'text'],
    ['name_key', 'text'],
  ],
  (p: PlansTable) => [p.resource_group_key, p.name_key],
);
/** Offers by name, unique on the stack (index offers_name). */
export const OFFER_ORDER = keyset('offers', [['name_key', 'text']], (o: OffersTable) => [o.name_key]);

export const offersStore = {
  getQuota: (db: OffersDb, provider: string, location: string, name: string) =>
    db
      .selectFrom('quotas')
      .selectAll()
      .where(sql`lower(provider)`, '=', provider.toLowerCase())
      .where(sql`lower(location)`, '=', location.toLowerCase())
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst(),

  /** Inserts or replaces; says whether it is new. */
  putQuota: async (db: OffersDb, row: QuotasTable): Promise<boolean> => {
    const r = await db
      .insertInto('quotas')
      .values({ ...row, properties: jsonValue(row.properties) })
      .onConflict((oc) =>
        oc.columns(['provider', 'location', 'name_key']).doUpdateSet({ properties: jsonValue(row.properties) }),
      )
      .returning(sql<boolean>`(xmax = 0)`.as('inserted'))
      .executeTakeFirstOrThrow();
    return r.inserted;
  },

  listQuotas: (db: OffersDb, provider: string, location: string, cursor: Cursor) =>
    pageQuery(
      db
        .selectFrom('quotas')
        .selectAll()
        .where(sql`lower(provider)`, '=', provider.toLowerCase())
        .where(sql`lower(location)`, '=', location.toLowerCase()),
      QUOTA_ORDER,
      cursor,
    ).execute(),

  deleteQuota: async (db: OffersDb, provider: string, location: string, name: string): Promise<boolean> => {
    const r = await db
      .deleteFrom('quotas')
      .where(sql`lower(provider)`, '=', provider.toLowerCase())
      .where(sql`lower(location)`, '=', location.toLowerCase())
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  },

  getPlan: (db: OffersDb, subscriptionId: string, resourceGroup: string, name: string) =>
    db
      .selectFrom('plans')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('resource_group_key', '=', resourceGroup.toLowerCase())
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst(),

  putPlan: async (db: OffersDb, row: PlansTable, exists: boolean) => {
    if (exists) {
      await db
        .updateTable('plans')
        .set({
          display_name: row.display_name,
          description: row.description,
          external_reference_id: row.external_reference_id,
          quota_ids: row.quota_ids,
          sku_ids: row.sku_ids,
        })
        .where('id', '=', row.id)
        .execute();
    } else await db.insertInto('plans').values(row).execute();
  },

  listPlans: (db: OffersDb, subscriptionId: string, resourceGroup: string | undefined, cursor: Cursor) => {
    let q = db.selectFrom('plans').selectAll().where('subscription_id', '=', subscriptionId);
    if (resourceGroup !== undefined) q = q.where('resource_group_key', '=', resourceGroup.toLowerCase());
    return pageQuery(q, PLAN_ORDER, cursor).execute();
  },

  deletePlan: async (db: OffersDb, id: string) => {
    await db.deleteFrom('plans').where('id', '=', id).execute();
  },

  offersUsingPlan: (db: OffersDb, planId: string) =>
    db
      .selectFrom('offers')
      .select('name')
      .where(sql<boolean>`exists (select 1 from unnest(base_plan_ids) p where lower(p) = ${planId.toLowerCase()})`)
      .execute(),

  getOffer: (db: OffersDb, subscriptionId: string, resourceGroup: string, name: string) =>
    db
      .selectFrom('offers')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('resource_group_key', '=', resourceGroup.toLowerCase())
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst(),

  offerByName: (db: OffersDb, name: string) =>
    db.selectFrom('offers').selectAll().where('name_key', '=', name.toLowerCase()).executeTakeFirst(),

  putOffer: async (db: OffersDb, row: OffersTable, exists: boolean) => {
    const values = { ...row, addon_plans: jsonValue(row.addon_plans) };
    if (exists) {
      await db
        .updateTable('offers')
        .set({
          display_name: values.display_name,
          description: values.description,
          external_reference_id: values.external_reference_id,
          state: values.state,
          max_subscriptions_per_account: values.max_subscriptions_per_account,
          base_plan_ids: values.base_plan_ids,
          addon_plans: values.addon_plans,
        })
        .where('id', '=', row.id)
        .execute();
    } else await db.insertInto('offers').values(values).execute();
  },

  listOffers: (
    db: OffersDb,
    filter: { subscriptionId?: string; resourceGroup?: string; state?: OffersTable['state'] },
    cursor: Cursor,
  ) => {
    let q = db.selectFrom('offers').selectAll();
    if (filter.subscriptionId) q = q.where('subscription_id', '=', filter.subscriptionId);
    if (filter.resourceGroup !== undefined) q = q.where('resource_group_key', '=', filter.resourceGroup.toLowerCase());
    if (filter.state) q = q.where('state', '=', filter.state);
    return pageQuery(q, OFFER_ORDER, cursor).execute();
  },

  deleteOffer: async (db: OffersDb, id: string) => {
    await db.deleteFrom('offers').where('id', '=', id).execute();
  },
};
