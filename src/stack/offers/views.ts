import type { SubscriptionsTable } from '../../arm/tables.ts';
import { offerResourceId, planResourceId, quotaResourceId, tenantOfferId } from './rules.ts';
import type { OffersTable, PlansTable, QuotasTable } from './tables.ts';

// Shapes of Microsoft.Subscriptions.Admin, the admin quota resources, and Microsoft.Subscriptions
// (api-version 2015-11-01).

export function quotaView(q: QuotasTable) {
  return {
    id: quotaResourceId(q.subscription_id, q.provider, q.location, q.name),
    name: `${q.location}/${q.name}`,
    type: `${q.provider}/locations/quotas`,
    location: q.location,
    properties: q.properties,
  };
}

export function planView(p: PlansTable, location: string, subscriptionCount: number) {
  return {
    id: planResourceId(p.subscription_id, p.resource_group, p.name),
    name: p.name,
    type: 'Microsoft.Subscriptions.Admin/plans',
    location,
    properties: {
      name: p.name,
      displayName: p.display_name,
      description: p.description ?? undefined,
      externalReferenceId: p.external_reference_id ?? undefined,
      quotaIds: p.quota_ids,
      skuIds: p.sku_ids,
      subscriptionCount,
    },
  };
}

export function offerView(o: OffersTable, location: string, subscriptionCount: number) {
  return {
    id: offerResourceId(o.subscription_id, o.resource_group, o.name),
    name: o.name,
    type: 'Microsoft.Subscriptions.Admin/offers',
    location,
    properties: {
      name: o.name,
      displayName: o.display_name,
      description: o.description ?? undefined,
      externalReferenceId: o.external_reference_id ?? undefined,
      state: o.state,
      subscriptionCount,
      maxSubscriptionsPerAccount: o.max_subscriptions_per_account ?? undefined,
      basePlanIds: o.base_plan_ids,
      addonPlans: o.addon_plans,
    },
  };
}

/** An offer as tenants see it. */
export function tenantOfferView(o: OffersTable) {
  return {
    id: tenantOfferId(o.name),
    name: o.name,
    displayName: o.display_name,
    description: o.description ?? undefined,
  };
}

/** A subscription as Microsoft.Subscriptions shows it to its tenant. */
export function tenantSubscriptionView(s: SubscriptionsTable) {
  return {
    id: `/subscriptions/${s.subscription_id}`,
    subscriptionId: s.subscription_id,
    displayName: s.display_name,
    tenantId: s.tenant_id,
    offerId: s.offer_id ?? undefined,
    state: s.state,
  };
}

/** A subscription as Microsoft.Subscriptions.Admin shows it to the operator. */
export function adminSubscriptionView(
  s: SubscriptionsTable,
  providerSubscriptionId: string,
  offer: OffersTable | undefined,
) {
  return {
    id: `/subscriptions/${providerSubscriptionId}/providers/Microsoft.Subscriptions.Admin/subscriptions/${s.subscription_id}`,
    subscriptionId: s.subscription_id,
    delegatedProviderSubscriptionId: providerSubscriptionId,
    displayName: s.display_name,
    owner: s.owner ?? undefined,
    tenantId: s.tenant_id,
    routingResourceManagerType: s.subscription_id === providerSubscriptionId ? 'Admin' : 'Default',
    offerId: offer
      ? offerResourceId(offer.subscription_id, offer.resource_group, offer.name)
      : (s.offer_id ?? undefined),
    state: s.state,
  };
}
