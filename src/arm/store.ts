import { type Kysely, type RawBuilder, sql } from 'kysely';
import { keyset, pageQuery, type Cursor } from '../core/paging.ts';
import { jsonValue, type StatementTriggerFunctions, statementTriggers } from '../db/database.ts';
import type { ArmTables, ResourceGroupsTable, RoleAssignmentsTable, SubscriptionsTable } from './tables.ts';
import { transaction } from '../db/transactions.ts';

// All SQL of the ARM base. Nothing else touches these tables.
export type ArmDb = Kysely<ArmTables>;
/** Any database that holds ARM's settings: another domain hands its own, typed with this table. */
export type SettingsDb = Kysely<Pick<ArmTables, 'settings'>>;

// The lists' orders, each unique and backed by an index (migrations 0001, 0005).
export const SUBSCRIPTION_ORDER = keyset('subscriptions', [['subscription_id', 'uuid']], (r: SubscriptionsTable) => [
  r.subscription_id,
]);
export const RESOURCE_GROUP_ORDER = keyset('resourceGroups', [['name_key', 'text']], (r: ResourceGroupsTable) => [
  r.name_key,
]);
export const ROLE_ASSIGNMENT_ORDER = keyset(
  'roleAssignments',
  [
    ['created_at', 'time'],
    ['name', 'uuid'],
  ],
  (r: RoleAssignmentsTable) => [r.created_at, r.name],
);

/** Role assignments of the principals at the scopes (each list not empty: `in ()` is no SQL). */
const assignmentsAtQuery = (db: ArmDb, principalIds: string[], scopeKeys: string[]) =>
  db.selectFrom('role_assignments').where('principal_id', 'in', principalIds).where('scope_key', 'in', scopeKeys);

