/** Who owns a webhook, and so which events may reach it. */
export type WebhookOwnerKind = 'system' | 'partner' | 'customer';

/** A receiver of signed event deliveries. Names are global; each owner sees only its own. */
export interface WebhooksTable {
  name: string;
  owner_kind: WebhookOwnerKind;
  /** The partner's or the customer's directory; null for the system administrators. */
  owner_tenant_id: string | null;
  url: string;
  events: string[];
  /** The signing secret, sealed (it must be presented again, so it is not hashed). */
  sealed_secret: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * Something that happened, once. `partner_id` and `customer_id` say who may read what it is about:
 * system administrators read every event, a partner those with its id, a customer those with its.
 */
export interface NotificationEventsTable {
  id: string;
  /** What makes an event once: a second record of the same key is the same event. */
  event_key: string;
  type: string;
  occurred_at: Date;
  data: unknown;
  partner_id: string | null;
  customer_id: string | null;
}

export type DeliveryStatus = 'Pending' | 'Delivered' | 'Failed';

/** One event on its way to one webhook: attempted in order per webhook, until delivered or a day has passed. */
export interface WebhookDeliveriesTable {
  seq: string; // bigserial: the order of deliveries per webhook
  webhook_name: string;
  event_id: string;
  status: DeliveryStatus;
  attempts: number;
  created_at: Date;
  next_attempt_at: Date;
  /** A worker holds the delivery until then (several hub processes share the work). */
  leased_until: Date | null;
  /** Which worker's hold this is: an outcome is recorded only under the hold it was attempted in. */
  lease_id: string | null;
  first_attempt_at: Date | null;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
}

export interface NotificationTables {
  webhooks: WebhooksTable;
  notification_events: NotificationEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
}
