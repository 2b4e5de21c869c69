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

export interface UsageTables {
  usage_received: UsageReceivedTable;
  usage_attributed: UsageAttributedTable;
}
