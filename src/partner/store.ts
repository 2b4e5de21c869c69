import { type Kysely, type RawBuilder, sql } from 'kysely';
import { jsonValue } from '../db/database.ts';
import { keyset, pageQuery, type Cursor } from '../core/paging.ts';
import type {
  CustomersTable,
  OrdersTable,
  PartnerSubscriptionsTable,
  PartnerTables,
  SubscriptionAliasesTable,
} from './tables.ts';

// All SQL of the partner center. Every query is scoped to one partner.
export type PartnerDb = Kysely<PartnerTables>;

const escapeLike = (s: string) => s.replace(/[%_\\]/g, '\\$&');

/** A partner's customers, oldest first (index customers_partner_order, migration 0203). */
export const CUSTOMER_ORDER = keyset(
  'customers',
  [
    ['created_at', 'time'],
    ['id', 'uuid'],
  ],
  (r: CustomersTable) => [r.created_at, r.id],
);
/** A customer's subscriptions, oldest first (index partner_subscriptions_order, migration 0203). */
export const PARTNER_SUBSCRIPTION_ORDER = keyset(
  'partnerSubscriptions',
  [
    ['created_at', 'time'],
    ['id', 'uuid'],
  ],
  (r: PartnerSubscriptionsTable) => [r.created_at, r.id],
);
/** A customer's orders, oldest first (the id, their primary key, breaks ties). */
export const ORDER_LIST_ORDER = keyset(
  'orders',
  [
    ['created_at', 'time'],
    ['id', 'uuid'],
  ],
  (r: OrdersTable) => [r.created_at, r.id],
);

export const partnerStore = {
  insertCustomer: async (db: PartnerDb, row: CustomersTable) => {
    await db
      .insertInto('customers')
      .values({ ...row, billing_profile: jsonValue(row.billing_profile) })
      .execute();
  },

  /** Published: every partner's customers, as a query other domains compose into theirs (billing's buyers). */
  allCustomers: (): RawBuilder<unknown> =>
    sql`select id, partner_tenant_id, company_name, domain, created_at from customers`,

  /** A customer by its directory, whichever partner's. */
  customerById: (db: PartnerDb, id: string) =>
    db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst(),

  getCustomer: (db: PartnerDb, partner: string, id: string) =>
    db
      .selectFrom('customers')
      .selectAll()
      .where('partner_tenant_id', '=', partner)
      .where('id', '=', id)
      .executeTakeFirst(),

  listCustomers: (
    db: PartnerDb,
    partner: string,
    filter: { field?: 'company' | 'domain'; prefix?: string },
    cursor: Cursor,
  ) => {
    let q = db.selectFrom('customers').selectAll().where('partner_tenant_id', '=', partner);
    if (filter.field && filter.prefix !== undefined) {
      const column = filter.field === 'company' ? sql<string>`lower(company_name)` : sql<string>`lower(domain)`;
      q = q.where(column, 'like', `${escapeLike(filter.prefix.toLowerCase())}%`);
    }
    return pageQuery(q, CUSTOMER_ORDER, cursor).execute();
  },

  insertOrder: async (db: PartnerDb, row: OrdersTable) => {
    await db
      .insertInto('orders')
      .values({ ...row, line_items: jsonValue(row.line_items) })
      .execute();
  },

  getOrder: (db: PartnerDb, partner: string, customer: string, id: string) =>
    db
      .selectFrom('orders')
      .selectAll()
      .where('partner_tenant_id', '=', partner)
      .where('customer_id', '=', customer)
      .where('id', '=', id)
      .executeTakeFirst(),

  listOrders: (db: PartnerDb, partner: string, customer: string, cursor: Cursor) =>
    pageQuery(
      db.selectFrom('orders').selectAll().where('partner_tenant_id', '=', partner).where('customer_id', '=', customer),
      ORDER_LIST_ORDER,
      cursor,
    ).execute(),

  insertSubscription: async (db: PartnerDb, row: PartnerSubscriptionsTable) => {
    await db
      .insertInto('partner_subscriptions')
      .values({ ...row, suspension_reasons: jsonValue(row.suspension_reasons) })
      .execute();
  },

  getSubscription: (db: PartnerDb, partner: string, customer: string, id: string) =>
    db
      .selectFrom('partner_subscriptions')
      .selectAll()
      .where('partner_tenant_id', '=', partner)
      .where('customer_id', '=', customer)
      .where('id', '=', id)
      .executeTakeFirst(),

  listSubscriptions: (db: PartnerDb, partner: string, customer: string, cursor: Cursor) =>
    pageQuery(
      db
        .selectFrom('partner_subscriptions')
        .selectAll()
        .where('partner_tenant_id', '=', partner)
        .where('customer_id', '=', customer),
      PARTNER_SUBSCRIPTION_ORDER,
      cursor,
    ).execute(),

  updateSubscription: async (db: PartnerDb, row: PartnerSubscriptionsTable) => {
    await db
      .updateTable('partner_subscriptions')
      .set({
        status: row.status,
        friendly_name: row.friendly_name,
        suspension_reasons: jsonValue(row.suspension_reasons),
        updated_at: row.updated_at,
        etag: row.etag,
      })
      .where('id', '=', row.id)
      .execute();
  },

  getAlias: (db: PartnerDb, tenantId: string, name: string) =>
    db
      .selectFrom('subscription_aliases')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('name', '=', name.toLowerCase())
      .executeTakeFirst(),

  insertAlias: async (db: PartnerDb, row: SubscriptionAliasesTable) => {
    await db
      .insertInto('subscription_aliases')
      .values({ ...row, name: row.name.toLowerCase() })
      .execute();
  },
};
