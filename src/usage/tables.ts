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
  /** The record's first attribution, at its received_at (null on records stored before 0550: theirs is in usage_attributed). */
  billed_subscription_id: string | null;
  link_id: string | null;
}

/**
 * Which subscription a received record is billed to, and why, after its first attribution (which
 * the record holds; before 0550, its first too). Never edited: corrections are new rows.
 * `usage_attributions` (a view) is every attribution, with this table's columns.
 */
export interface UsageAttributedTable {
  id: string;
  /** The record's source and hour, carried from it: the distribution and partition columns. */
  source: string;
  hour: Date;
  received_id: string;
  /** The record's meter, resource and location, carried for the daily aggregates (null on rows before 0510). */
  meter_id: string | null;
  resource_uri: string | null;
  location: string | null;
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

/** A statement's attributions of one source and usage day, not yet folded: their keys and quantities, in parallel. */
export interface UsageDailyPendingTable {
  source: string;
  usage_date: string;
  billed_subscription_ids: string[];
  meter_ids: string[];
  resource_uris: string[];
  locations: string[];
  quantities: string[];
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

/** The external meters' event ids seen, each once (the partitioned records' unique keys must hold the hour). */
export interface UsageEventIdsTable {
  source: string;
  event_id: string;
}

/** Kept by statement triggers per source and usage month: what status reads instead of counting rows. */
export interface UsageCountersTable {
  source: string;
  month: string;
  records: string;
  received: string;
  attributed: string;
  conflicts: string;
  refusals: string;
}

/** The first and last hour of the records a source's statement stored, by the day they were received (0561). */
export interface UsageReceivedDaysTable {
  source: string;
  received_day: string;
  min_hour: Date;
  max_hour: Date;
}

/** An archived month: its file, totals and checksum (its partitions are gone). */
export interface UsageArchivesTable {
  month: string;
  file: string;
  name: string;
  records: string;
  attributions: string;
  quantities: Record<string, string>;
  sha256: string;
  archived_at: Date;
  archived_by: string;
  /** When the first and last of its records and attributions were received or made (null: archived before 0562, or empty). */
  first_reported_at: Date | null;
  last_reported_at: Date | null;
}

export interface UsageTables {
  usage_received: UsageReceivedTable;
  usage_attributed: UsageAttributedTable;
  /** A view: every attribution (a record's first, without an id of its own, and usage_attributed's rows, with their record's meter, resource and location). */
  usage_attributions: Omit<UsageAttributedTable, 'id'> & { id: string | null };
  usage_conflicts: UsageConflictsTable;
  usage_daily: UsageDailyTable;
  /** Attributions' daily keys not yet folded into usage_daily (no key: a row per statement, source and day). */
  usage_daily_pending: UsageDailyPendingTable;
  usage_event_ids: UsageEventIdsTable;
  usage_counters: UsageCountersTable;
  usage_received_days: UsageReceivedDaysTable;
  usage_archives: UsageArchivesTable;
}
