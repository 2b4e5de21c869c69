import type { Generated, JSONColumnType } from 'kysely';

// Metering's tables: what each resource meters between two changes, the usage records closed from
// that (the bridge's outbox), and the closed hours whose history changed since.

/** Meter id → quantity per hour (per month for the meters counted by the month: core/meters.ts `per`). */
export type MeterRates = Record<string, number>;

/** What a resource meters between two changes: rates per meter per hour (or month). */
export interface ResourceStatesTable {
  id: Generated<string>; // bigserial, as text
  resource_id: string;
  subscription_id: string;
  valid_from: Date;
  valid_to: Date | null;
  rates: JSONColumnType<MeterRates>;
  reason: string;
  recorded_at: Date;
}

/** One closed hour of one resource and meter, at one revision: the outbox the bridge delivers. */
export interface UsageRecordsTable {
  resource_id: string;
  meter_id: string;
  hour: Date;
  revision: number;
  quantity: string;
  subscription_id: string;
  tenant_id: string;
  resource_uri: string;
  location: string;
  tags: Record<string, string>;
  reported_at: Date;
  /** Set once the hub acknowledged the batch that carried the record. */
  delivered_at?: Date | null;
}

/** Closed hours to close again: a late report changed their history. */
export interface MeteringDirtyHoursTable {
  hour: Date;
}

/** Where closing has reached (one row): every hour before `closed_until` is closed. */
export interface MeteringWatermarkTable {
  only_row: Generated<boolean>;
  closed_until: Date;
}

/** The outbox's counts per month of usage hour, kept by triggers on `usage_records` (migration 1208). */
export interface UsageRecordCountsTable {
  month: Date;
  undelivered: string; // bigint, as text
  delivered: string;
  last_hour: Date | null;
  last_delivered_hour: Date | null;
}

/** A month whose records went to a file and whose partition was dropped. */
export interface OutboxArchivesTable {
  month: Date;
  file: string;
  rows: string; // bigint, as text
  sha256: string;
  first_reported_at: Date | null;
  last_reported_at: Date | null;
  archived_at: Date;
  archived_by: string;
}

/** The first and last hour written, by the day it was reported (1213): where a usage page's walk starts and stops. */
export interface UsageReportedDaysTable {
  reported_day: string;
  min_hour: Date;
  max_hour: Date;
}

export interface MeteringTables {
  resource_states: ResourceStatesTable;
  usage_records: UsageRecordsTable;
  metering_dirty_hours: MeteringDirtyHoursTable;
  metering_watermark: MeteringWatermarkTable;
  usage_record_counts: UsageRecordCountsTable;
  outbox_archives: OutboxArchivesTable;
  usage_reported_days: UsageReportedDaysTable;
}
