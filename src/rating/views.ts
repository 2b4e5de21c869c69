// Wire shape of a price sheet (both roles).

export function priceSheetView(
  sheet: { name: string; currency: string; description: string },
  prices: {
    meter_id: string;
    effective_from: string | Date;
    tier_from: string;
    unit_price: string;
    created_by: string;
  }[],
) {
  const byKey = new Map<
    string,
    { meterId: string; effectiveFrom: string; source: string; tiers: { fromQuantity: string; unitPrice: string }[] }
  >();
  for (const p of prices) {
    const effectiveFrom =
      typeof p.effective_from === 'string' ? p.effective_from : p.effective_from.toISOString().slice(0, 10);
    const key = `${p.meter_id}/${effectiveFrom}`;
    if (!byKey.has(key)) byKey.set(key, { meterId: p.meter_id, effectiveFrom, source: p.created_by, tiers: [] });
    byKey.get(key)!.tiers.push({ fromQuantity: p.tier_from, unitPrice: p.unit_price });
  }
  return {
    id: `/providers/Stackledger.Billing/priceSheets/${sheet.name}`,
    name: sheet.name,
    type: 'Stackledger.Billing/priceSheets',
    properties: { currency: sheet.currency, description: sheet.description, prices: [...byKey.values()] },
  };
}
