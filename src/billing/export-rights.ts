import { ArmError, armError } from '../core/errors.ts';
import { isGuid } from '../core/ids.ts';
import { parsePeriod } from '../core/periods.ts';
import type { Principal } from '../core/principal.ts';
import { type BillingContext, billingErrors, callerPartner } from './context.ts';
import { EXPORT_FORMATS, type ExportFormat, type ExportSelection } from './exports.ts';
import { customerInvoiceScope } from './invoices.ts';
import type { Seller, Stream } from './tables.ts';

// Who may export what, for the streamed exports and the asynchronous ones alike: the provider's
// invoice to a partner is the partner's to export (optionally one customer's lines of it); the
// partner's invoices to its customers are the partner's (all, or one customer's) and each
// customer's own.

/** What a caller may read of a stream: its partner's invoices (as buyer or seller), or a customer's own. */
export interface ExportScope {
  stream: Stream;
  seller?: Seller;
  buyerId?: string;
}

export interface ExportRequest {
  period: string | undefined;
  format: string | undefined;
  stream: Stream;
  customerId: string | undefined;
}

export function exportFormat(value: string | undefined): ExportFormat {
  const format = (value ?? 'recon').toLowerCase() as ExportFormat;
  if (!EXPORT_FORMATS.includes(format))
    throw armError('InvalidExportFormat', `format '${format}' must be one of ${EXPORT_FORMATS.join(', ')}.`, 'format');
  return format;
}

/** The caller's scope of a stream; a caller that is no partner has none of the provider's invoices. */
export async function exportScope(ctx: BillingContext, caller: Principal, stream: Stream): Promise<ExportScope> {
  if (stream === 'partner') {
    const partner = await callerPartner(ctx, caller);
    if (!partner) throw billingErrors.notAPartner(caller.tenantId);
    return { stream, buyerId: partner.tenant_id };
  }
  return { stream, ...(await customerInvoiceScope(ctx, caller)) };
}

/** The invoices an export request takes, within the caller's scope; bad input is refused before anything runs. */
export async function exportSelection(
  ctx: BillingContext,
  caller: Principal,
  r: ExportRequest,
): Promise<{ selection: ExportSelection; scope: ExportScope; format: ExportFormat }> {
  if (r.period === undefined)
    throw armError('InvalidBillingPeriod', "The query parameter 'period' (YYYY-MM) is required.", 'period');
  parsePeriod(r.period);
  const period = r.period;
  const format = exportFormat(r.format);
  const customerId = r.customerId?.toLowerCase();
  if (customerId !== undefined && !isGuid(customerId))
    throw armError('InvalidCustomerId', `'${customerId}' is not a GUID.`, 'customerId');
  const scope = await exportScope(ctx, caller, r.stream);
  const { stream, seller, buyerId } = scope;
  const selection: ExportSelection =
    stream === 'partner'
      ? { stream, buyerId, period, kind: 'invoice', customerId }
      : { stream, period, ...(seller ? { seller } : {}), buyerId: buyerId ?? customerId };
  return { selection, scope, format };
}

/** Whether `caller` has the same scope as the one an export was requested in. */
export async function sameScope(ctx: BillingContext, caller: Principal, scope: ExportScope): Promise<boolean> {
  const mine = await exportScope(ctx, caller, scope.stream).catch((e: unknown) => {
    if (e instanceof ArmError) return undefined; // no scope of that stream at all
    throw e;
  });
  return mine !== undefined && mine.seller === scope.seller && mine.buyerId === scope.buyerId;
}
