import type { CustomerSubscriptionLinksTable, RegistrationsTable } from './tables.ts';

// Shapes of Microsoft.AzureStack 2017-06-01 (Registration.json, CustomerSubscription.json).

export function registrationView(r: RegistrationsTable) {
  return {
    id: `/subscriptions/${r.subscription_id}/resourceGroups/${r.resource_group}/providers/Microsoft.AzureStack/registrations/${r.name}`,
    name: r.name,
    type: 'Microsoft.AzureStack/registrations',
    location: r.location,
    ...(Object.keys(r.tags).length > 0 ? { tags: r.tags } : {}),
    etag: r.etag,
    properties: { objectId: r.object_id, cloudId: r.cloud_id, billingModel: r.billing_model },
  };
}

export function customerSubscriptionView(reg: RegistrationsTable, link: CustomerSubscriptionLinksTable) {
  return {
    id: `/subscriptions/${reg.subscription_id}/resourceGroups/${reg.resource_group}/providers/Microsoft.AzureStack/registrations/${reg.name}/customerSubscriptions/${link.name}`,
    name: `${reg.name}/${link.name}`,
    type: 'Microsoft.AzureStack/registrations/customerSubscriptions',
    etag: link.etag,
    properties: { tenantId: link.tenant_id },
  };
}
