import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { findMeter } from '../core/meters.ts';
import { billingStore, type BillingDb, type StoredLine } from './store.ts';
import type { InvoicesTable } from './tables.ts';
import { customerLineView, dailyRatedLineView, type Names } from './views.ts';

// Exports of closed invoices, streamed: lines are read in keyset batches and written as they come,
// so memory stays flat whatever the size. Three formats:
// - `recon`: the partner center's daily-rated usage reconciliation file (its PascalCase columns);
// - `focus`: the FinOps FOCUS 1.0 cost and usage columns (the 21 mandatory ones and the
//   conditional ones that apply to usage billed per resource);
// - `json`: a JSON array of the API's line items.

export type ExportFormat = 'recon' | 'focus' | 'json';
export const EXPORT_FORMATS: ExportFormat[] = ['recon', 'focus', 'json'];
const BATCH = 5000;

/** The partner center's reconciliation columns, each from the daily-rated line item field of the same name. */
export const RECON_COLUMNS = [
  'PartnerId',
  'PartnerName',
  'CustomerId',
  'CustomerName',
  'CustomerDomainName',
  'CustomerCountry',
  'InvoiceNumber',
  'MpnId',
  'ResellerMpnId',
  'ChargeStartDate',
  'ChargeEndDate',
  'UsageDate',
  'ProductName',
  'SkuName',
  'PublisherName',
  'PublisherId',
  'SubscriptionId',
  'SubscriptionDescription',
  'EntitlementId',
  'EntitlementDescription',
  'MeterType',
  'MeterCategory',
  'MeterId',
  'MeterSubCategory',
  'MeterName',
  'MeterRegion',
  'UnitOfMeasure',
  'ResourceLocation',
  'ConsumedService',
  'ResourceGroup',
  'ResourceUri',
  'ChargeType',
  'UnitPrice',
  'Quantity',
  'UnitType',
  'BillingPreTaxTotal',
  'BillingCurrency',
  'PricingPreTaxTotal',
  'PricingCurrency',
  'EffectiveUnitPrice',
  'PCToBCExchangeRate',
] as const;

/** FOCUS 1.0: the mandatory columns, then the conditional and recommended ones we fill. */
export const FOCUS_COLUMNS = [
  'BilledCost',
  'BillingAccountId',
  'BillingAccountName',
  'BillingCurrency',
  'BillingPeriodEnd',
  'BillingPeriodStart',
  'ChargeCategory',
  'ChargeClass',
  'ChargeDescription',
  'ChargePeriodEnd',
  'ChargePeriodStart',
  'ContractedCost',
  'EffectiveCost',
  'InvoiceIssuerName',
  'ListCost',
  'PricingQuantity',
  'PricingUnit',
  'ProviderName',
  'PublisherName',
  'ServiceCategory',
  'ServiceName',
  'ChargeFrequency',
  'ConsumedQuantity',
  'ConsumedUnit',
  'ContractedUnitPrice',
  'InvoiceId',
  'ListUnitPrice',
  'RegionId',
  'RegionName',
  'ResourceId',
  'ResourceName',
  'ResourceType',
  'SkuId',
  'SubAccountId',
  'SubAccountName',
] as const;

const FOCUS_SERVICE: Record<string, { category: string; name: string }> = {
  'Virtual Machines': { category: 'Compute', name: 'Virtual Machines' },
  Storage: { category: 'Storage', name: 'Storage Accounts' },
  Networking: { category: 'Networking', name: 'Public IP Addresses' },
};

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const dayStart = (date: string) => `${date}T00:00:00Z`;
const nextDay = (date: string) => iso(new Date(Date.parse(dayStart(date)) + 86_400_000));

interface ExportContext {
  invoice: InvoicesTable;
  names: Names;
  sellerName: string;
}

