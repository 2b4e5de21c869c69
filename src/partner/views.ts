import type { ActivityLogTable } from '../audit/tables.ts';
import { findOffer, type Offer } from './rules.ts';
import type { CustomersTable, OrdersTable, PartnerSubscriptionsTable } from './tables.ts';

// The partner center's resource shapes.

const link = (uri: string) => ({ uri, method: 'GET', headers: [] as unknown[] });

export function offerView(o: Offer, country: string) {
  return {
    id: o.id,
    name: o.name,
    description: o.description,
    minimumQuantity: o.minimumQuantity,
    maximumQuantity: o.maximumQuantity,
    rank: 0,
    uri: `/v1/offers/${o.id}?country=${country}`,
    locale: 'en-US',
    country,
    category: {
      id: o.billing === 'usage' ? 'Azure' : 'Support',
      name: o.productName,
      rank: 0,
      locale: 'en-US',
      country,
    },
    prerequisiteOffers: [],
    isAddOn: false,
    hasAddOns: false,
    isAvailableForPurchase: true,
    billing: o.billing,
    supportedBillingCycles: ['monthly'],
    isAutoRenewable: o.billing === 'license',
    product: { id: o.id, name: o.productName, unit: o.unitType },
    unitType: o.unitType,
    isTrial: false,
    attributes: { objectType: 'Offer' },
  };
}

export function customerView(c: CustomersTable, userCredentials?: { userName: string; password: string }) {
  return {
    id: c.id,
    commerceId: c.commerce_id,
    companyProfile: {
      tenantId: c.id,
      domain: c.domain,
      companyName: c.company_name,
      attributes: { objectType: 'CustomerCompanyProfile' },
    },
    billingProfile: { ...c.billing_profile, attributes: { etag: c.etag, objectType: 'CustomerBillingProfile' } },
    relationshipToPartner: c.relationship,
    allowDelegatedAccess: true,
    ...(userCredentials ? { userCredentials } : {}),
    links: { self: link(`/v1/customers/${c.id}`) },
    attributes: { objectType: 'Customer' },
  };
}

export function subscriptionView(s: PartnerSubscriptionsTable) {
  const offer = findOffer(s.offer_id);
  const usage = offer?.billing === 'usage';
  return {
    id: s.id,
    entitlementId: s.id,
    offerId: s.offer_id,
    offerName: offer?.name ?? s.offer_id,
    friendlyName: s.friendly_name,
    quantity: s.quantity,
    unitType: offer?.unitType ?? 'Usage-based',
    hasPurchasableAddons: false,
    creationDate: s.created_at.toISOString(),
    effectiveStartDate: s.created_at.toISOString(),
    commitmentEndDate: '9999-12-14T00:00:00Z',
    status: s.status,
    autoRenewEnabled: !usage,
    isTrial: false,
    billingType: usage ? 'usage' : 'license',
    billingCycle: s.billing_cycle,
    contractType: 'subscription',
    orderId: s.order_id,
    suspensionReasons: s.suspension_reasons,
    links: {
      self: link(`/v1/customers/${s.customer_id}/subscriptions/${s.id}`),
      offer: link(`/v1/offers/${s.offer_id}`),
    },
    attributes: { etag: s.etag, objectType: 'Subscription' },
  };
}

export function orderView(o: OrdersTable) {
  return {
    id: o.id,
    referenceCustomerId: o.customer_id,
    billingCycle: o.billing_cycle,
    currencyCode: 'USD',
    lineItems: o.line_items.map((li) => ({
      ...li,
      links: { subscription: link(`/v1/customers/${o.customer_id}/subscriptions/${li.subscriptionId}`) },
    })),
    creationDate: o.created_at.toISOString(),
    status: o.status,
    links: { self: link(`/v1/customers/${o.customer_id}/orders/${o.id}`) },
    attributes: { objectType: 'Order' },
  };
}

export function auditRecordView(r: ActivityLogTable) {
  const value = (r.new_value ?? r.old_value) as { customerId?: string } | null;
  return {
    id: r.id,
    partnerId: r.partner_id,
    customerId: r.resource_type === 'Customer' ? r.resource_id : (value?.customerId ?? null),
    userPrincipalName: r.actor_name,
    actorObjectId: r.actor_object_id,
    actorTenantId: r.actor_tenant_id,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    resourceOldValue: r.old_value === null ? null : JSON.stringify(r.old_value),
    resourceNewValue: r.new_value === null ? null : JSON.stringify(r.new_value),
    operationType: r.operation,
    operationStatus: 'succeeded',
    operationDate: r.occurred_at.toISOString(),
    attributes: { objectType: 'AuditRecord' },
  };
}
