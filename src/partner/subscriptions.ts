import { partnerCenterError } from '../core/errors.ts';
import { inTransaction } from '../arm/service.ts';
import { armStore } from '../arm/store.ts';
import { recordChanges } from '../audit/service.ts';
import { newGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { requireCustomer, requirePartner, type PartnerContext } from './context.ts';
import { checkTransition, cloudStateOf, findOffer, partnerErrors } from './rules.ts';
import { notificationStore } from '../notifications/store.ts';
import { partnerStore } from './store.ts';
import type { PartnerSubscriptionsTable } from './tables.ts';

// A customer's partner-center subscriptions: reading one, and changing its status or name (a
// usage-based one's cloud subscription follows its status).

export function subscriptionRecord(s: PartnerSubscriptionsTable) {
  return {
    id: s.id,
    customerId: s.customer_id,
    offerId: s.offer_id,
    friendlyName: s.friendly_name,
    quantity: s.quantity,
    status: s.status,
    suspensionReasons: s.suspension_reasons,
  };
}

export async function getSubscription(
  ctx: PartnerContext,
  caller: Principal,
  customerId: string,
  subscriptionId: string,
): Promise<PartnerSubscriptionsTable> {
  const partner = await requirePartner(ctx, caller);
  const customer = await requireCustomer(ctx, partner.tenant_id, customerId);
  const sub = /^[0-9a-f-]{36}$/i.test(subscriptionId)
    ? await partnerStore.getSubscription(ctx.db, partner.tenant_id, customer.id, subscriptionId.toLowerCase())
    : undefined;
  if (!sub) throw partnerErrors.notFound('Subscription', subscriptionId);
  return sub;
}

export interface SubscriptionPatch {
  status?: string;
  friendlyName?: string;
  quantity?: number;
}

export async function updateSubscription(
  ctx: PartnerContext,
  caller: Principal,
  customerId: string,
  subscriptionId: string,
  patch: SubscriptionPatch,
) {
  const current = await getSubscription(ctx, caller, customerId, subscriptionId);
  const status =
    patch.status === undefined ? current.status : checkTransition(current.status, patch.status.toLowerCase());
  if (current.status === 'deleted' && (patch.friendlyName ?? current.friendly_name) !== current.friendly_name) {
    throw partnerCenterError(
      'SubscriptionStatusTransitionNotAllowed',
      'A cancelled subscription cannot be changed.',
      'friendlyName',
    );
  }
  if (patch.quantity !== undefined && patch.quantity !== current.quantity) {
    throw partnerCenterError(
      'QuantityChangeNotSupported',
      `The quantity of subscription '${current.id}' cannot be changed here.`,
      'quantity',
    );
  }
  const next: PartnerSubscriptionsTable = {
    ...current,
    status,
    friendly_name: patch.friendlyName ?? current.friendly_name,
    suspension_reasons:
      status === 'suspended'
        ? current.status === 'suspended'
          ? current.suspension_reasons
          : ['PartnerInitiated']
        : [],
  };
  if (next.status === current.status && next.friendly_name === current.friendly_name) return current;
  const now = ctx.arm.clock.now();
  next.updated_at = now;
  next.etag = newGuid();
  return inTransaction(ctx.db, async (db) => {
    await partnerStore.updateSubscription(db, next);
    if (findOffer(next.offer_id)?.billing === 'usage' && next.status !== current.status) {
      await armStore.setSubscriptionState(db, next.id, cloudStateOf(next.status));
    }
    const change = {
      partnerId: current.partner_tenant_id,
      operation: 'UpdateSubscription',
      resourceType: 'Subscription',
      resourceId: next.id,
      oldValue: subscriptionRecord(current),
      newValue: subscriptionRecord(next),
    };
    await recordChanges(db, caller, now, [
      { ...change, directoryId: current.partner_tenant_id },
      { ...change, directoryId: current.customer_id },
    ]);
    if (next.status !== current.status)
      await notificationStore.record(db, [
        {
          key: `subscription.status_changed:${next.id}:${next.etag}`,
          type: 'subscription.status_changed',
          occurredAt: now,
          data: {
            subscriptionId: next.id,
            customerId: next.customer_id,
            offerId: next.offer_id,
            oldStatus: current.status,
            status: next.status,
          },
          partnerId: current.partner_tenant_id,
          customerId: current.customer_id,
        },
      ]);
    return next;
  });
}