export const armStore = {
  async getSetting<T>(db: SettingsDb, key: string): Promise<T | undefined> {
    const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value as T | undefined;
  },

  async putSetting(db: SettingsDb, key: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value);
    await db
      .insertInto('settings')
      .values({ key, value: json })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: json }))
      .execute();
  },

  async deleteSetting(db: SettingsDb, key: string): Promise<void> {
    await db.deleteFrom('settings').where('key', '=', key).execute();
  },

  /**
   * Changes some fields of a setting in one statement (made when missing): `set` replaces fields,
   * `unset` removes them, `add` adds to numeric fields (absent ones count as 0).
   */
  async updateSetting(
    db: SettingsDb,
    key: string,
    change: { set?: Record<string, unknown>; unset?: string[]; add?: Record<string, number> },
  ): Promise<void> {
    const set = JSON.stringify(change.set ?? {});
    const add = JSON.stringify(change.add ?? {});
    const unset = change.unset ?? [];
    await sql`
      insert into settings as s (key, value)
      select ${key}, ${set}::jsonb || coalesce((select jsonb_object_agg(a.key, a.value) from jsonb_each(${add}::jsonb) a), '{}')
      on conflict (key) do update set value = (s.value - ${unset}::text[]) || ${set}::jsonb || coalesce((
        select jsonb_object_agg(a.key, to_jsonb(coalesce((s.value ->> a.key)::numeric, 0) + a.value::text::numeric))
        from jsonb_each(${add}::jsonb) a), '{}')
    `.execute(db);
  },

  async getSubscription(db: ArmDb, subscriptionId: string): Promise<SubscriptionsTable | undefined> {
    return db.selectFrom('subscriptions').selectAll().where('subscription_id', '=', subscriptionId).executeTakeFirst();
  },

  /**
   * The facts of a cloud subscription, read the way an upstream resolver answers: settled (not in
   * the middle of a change, such as a cancellation being written) and bounded in time, so that a
   * look-up that cannot complete fails instead of hanging.
   */
  async settledSubscription(db: ArmDb, subscriptionId: string) {
    return transaction(db, async (trx) => {
      await sql`set local lock_timeout = '2s'`.execute(trx);
      await sql`set local statement_timeout = '5s'`.execute(trx);
      return trx
        .selectFrom('subscriptions')
        .select(['subscription_id', 'tenant_id', 'offer_id', 'sold_by', 'state'])
        .where('subscription_id', '=', subscriptionId)
        .forShare()
        .executeTakeFirst();
    });
  },

  /**
   * Published: every subscription with who holds it (its directory) and who sold it, as a query
   * that other domains compose into theirs (billing's buyers, the names on invoices).
   */
  subscriptionOwnership: (): RawBuilder<unknown> =>
    sql`select subscription_id, tenant_id, offer_id, sold_by, display_name from subscriptions`,

  /**
   * Published, as migration DDL: statement triggers `${name}_inserted`, `_updated` and `_deleted`
   * on the subscriptions, calling a subscriber's trigger functions, which read the statement's
   * rows (`subscriptionOwnership`'s columns) as `new_subscriptions` (inserted, or updated: after)
   * and `old_subscriptions` (updated: before, or deleted). Billing re-prices a buyer's rows with them.
   */
  subscriptionTriggers: (name: string, functions: StatementTriggerFunctions) =>
    statementTriggers('subscriptions', 'subscriptions', name, functions),

  /** Live subscriptions per offer id (the stack's offers show how many each has). */
  async liveSubscriptionCounts(db: ArmDb, offerIds: string[]): Promise<Map<string, number>> {
    if (offerIds.length === 0) return new Map();
    const rows = await db
      .selectFrom('subscriptions')
      .select(['offer_id', sql<string>`count(*)`.as('n')])
      .where('offer_id', 'in', offerIds)
      .where('state', '!=', 'Deleted')
      .groupBy('offer_id')
      .execute();
    return new Map(rows.map((r) => [String(r.offer_id), Number(r.n)]));
  },

  /** How many live subscriptions of an offer one owner holds in a directory (an offer's limit per account). */
  async liveSubscriptionsOfOwner(db: ArmDb, tenantId: string, owner: string, offerId: string): Promise<number> {
    const r = await db
      .selectFrom('subscriptions')
      .select(sql<string>`count(*)`.as('n'))
      .where('tenant_id', '=', tenantId)
      .where('owner', '=', owner)
      .where('offer_id', '=', offerId)
      .where('state', '!=', 'Deleted')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  },

  /** The stack: a subscription's owner, by sign-in name, as the operator set it. */
  async setSubscriptionOwner(db: ArmDb, subscriptionId: string, owner: string): Promise<void> {
    await db.updateTable('subscriptions').set({ owner }).where('subscription_id', '=', subscriptionId).execute();
  },

  async insertSubscription(db: ArmDb, row: SubscriptionsTable): Promise<void> {
    await db.insertInto('subscriptions').values(row).execute();
  },

  /**
   * Locks a subscription's row until the transaction ends, so that checks of what it holds
   * (quotas) and the write that follows are not interleaved with another's. NO KEY UPDATE: rows
   * that refer to the subscription can still be inserted meanwhile.
   */
  async lockSubscription<DB>(db: Kysely<DB>, subscriptionId: string): Promise<void> {
    await sql`select 1 from subscriptions where subscription_id = ${subscriptionId}::uuid for no key update`.execute(
      db,
    );
  },

  async setSubscriptionState(db: ArmDb, subscriptionId: string, state: string): Promise<void> {
    await db.updateTable('subscriptions').set({ state }).where('subscription_id', '=', subscriptionId).execute();
  },

  /** Subscriptions where the principal holds any role assignment, at the subscription or below. */
  async subscriptionsVisibleTo(db: ArmDb, principalIds: string[], cursor: Cursor): Promise<SubscriptionsTable[]> {
    if (principalIds.length === 0) return [];
    const q = db
      .selectFrom('subscriptions')
      .selectAll()
      .where('state', '!=', 'Deleted')
      .where(
        'subscription_id',
        'in',
        db.selectFrom('role_assignments').select('subscription_id').where('principal_id', 'in', principalIds),
      );
    return pageQuery(q, SUBSCRIPTION_ORDER, cursor).execute();
  },

  /** Every live subscription of the role, for its operator. */
  async listSubscriptions(db: ArmDb, cursor: Cursor): Promise<SubscriptionsTable[]> {
    const q = db.selectFrom('subscriptions').selectAll().where('state', '!=', 'Deleted');
    return pageQuery(q, SUBSCRIPTION_ORDER, cursor).execute();
  },

  async getResourceGroup(db: ArmDb, subscriptionId: string, name: string): Promise<ResourceGroupsTable | undefined> {
    return db
      .selectFrom('resource_groups')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst();
  },

  /** Inserts or updates; says whether the row is new. */
  async upsertResourceGroup(db: ArmDb, row: ResourceGroupsTable): Promise<boolean> {
    const result = await db
      .insertInto('resource_groups')
      .values({ ...row, tags: jsonValue(row.tags) })
      .onConflict((oc) =>
        oc
          .columns(['subscription_id', 'name_key'])
          .doUpdateSet({ tags: jsonValue(row.tags), managed_by: row.managed_by }),
      )
      .returning(sql<boolean>`(xmax = 0)`.as('inserted'))
      .executeTakeFirstOrThrow();
    return result.inserted;
  },

  async listResourceGroups(
    db: ArmDb,
    subscriptionId: string,
    cursor: Cursor,
    onlyNameKeys?: string[],
  ): Promise<ResourceGroupsTable[]> {
    let q = db.selectFrom('resource_groups').selectAll().where('subscription_id', '=', subscriptionId);
    if (onlyNameKeys !== undefined) {
      if (onlyNameKeys.length === 0) return [];
      q = q.where('name_key', 'in', onlyNameKeys);
    }
    return pageQuery(q, RESOURCE_GROUP_ORDER, cursor).execute();
  },

  async deleteResourceGroup(db: ArmDb, subscriptionId: string, name: string): Promise<boolean> {
    const scopePrefix = `/subscriptions/${subscriptionId}/resourcegroups/${name.toLowerCase()}`;
    await db
      .deleteFrom('role_assignments')
      .where('subscription_id', '=', subscriptionId)
      .where((eb) =>
        eb.or([
          eb('scope_key', '=', scopePrefix),
          eb('scope_key', 'like', `${scopePrefix.replace(/[%_\\]/g, '\\$&')}/%`),
        ]),
      )
      .execute();
    const result = await db
      .deleteFrom('resource_groups')
      .where('subscription_id', '=', subscriptionId)
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  },

  /** The assignments of a principal at any of the given scopes. */
  async assignmentsAt(db: ArmDb, principalIds: string[], scopeKeys: string[]): Promise<RoleAssignmentsTable[]> {
    if (principalIds.length === 0 || scopeKeys.length === 0) return [];
    return assignmentsAtQuery(db, principalIds, scopeKeys).selectAll().execute();
  },

  /**
   * A subscription with the roles a principal is assigned at any of the given scopes (as
   * `assignmentsAt`), in one statement: a read of a subscription's usage asks both, and on these
   * machines each statement's round trip costs the server ~0.3 ms of its own time.
   */
  async subscriptionWithAssignedRoles(
    db: ArmDb,
    subscriptionId: string,
    principalIds: string[],
    scopeKeys: string[],
  ): Promise<{ subscription: SubscriptionsTable; roleIds: string[] } | undefined> {
    if (principalIds.length === 0 || scopeKeys.length === 0) throw new Error('a principal and a scope are needed');
    const row = await db
      .selectFrom('subscriptions')
      .selectAll()
      .select(
        sql<
          string[]
        >`array(${assignmentsAtQuery(db, principalIds, scopeKeys).select(sql<string>`role_definition_id::text`.as('id'))})`.as(
          'assigned_role_ids',
        ),
      )
      .where('subscription_id', '=', subscriptionId)
      .executeTakeFirst();
    if (!row) return undefined;
    const { assigned_role_ids, ...subscription } = row;
    return { subscription, roleIds: assigned_role_ids };
  },

  /** The roles a principal is assigned anywhere. */
  async roleIdsOf(db: ArmDb, principalIds: string[]): Promise<string[]> {
    if (principalIds.length === 0) return [];
    const rows = await db
      .selectFrom('role_assignments')
      .select('role_definition_id')
      .distinct()
      .where('principal_id', 'in', principalIds)
      .execute();
    return rows.map((r) => r.role_definition_id);
  },

  /** The assignments at the root scope `/`. */
  async rootAssignments(db: ArmDb, cursor: Cursor, principalId?: string): Promise<RoleAssignmentsTable[]> {
    let q = db.selectFrom('role_assignments').selectAll().where('scope_key', '=', '/');
    if (principalId !== undefined) q = q.where('principal_id', '=', principalId);
    return pageQuery(q, ROLE_ASSIGNMENT_ORDER, cursor).execute();
  },

  async hasAnyAssignmentInSubscription(db: ArmDb, principalIds: string[], subscriptionId: string): Promise<boolean> {
    if (principalIds.length === 0) return false;
    const row = await db
      .selectFrom('role_assignments')
      .select('name')
      .where('principal_id', 'in', principalIds)
      .where('subscription_id', '=', subscriptionId)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  },

  /** Name keys of the groups in which a principal holds a role, at the group or below. */
  async groupsWithAssignments(db: ArmDb, principalIds: string[], subscriptionId: string): Promise<string[]> {
    if (principalIds.length === 0) return [];
    const rows = await db
      .selectFrom('role_assignments')
      .select('scope_key')
      .where('principal_id', 'in', principalIds)
      .where('subscription_id', '=', subscriptionId)
      .execute();
    const keys = rows.map((r) => r.scope_key.split('/')[4]).filter((k): k is string => k !== undefined);
    return [...new Set(keys)];
  },

  async getRoleAssignment(db: ArmDb, name: string): Promise<RoleAssignmentsTable | undefined> {
    return db.selectFrom('role_assignments').selectAll().where('name', '=', name.toLowerCase()).executeTakeFirst();
  },

  async findEquivalentAssignment(
    db: ArmDb,
    scopeKey: string,
    roleId: string,
    principalId: string,
  ): Promise<RoleAssignmentsTable | undefined> {
    return db
      .selectFrom('role_assignments')
      .selectAll()
      .where('scope_key', '=', scopeKey)
      .where('role_definition_id', '=', roleId)
      .where('principal_id', '=', principalId)
      .executeTakeFirst();
  },

  async insertRoleAssignment(db: ArmDb, row: RoleAssignmentsTable): Promise<void> {
    await db.insertInto('role_assignments').values(row).execute();
  },

  /** Inserts the assignment unless the same role is already assigned to the principal at the scope. */
  async ensureRoleAssignment(db: ArmDb, row: RoleAssignmentsTable): Promise<void> {
    await db
      .insertInto('role_assignments')
      .values(row)
      .onConflict((oc) => oc.columns(['scope_key', 'role_definition_id', 'principal_id']).doNothing())
      .execute();
  },

  async deleteRoleAssignment(db: ArmDb, name: string): Promise<boolean> {
    const result = await db.deleteFrom('role_assignments').where('name', '=', name.toLowerCase()).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  },

  /**
   * Assignments that apply at a scope: those above it and at it (`atScope`), and without that
   * filter also those below it, as ARM lists them.
   */
  async listRoleAssignments(
    db: ArmDb,
    subscriptionId: string,
    ancestorKeys: string[],
    scopeKey: string,
    filter: { atScopeOnly: boolean; principalId?: string },
    cursor: Cursor,
  ): Promise<RoleAssignmentsTable[]> {
    let q = db.selectFrom('role_assignments').selectAll().where('subscription_id', '=', subscriptionId);
    q = q.where((eb) =>
      filter.atScopeOnly
        ? eb('scope_key', 'in', ancestorKeys)
        : eb.or([
            eb('scope_key', 'in', ancestorKeys),
            eb('scope_key', 'like', `${scopeKey.replace(/[%_\\]/g, '\\$&')}/%`),
          ]),
    );
    if (filter.principalId !== undefined) q = q.where('principal_id', '=', filter.principalId);
    return pageQuery(q, ROLE_ASSIGNMENT_ORDER, cursor).execute();
  },
};
