export interface CustomersTable {
  id: string; // the customer's directory (tenant) id
  partner_tenant_id: string;
  commerce_id: string;
  company_name: string;
  domain: string;
  billing_profile: BillingProfile;
  relationship: 'reseller' | 'delegated';
  /** The customer's first administrator, Owner of each subscription bought for the customer. */
  admin_object_id: string;
  created_at: Date;
  etag: string;
}

export interface BillingProfile {
  id: string;
  email: string;
  culture: string;
  language: string;
  companyName: string;
  defaultAddress: Record<string, string>;
}

export interface OrdersTable {
  id: string;
  customer_id: string;
  partner_tenant_id: string;
  billing_cycle: string;
  line_items: OrderLineItem[];
  status: string;
  created_at: Date;
}

export interface OrderLineItem {
  lineItemNumber: number;
  offerId: string;
  subscriptionId: string;
  friendlyName: string;
  quantity: number;
}

export interface PartnerSubscriptionsTable {
  id: string;
  customer_id: string;
  partner_tenant_id: string;
  offer_id: string;
  friendly_name: string;
  quantity: number;
  status: 'active' | 'suspended' | 'deleted';
  suspension_reasons: string[];
  billing_cycle: string;
  order_id: string;
  created_at: Date;
  updated_at: Date;
  etag: string;
}

export interface SubscriptionAliasesTable {
  tenant_id: string;
  name: string;
  subscription_id: string;
  created_at: Date;
}

export interface PartnerTables {
  subscription_aliases: SubscriptionAliasesTable;
  customers: CustomersTable;
  orders: OrdersTable;
  partner_subscriptions: PartnerSubscriptionsTable;
}
