/** A usage record as the hub received it from a deployment (or an external meter): stored once. */
export interface UsageReceivedTable {
  id: string; // bigserial, as text
  source: string; // 'deployment:{cloudId}' or a CloudEvents source
  cloud_id: string | null;
  registration_id: string | null;
  resource_id: string;
  resource_uri: string;
  meter_id: string;
  hour: Date;
  revision: number;
  quantity: string;
  stack_subscription_id: string | null;
  tenant_id: string | null;
  location: string;
  tags: Record<string, string>;
  received_at: Date;
  batch_id: string;
}

/** Which subscription a received record is billed to, and why. Never edited: corrections are new rows. */
export interface UsageAttributedTable {
  id: string;
  received_id: string;
  billed_subscription_id: string;
  link_id: string | null;
  reason: string;
  quantity: string;
  attributed_at: Date;
  reattribution_id: string | null;
}

/** A deployment's record refused because its key was already received with another quantity. */
export interface UsageConflictsTable {
  id: string;
  source: string;
  cloud_id: string | null;
  resource_id: string;
  meter_id: string;
  hour: Date;
  revision: number;
  stored_quantity: string;
  offered_quantity: string;
  first_refused_at: Date;
  last_refused_at: Date;
  refusals: number;
}

/** The attributed quantity per billed subscription, usage day (UTC), meter, resource and location. */
export interface UsageDailyTable {
  billed_subscription_id: string;
  usage_date: string;
  meter_id: string;
  resource_uri: string;
  location: string;
  quantity: string;
}

export interface UsageTables {
  usage_received: UsageReceivedTable;
  usage_attributed: UsageAttributedTable;
  usage_conflicts: UsageConflictsTable;
  usage_daily: UsageDailyTable;
}
