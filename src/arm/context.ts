import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.ts';
import { newGuid } from '../core/ids.ts';
import { keyset, type Cursor } from '../core/paging.ts';
import { transaction } from '../db/transactions.ts';
import type { Principal } from '../core/principal.ts';
import type { ArmDb } from './store.ts';
import type { ArmTables, NamedArmRow, SubscriptionsTable } from './tables.ts';

// What the use cases of the ARM base (subscriptions.ts, resource-groups.ts, role-assignments.ts,
// authorization.ts) receive from each role, and the helpers they share.

export interface TenantInfo {
  tenantId: string;
  displayName?: string;
  defaultDomain?: string;
}

/**
 * GET /tenants, by directory id: a partner's user is a guest in every customer's directory, so
 * the list grows with them. The hub's store pages the directories' primary key with it.
 */
export const TENANT_ORDER = keyset('tenants', [['tenant_id', 'uuid']], (t: TenantInfo) => [t.tenantId]);

/** A list of one directory (a stack's, a service principal's) as a page: empty once a cursor is past it. */
export const tenantPage = (t: TenantInfo, cursor: Cursor): TenantInfo[] =>
  // Lower-case GUIDs in text order are in PostgreSQL's uuid order.
  cursor.after === undefined || t.tenantId.toLowerCase() > String(cursor.after[0]) ? [t] : [];

/**
 * A transaction on the role's own database, as a hook receives it: every caller's view of that
 * database holds ARM's subscriptions (a hook is about a subscription). Only the role (hub or stack)
 * knows all its tables: its hooks widen the type to them with Kysely's `withTables`.
 */
export type RoleDb = Kysely<Pick<ArmTables, 'subscriptions'>>;

export interface ArmContext {
  db: ArmDb;
  clock: Clock;
  /** Locations that resources of this role may use. */
  locations(): string[];
  /** A page of the directories the caller may see (GET /tenants), in TENANT_ORDER. */
  tenantsOf(principal: Principal, cursor: Cursor): Promise<TenantInfo[]>;
  /**
   * The type of a principal as its directory object says (User, ServicePrincipal), or undefined
   * when it does not exist there; `tenantId` is the directory of the assignment's scope.
   */
  principalType?(principalId: string, tenantId: string): Promise<string | undefined>;
  /** Roles a principal holds on a subscription without an assignment (the hub: a partner's admin on behalf of). */
  implicitRoles?(principal: Principal, subscription: SubscriptionsTable): Promise<string[]>;
  /** What else goes when a resource group goes (the stack: its resources). */
  onResourceGroupDeleted?(db: RoleDb, subscriptionId: string, resourceGroup: string): Promise<void>;
  /** Keeps a record of a change made in a subscription (the hub: the directory's activity log). */
  recordChange?(
    db: RoleDb,
    actor: Principal,
    subscription: SubscriptionsTable | null,
    change: ArmChange,
  ): Promise<void>;
}

export interface ArmChange {
  operation: string;
  resourceType: string;
  resourceId: string;
  oldValue?: unknown;
  newValue?: unknown;
}

/** The identity of a named resource's row: the existing row's (an update keeps id and spelling), else a new one. */
export function namedRowIdentity(
  existing: NamedArmRow | undefined,
  subscriptionId: string,
  ref: { resourceGroup: string; name: string },
): NamedArmRow {
  return {
    id: existing?.id ?? newGuid(),
    subscription_id: subscriptionId,
    resource_group: existing?.resource_group ?? ref.resourceGroup,
    resource_group_key: ref.resourceGroup.toLowerCase(),
    name: existing?.name ?? ref.name,
    name_key: ref.name.toLowerCase(),
  };
}

/** Runs work in the given transaction, or in a new one (run again when it loses a race: `db/transactions.ts`). */
export function inTransaction<DB, T>(db: Kysely<DB>, work: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : transaction(db, work);
}