function focusRow(line: StoredLine, x: ExportContext): Record<string, string | null> {
  const meter = line.meter_id ? findMeter(line.meter_id) : undefined;
  const service = FOCUS_SERVICE[meter?.category ?? ''] ?? { category: 'Other', name: meter?.category ?? 'Other' };
  const usage = line.line_type === 'usage' || line.line_type === 'late usage';
  const resourceName = line.resource_uri?.split('/').pop() ?? null;
  const resourceType = line.resource_uri
    ? line.resource_uri
        .split('/providers/')
        .pop()!
        .split('/')
        .filter((_, i) => i % 2 === 0)
        .slice(0, -1)
        .join('/') || null
    : null;
  return {
    BilledCost: line.amount,
    BillingAccountId: x.invoice.buyer_id,
    BillingAccountName: x.names.get(x.invoice.buyer_id)?.name ?? null,
    BillingCurrency: x.invoice.currency,
    BillingPeriodEnd: iso(x.invoice.period_end),
    BillingPeriodStart: iso(x.invoice.period_start),
    ChargeCategory: usage ? 'Usage' : line.line_type === 'credit' ? 'Credit' : 'Adjustment',
    ChargeClass: null,
    ChargeDescription: usage
      ? `${meter?.name ?? line.meter_id}${line.line_type === 'late usage' ? ' (late usage)' : ''}`
      : (line.description ?? line.line_type),
    ChargePeriodEnd: line.usage_date ? nextDay(line.usage_to ?? line.usage_date) : iso(x.invoice.period_end),
    ChargePeriodStart: line.usage_date ? dayStart(line.usage_date) : iso(x.invoice.period_start),
    ContractedCost: line.amount,
    EffectiveCost: line.amount,
    InvoiceIssuerName: x.sellerName,
    ListCost: line.amount,
    PricingQuantity: line.quantity,
    PricingUnit: meter?.unit ?? null,
    ProviderName: 'Stackledger',
    PublisherName: 'Stackledger',
    ServiceCategory: usage ? service.category : 'Other',
    ServiceName: usage ? service.name : 'Billing',
    ChargeFrequency: usage ? 'Usage-Based' : 'One-Time',
    ConsumedQuantity: usage ? line.quantity : null,
    ConsumedUnit: usage ? (meter?.unit ?? null) : null,
    ContractedUnitPrice: line.unit_price,
    InvoiceId: x.invoice.number,
    ListUnitPrice: line.unit_price,
    RegionId: line.location,
    RegionName: line.location,
    ResourceId: line.resource_uri,
    ResourceName: resourceName,
    ResourceType: resourceType,
    SkuId: line.meter_id,
    SubAccountId: line.subscription_id,
    SubAccountName: line.subscription_id ? (x.names.get(line.subscription_id)?.name ?? null) : null,
  };
}

function reconRow(line: StoredLine, x: ExportContext): Record<string, unknown> {
  const view = dailyRatedLineView(line, {
    partnerId: x.invoice.buyer_id,
    invoiceNumber: x.invoice.number,
    currency: x.invoice.currency,
    names: x.names,
  }) as Record<string, unknown>;
  const byLowerName = new Map(Object.entries(view).map(([k, v]) => [k.toLowerCase(), v]));
  return Object.fromEntries(RECON_COLUMNS.map((c) => [c, byLowerName.get(c.toLowerCase()) ?? '']));
}

/** Every line of the invoices, batch by batch, with the names the rows need. */
async function* linesOf(db: BillingDb, invoices: InvoicesTable[], customerId: string | undefined) {
  const ids = new Set<string>();
  for (const inv of invoices) ids.add(inv.buyer_id).add(inv.seller);
  for (const inv of invoices) {
    let after = 0;
    for (;;) {
      const batch = await billingStore.lines(db, inv.id, after, BATCH, customerId);
      if (batch.length === 0) break;
      after = batch[batch.length - 1].line_no;
      const missing = new Set<string>();
      for (const l of batch)
        for (const id of [l.customer_id, l.subscription_id]) if (id && !ids.has(id)) missing.add(id);
      for (const id of missing) ids.add(id);
      yield { invoice: inv, batch, missing: [...missing] };
      if (batch.length < BATCH) break;
    }
  }
}

/** The export as a stream of text (CSV or JSON). */
export function exportStream(
  db: BillingDb,
  invoices: InvoicesTable[],
  format: ExportFormat,
  customerId?: string,
): Readable {
  const names: Names = new Map();
  const rows = async function* () {
    const sellerIds = [...new Set(invoices.flatMap((i) => [i.buyer_id, i.seller]).filter((s) => s !== 'provider'))];
    for (const [k, v] of await billingStore.names(db, sellerIds)) names.set(k, v);
    for await (const { invoice, batch, missing } of linesOf(db, invoices, customerId)) {
      for (const [k, v] of await billingStore.names(db, missing)) names.set(k, v);
      const x: ExportContext = {
        invoice,
        names,
        sellerName: invoice.seller === 'provider' ? 'Stackledger' : (names.get(invoice.seller)?.name ?? invoice.seller),
      };
      for (const line of batch) {
        if (format === 'focus') yield focusRow(line, x);
        else if (format === 'recon') yield reconRow(line, x);
        else
          yield invoice.stream === 'partner'
            ? dailyRatedLineView(line, {
                partnerId: invoice.buyer_id,
                invoiceNumber: invoice.number,
                currency: invoice.currency,
                names,
              })
            : { invoiceNumber: invoice.number, customerId: invoice.buyer_id, ...customerLineView(line, names) };
      }
    }
  };
  if (format === 'json') return Readable.from(jsonArray(rows()));
  const columns = format === 'focus' ? [...FOCUS_COLUMNS] : [...RECON_COLUMNS];
  return Readable.from(rows()).pipe(stringify({ header: true, columns }));
}

async function* jsonArray(items: AsyncIterable<unknown>) {
  let first = true;
  yield '[';
  for await (const item of items) {
    yield (first ? '\n' : ',\n') + JSON.stringify(item);
    first = false;
  }
  yield '\n]\n';
}
