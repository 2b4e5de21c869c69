import type { NamedArmRow } from '../../arm/tables.ts';

export interface QuotasTable {
  provider: string; // Microsoft.Compute.Admin | Microsoft.Storage.Admin | Microsoft.Network.Admin
  location: string;
  name: string;
  name_key: string;
  subscription_id: string;
  properties: Record<string, number | boolean | string>;
  created_at: Date;
}

export interface PlansTable extends NamedArmRow {
  display_name: string;
  description: string | null;
  external_reference_id: string | null;
  quota_ids: string[];
  sku_ids: string[];
  created_at: Date;
}

export interface OffersTable extends NamedArmRow {
  display_name: string;
  description: string | null;
  external_reference_id: string | null;
  state: 'Private' | 'Public' | 'Decommissioned';
  max_subscriptions_per_account: number | null;
  base_plan_ids: string[];
  addon_plans: { planId: string; maxAcquisitionCount?: number }[];
  created_at: Date;
}

export interface OffersTables {
  quotas: QuotasTable;
  plans: PlansTable;
  offers: OffersTable;
}
