// A closed usage record as it crosses from a deployment to the hub: the bridge's wire shape.
// Shared by both roles: the stack writes it, the hub reads it.
export interface UsageRecordWire {
  resourceId: string;
  resourceUri: string;
  meterId: string;
  /** The usage hour's start, ISO 8601 UTC. */
  hour: string;
  revision: number;
  /** Decimal with at most 9 places; may be negative for a correction. */
  quantity: string;
  /** The stack subscription the resource lives in. */
  subscriptionId: string;
  /** The directory that owns that subscription: what attribution looks up. */
  tenantId: string;
  location: string;
  tags?: Record<string, string>;
}
