import { partnerCenterError } from '../core/errors.ts';
import type { Kysely } from 'kysely';
import type { ArmContext } from '../arm/service.ts';
import type { Principal } from '../core/principal.ts';
import { administeredDirectory } from '../identity/graph.ts';
import type { IdentityService } from '../identity/service.ts';
import type { IdentityDb } from '../identity/store.ts';
import type { ArmTables } from '../arm/tables.ts';
import type { AuditTables } from '../audit/tables.ts';
import type { DirectoriesTable, IdentityTables } from '../identity/tables.ts';
import type { UsageTables } from '../usage/tables.ts';
import { partnerErrors } from './rules.ts';
import { partnerStore } from './store.ts';
import type { CustomersTable, PartnerTables } from './tables.ts';

// What the partner center's use cases (customers.ts, orders.ts, subscriptions.ts) share. The partner
// is the caller's directory; every read and write is scoped to it, and what belongs to another
// partner answers 404, so that existence does not leak.

export interface PartnerContext {
  /**
   * The partner center's tables, and those of the domains it works through: identity, ARM and the
   * activity log (written with each change), usage (its utilization records).
   */
  db: Kysely<PartnerTables & IdentityTables & ArmTables & AuditTables & UsageTables>;
  identity: IdentityService;
  arm: ArmContext;
  domainSuffix: string;
  /** Records a page of utilization records without details reads at most (`USAGE_PAGE_RECORDS`). */
  usagePageRecords: number;
}

/**
 * The partner a caller acts for (admin on behalf of): its directory, when that is a partner and the
 * caller administers it (`administeredDirectory`: a Global Administrator, by the directory role it
 * was given, or the directory's own application). A plain member, a guest, or another directory's
 * application consented into the partner's directory (a stack's, say), acts for nobody.
 */
export async function actingPartner(db: IdentityDb, caller: Principal): Promise<DirectoriesTable | undefined> {
  const dir = await administeredDirectory(db, caller);
  return dir?.kind === 'partner' ? dir : undefined;
}

export async function requirePartner(ctx: PartnerContext, caller: Principal): Promise<DirectoriesTable> {
  const dir = await actingPartner(ctx.db, caller);
  if (!dir)
    throw partnerCenterError(
      'Forbidden',
      `The caller is not a partner of this cloud, nor one of a partner directory's own identities.`,
    );
  return dir;
}

export async function requireCustomer(
  ctx: PartnerContext,
  partner: string,
  customerId: string,
): Promise<CustomersTable> {
  const c = /^[0-9a-f-]{36}$/i.test(customerId)
    ? await partnerStore.getCustomer(ctx.db, partner, customerId.toLowerCase())
    : undefined;
  if (!c) throw partnerErrors.notFound('Customer', customerId);
  return c;
}
