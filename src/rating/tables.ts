// Price sheets, in both roles: effective-dated prices per meter with tiers, and sellers' overrides.

export interface PriceSheetsTable {
  name: string;
  currency: string;
  description: string;
  created_at: Date;
}

export interface PricesTable {
  sheet: string;
  meter_id: string;
  effective_from: string; // a date, YYYY-MM-DD
  tier_from: string;
  unit_price: string;
  created_by: string;
  created_at: Date;
}

export interface PriceOverridesTable {
  id: string;
  seller: string;
  customer_id: string | null;
  offer_id: string | null;
  meter_id: string | null;
  kind: 'markup' | 'discount' | 'fixed';
  value: string;
  effective_from: string;
  reason: string;
  created_by: string;
  created_at: Date;
}

export interface PricingTables {
  price_sheets: PriceSheetsTable;
  prices: PricesTable;
  price_overrides: PriceOverridesTable;
}
