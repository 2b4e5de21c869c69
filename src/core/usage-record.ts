import { type Tags, tagsWithinRule } from './tags.ts';

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
  /** The resource's tags under ARM's tag rule (src/core/tags.ts), which the hub applies too. */
  tags?: Tags;
  /** The deployment, if named: the hub refuses a record of another deployment than its batch's. */
  cloudId?: string;
}

/** A record as the outbox holds it, with its tags as stored: on the wire they follow the tag rule. */
export function toWire(record: Omit<UsageRecordWire, 'tags'> & { tags?: unknown }): UsageRecordWire {
  const { tags, ...rest } = record;
  const kept = tagsWithinRule(tags);
  return kept ? { ...rest, tags: kept } : rest;
}

/**
 * The most a batch's JSON may weigh: under the 4 MiB body limit of the hub's ARM endpoint
 * (src/http/arm.ts), with room for the envelope. Records with many long tags weigh up to ~150 kB
 * each, so a batch is cut by weight as well as by count, or it could never be delivered.
 */
export const USAGE_BATCH_MAX_BYTES = 3 * 1024 * 1024;

/** The longest run of `records`, from the first, that fits in one batch (always at least one). */
export function batchThatFits<T>(records: T[], maxBytes = USAGE_BATCH_MAX_BYTES): T[] {
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    bytes += Buffer.byteLength(JSON.stringify(records[i])) + 1;
    if (bytes > maxBytes && i > 0) return records.slice(0, i);
  }
  return records;
}
