import type { DeliveryRow } from './store.ts';
import type { WebhooksTable } from './tables.ts';

// Wire shapes of webhooks and their delivery log. The secret is never shown again.

export const WEBHOOKS_TYPE = 'Stackledger.Notifications/webhooks';
export const webhookId = (name: string) => `/providers/${WEBHOOKS_TYPE}/${name}`;

export function webhookView(w: WebhooksTable) {
  return {
    id: webhookId(w.name),
    name: w.name,
    type: WEBHOOKS_TYPE,
    properties: {
      url: w.url,
      events: w.events,
      owner: w.owner_kind === 'system' ? { kind: 'system' } : { kind: w.owner_kind, tenantId: w.owner_tenant_id },
      createdAt: w.created_at.toISOString(),
      updatedAt: w.updated_at.toISOString(),
    },
  };
}

export function deliveryView(name: string, d: DeliveryRow) {
  const iso = (t: Date | null) => (t ? t.toISOString() : null);
  return {
    id: `${webhookId(name)}/deliveries/${d.event_id}`,
    name: d.event_id,
    type: `${WEBHOOKS_TYPE}/deliveries`,
    properties: {
      eventId: d.event_id,
      eventType: d.type,
      eventTime: d.occurred_at.toISOString(),
      status: d.status,
      attempts: d.attempts,
      queuedAt: d.created_at.toISOString(),
      firstAttemptAt: iso(d.first_attempt_at),
      lastAttemptAt: iso(d.last_attempt_at),
      lastStatusCode: d.last_status_code,
      lastError: d.last_error,
      deliveredAt: iso(d.delivered_at),
      nextAttemptAt: d.status === 'Pending' ? d.next_attempt_at.toISOString() : null,
    },
  };
}
