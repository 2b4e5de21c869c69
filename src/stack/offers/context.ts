import { type ArmContext, authorize, requireSubscription } from '../../arm/service.ts';
import { armError } from '../../core/errors.ts';
import type { Principal } from '../../core/principal.ts';
import type { OffersDb } from './store.ts';

// What every use case of the catalogue (quotas, plans, offers) and of tenant subscriptions shares:
// its context and the checks of where catalogue resources live.

export interface OffersContext {
  arm: ArmContext;
  db: OffersDb;
  providerSubscriptionId: () => string | undefined;
  /** Finds a user's object id in its directory (the owner the operator names), through the hub. */
  findUser(tenantId: string, userPrincipalName: string): Promise<string | undefined>;
  /** A subscription was suspended, re-enabled or deleted: its resources meter accordingly. */
  onSubscriptionStateChanged?(subscriptionId: string): Promise<void>;
}

/** A plan or an offer, as its path names it. */
export interface CatalogRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/** Catalogue resources live in the default provider subscription, for its Owners and Contributors. */
export async function requireProviderScope(
  ctx: OffersContext,
  principal: Principal,
  subscriptionId: string,
  action: string,
  scope: string,
) {
  const sub = await requireSubscription(ctx.arm, subscriptionId);
  await authorize(ctx.arm, principal, action, scope);
  if (sub.subscription_id !== ctx.providerSubscriptionId()) {
    throw armError(
      'NotDefaultProviderSubscription',
      `This resource type lives in the default provider subscription '${ctx.providerSubscriptionId()}'.`,
    );
  }
  return sub;
}

/** A plan or an offer that the caller may read (`action` at `scope`), or `notFound`'s error. */
export async function readCatalogItem<Row>(
  ctx: OffersContext,
  principal: Principal,
  ref: CatalogRef,
  rights: { action: string; scope: string },
  get: (db: OffersDb, subscriptionId: string, resourceGroup: string, name: string) => Promise<Row | undefined>,
  notFound: (name: string) => Error,
): Promise<Row> {
  const sub = await requireProviderScope(ctx, principal, ref.subscriptionId, rights.action, rights.scope);
  const row = await get(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  if (!row) throw notFound(ref.name);
  return row;
}
