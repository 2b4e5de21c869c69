import type { Generated } from 'kysely';
import type { PricingTables } from '../rating/tables.ts';

// Billing on the hub: billing profiles, invoices and credit notes with their lines, credits and
// adjustments (with the price sheets of rating/).

/** A seller is 'provider' (the system, selling to partners) or a partner's tenant id (selling to its customers). */
export type Seller = string;
export type Stream = 'partner' | 'customer';

export interface BillingProfilesTable {
  seller: Seller;
  /** Null: the seller's default for all its buyers. */
  customer_id: string | null;
  billing_day: number;
  /** Percent. */
  tax_rate: string;
  /** Days after a period ends during which its invoice stays a draft (0: finalized at once). */
  grace_period_days: number;
  updated_by: string;
  updated_at: Date;
}

export type InvoiceStatus = 'draft' | 'finalized' | 'voided';

export interface InvoicesTable {
  id: string;
  /** Taken when the invoice is finalized (null while a draft): gapless per seller and prefix. */
  number: string | null;
  status: InvoiceStatus;
  /** `DRAFT-…`: what a draft is addressed by until it has a number. */
  draft_name: string | null;
  /** Generated: the number, else the draft name. */
  name: string;
  /** A draft is finalized by the billing job from then (its period's end plus the grace period). */
  finalize_after: Date | null;
  /** The voided invoice this one was generated to replace. */
  replaces: string | null;
  void_reason: string | null;
  voided_at: Date | null;
  voided_by: string | null;
  /** False for invoices closed before each invoice's share per key was kept: unknown, so they cannot be voided. */
  billed_recorded: boolean;
  /** A partner invoice closed since migration 0696: its usage lines say what it billed (no rows of `billed_daily`). */
  billed_in_lines: boolean;
  stream: Stream;
  kind: 'invoice' | 'credit_note';
  seller: Seller;
  buyer_id: string;
  period: string;
  period_start: Date;
  period_end: Date;
  /** History: the last usage attribution invoices closed before `billed_daily` took in (0 since). */
  watermark: string;
  /** History: the last credit or adjustment invoices closed before `billed_adjustments` took in (0 since). */
  adjustment_watermark: string;
  invoice_date: Date;
  currency: string;
  subtotal: string;
  tax_rate: string;
  tax: string;
  total: string;
  credit_note_for: string | null;
  created_at: Date;
}

export interface InvoiceLinesTable {
  invoice_id: string;
  /** The invoice's buyer: the distribution column, carried so that lines stay with their invoice. */
  buyer_id: string;
  line_no: number;
  line_type: 'usage' | 'late usage' | 'credit' | 'adjustment';
  customer_id: string | null;
  subscription_id: string | null;
  meter_id: string | null;
  resource_uri: string | null;
  location: string | null;
  usage_date: string | null;
  usage_to: string | null;
  tier: number | null;
  quantity: string | null;
  unit_price: string | null;
  amount: string;
  /**
   * The list sheet's unit price of the quantity (before any override; blended over tiers as
   * `unit_price` is); null on lines that are not usage and on lines closed before it was kept.
   */
  list_unit_price: string | null;
  description: string | null;
  reason: string | null;
  created_by: string | null;
}

export interface BillingAdjustmentsTable {
  id: string;
  seller: Seller;
  customer_id: string;
  subscription_id: string | null;
  kind: 'credit' | 'adjustment';
  amount: string;
  description: string;
  reason: string;
  created_by: string;
  created_at: Date;
  /** A credit note corrects this closed invoice at once, as its own document. */
  credit_note_for: string | null;
}

/**
 * One invoice's share of a usage key: what it billed of a buyer's daily aggregate (the buyer's
 * billed quantity is the sum over its invoices), deleted when a draft is re-rated or an invoice voided.
 */
export interface BilledDailyTable {
  buyer_id: string;
  stream: Stream;
  seller: Seller;
  subscription_id: string;
  usage_date: string;
  meter_id: string;
  resource_uri: string;
  location: string;
  quantity: string;
  invoice_id: string;
}

/** The last number taken per seller and prefix (G, INV, CN). */
export interface InvoiceNumberCountersTable {
  seller: Seller;
  prefix: string;
  last: string;
}

/** Which invoice took a credit or adjustment in. */
export interface BilledAdjustmentsTable {
  buyer_id: string;
  adjustment_id: string;
  invoice_id: string;
}

export interface BillingTables extends PricingTables {
  billing_profiles: BillingProfilesTable;
  invoices: InvoicesTable;
  invoice_lines: InvoiceLinesTable;
  billing_adjustments: BillingAdjustmentsTable;
  billed_daily: BilledDailyTable;
  billed_adjustments: BilledAdjustmentsTable;
  invoice_number_counters: InvoiceNumberCountersTable;
  partner_unbilled_lines: PartnerUnbilledLinesTable;
}

/** An asynchronous export (export-jobs.ts): what was asked, by whom, how far it got, and its manifest. */
export interface ExportJobsTable {
  id: string;
  requested_by: string;
  /** Who may read it: the requester's scope of the stream (`{stream, seller?, buyerId?}`). */
  scope: { stream: Stream; seller?: Seller; buyerId?: string };
  /** The invoices it takes (`ExportSelection`). */
  selection: {
    stream: Stream;
    period: string;
    seller?: Seller;
    buyerId?: string;
    kind?: 'invoice' | 'credit_note';
    customerId?: string;
  };
  period: string;
  format: string;
  export_of: string;
  status: 'Running' | 'Succeeded' | 'Failed';
  rows_done: Generated<string>;
  rows_total: string | null;
  manifest: ExportManifestRecord | null;
  error: { code: string; message: string } | null;
  attempts: Generated<number>;
  lease_id: string | null;
  leased_until: Date | null;
  created_at: Date;
  finished_at: Date | null;
  expires_at: Date | null;
  files_removed: Generated<boolean>;
}

/** A finished export's files (numbered from 1) and what they hold. */
export interface ExportManifestRecord {
  /** The folder (under the export's) of the attempt that wrote them. */
  folder: string;
  files: { n: number; rows: number; bytes: number; sha256: string }[];
  rows: number;
  totals: { invoices: number; billedCost: string; subtotal: string; tax: string; total: string; currency: string };
}

/**
 * Per daily aggregate, what partner invoices have not billed of it and, for an untiered day, its
 * daily-rated line (`partner-unbilled.ts`, migration 0670); kept by triggers, read by the page.
 */
export interface PartnerUnbilledLinesTable {
  subscription_id: string;
  meter_id: string;
  usage_date: string;
  resource_uri: string;
  location: string;
  /** Null: the subscription is not billable (no partner buys it). */
  partner_id: string | null;
  customer_id: string | null;
  quantity: string;
  /** The rest are null where the day is tiered or unpriced: a page rates that run whole. */
  tier: number | null;
  unit_price: string | null;
  amount: string | null;
}

export interface ExportJobTables {
  export_jobs: ExportJobsTable;
}
