import { csvField } from './csv-field.ts';
import { FOCUS_COLUMN_NAMES, focusRow } from './focus-columns.ts';
import type { StoredLine } from './store.ts';
import { customerLineView, dailyRatedLineView, type Names } from './views.ts';

// The exports' rows, each made from one invoice line as the database stores it (its columns as
// text, read by exports.ts), its invoice and the names it looks up. The partner center's files
// and the JSON export are the API's own views of a line (views.ts); FOCUS's columns are
// focus-columns.ts's. Each value is written as the files have always had it: text, or a number as
// JavaScript prints it.

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

/** An invoice as its export's rows repeat it. */
export interface ExportInvoice {
  id: string;
  number: string;
  stream: 'partner' | 'customer';
  buyerId: string;
  buyerName: string | null;
  currency: string;
  /** The period's bounds, as FOCUS writes a date-time. */
  periodStart: string;
  periodEnd: string;
  /** A credit note, or the invoice that replaces a voided one: its rows correct a period already invoiced. */
  corrects: boolean;
  issuerName: string;
}

/**
 * A row of an export: an invoice line, or (FOCUS only) the invoice's tax as a line of type `tax`.
 * With FOCUS's list and contracted costs, as the database works them out (exports.ts): a line's
 * own, the tax's on what it is levied on.
 */
export type ExportLine = Omit<StoredLine, 'line_type'> & {
  line_type: StoredLine['line_type'] | 'tax';
  /** None where it is the contracted cost. */
  list_cost: string | null;
  contracted_cost: string | null;
};

/** A line of nothing: what a row that is not a line (FOCUS's tax row) starts from. */
export const NO_LINE: ExportLine = {
  invoice_id: '',
  line_no: 0,
  line_type: 'tax',
  customer_id: null,
  subscription_id: null,
  meter_id: null,
  resource_uri: null,
  location: null,
  usage_date: null,
  usage_to: null,
  tier: null,
  quantity: null,
  unit_price: null,
  list_unit_price: null,
  amount: '0',
  description: null,
  reason: null,
  created_by: null,
  list_cost: null,
  contracted_cost: null,
};

/** What a row is made from. */
export interface RowInput {
  line: ExportLine;
  invoice: ExportInvoice;
  names: Names;
}

/** An invoice of nothing (to list the columns a row has). */
export const NO_INVOICE: ExportInvoice = {
  id: '',
  number: '',
  stream: 'partner',
  buyerId: '',
  buyerName: null,
  currency: '',
  periodStart: '',
  periodEnd: '',
  corrects: false,
  issuerName: '',
};
const NO_USAGE = { ...NO_LINE, line_type: 'usage' } as const;

/** A number as JavaScript prints it, text as it is ('' is absent). */
const reconField = (value: unknown) => (typeof value === 'number' ? String(value) : csvField(value as string));

/** Which of the daily-rated view's fields each reconciliation column is. */
const DAILY_RATED_FIELDS = Object.keys(
  dailyRatedLineView(NO_USAGE, { partnerId: '', invoiceNumber: '', currency: '', names: new Map() }),
) as (keyof ReturnType<typeof dailyRatedLineView>)[];
const RECON_FIELDS = RECON_COLUMNS.map((c) => {
  const field = DAILY_RATED_FIELDS.find((f) => f.toLowerCase() === c.toLowerCase());
  if (!field) throw new Error(`no daily-rated field for the reconciliation column ${c}`);
  return field;
});

const dailyRated = ({ line, invoice, names }: RowInput) =>
  dailyRatedLineView(line as StoredLine, {
    partnerId: invoice.buyerId,
    invoiceNumber: invoice.number,
    currency: invoice.currency,
    names,
  });

/** The export formats: each one's first line (CSV's header) and its row of a line, each ending in a newline. */
export const ROW_FORMATS = {
  focus: {
    header: `${FOCUS_COLUMN_NAMES.join(',')}\n`,
    row: focusRow,
  },
  recon: {
    header: `${RECON_COLUMNS.join(',')}\n`,
    row(input: RowInput): string {
      const view = dailyRated(input);
      return `${RECON_FIELDS.map((f) => reconField(view[f])).join(',')}\n`;
    },
  },
  /** The API's line items, one JSON object a line (`jsonArray` in exports.ts makes them an array). */
  json: {
    header: '',
    row(input: RowInput): string {
      const { line, invoice, names } = input;
      const view =
        invoice.stream === 'partner'
          ? dailyRated(input)
          : {
              invoiceNumber: invoice.number,
              customerId: invoice.buyerId,
              ...customerLineView(line as StoredLine, names),
            };
      return `${JSON.stringify(view)}\n`;
    },
  },
} as const;
