import type { NamedArmRow } from '../arm/tables.ts';
import type { WithGeneratedId } from '../db/database.ts';

export interface RegistrationsTable extends NamedArmRow {
  location: string;
  tags: Record<string, string>;
  object_id: string;
  cloud_id: string;
  billing_model: string;
  registration_token: string;
  /** Approved by the provider for multi-tenancy (customer subscriptions may be added). */
  multi_tenancy_approved: boolean;
  etag: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** A customer subscription linked to a registration, in force from `valid_from` until `valid_to`. */
export interface CustomerSubscriptionLinksTable {
  id: string; // bigserial, as text
  registration_id: string;
  cloud_id: string;
  customer_subscription_id: string;
  name: string; // as the caller gave it
  tenant_id: string;
  etag: string;
  valid_from: Date;
  valid_to: Date | null;
  created_by: string;
  ended_by: string | null;
}

export interface RegistrationTables {
  registrations: RegistrationsTable;
  customer_subscription_links: WithGeneratedId<CustomerSubscriptionLinksTable>;
}
