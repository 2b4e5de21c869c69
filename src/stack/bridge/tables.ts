/** An outbox record the hub refused: held until retried or dropped. */
export interface UsageQuarantineTable {
  id: string; // bigserial, as text
  hour: Date;
  resource_id: string;
  meter_id: string;
  revision: number;
  state: QuarantineState;
  /** The hub's answer: HTTP status, ARM code and message. */
  status: number;
  code: string;
  message: string;
  quarantined_at: Date;
  refused_at: Date;
  retries: number;
  retried_at: Date | null;
  retried_by: string | null;
  dropped_at: Date | null;
  dropped_by: string | null;
  drop_reason: string | null;
}

/** held: not sent; released: back in the outbox after a retry; dropped: kept out for good. */
export type QuarantineState = 'held' | 'released' | 'dropped';

/** Records in the quarantine per state, kept by its statement triggers (1303). */
export interface UsageQuarantineCountsTable {
  state: QuarantineState;
  records: string;
}

export interface BridgeTables {
  usage_quarantine: UsageQuarantineTable;
  usage_quarantine_counts: UsageQuarantineCountsTable;
}
