import { useState } from 'preact/hooks';
import { api, armList } from '../api.ts';
import { meterName } from '../chart.tsx';
import {
  ActionButton,
  Field,
  formatDays,
  formatMoney,
  formatQuantity,
  formatTime,
  Link,
  Loading,
  navigate,
  Panel,
  Table,
  useLoad,
} from '../ui.tsx';
import { arm, BILLING_API, type PageProps } from './csp-api.ts';
import { downloadWithToken } from './people-api.ts';
import { VendorStatements } from './people-statements.tsx';

// The CSP's invoices to its customers (Stackledger.Billing): the list, one invoice, and a
// customer's open period.

interface InvoiceLine {
  subscriptionId: string | null;
  meterId: string | null;
  meterName?: string | null;
  resourceUri?: string | null;
  quantity: string | null;
  unitPrice: string | null;
  amount: string;
  late?: boolean;
  usageDate?: string | null;
  usageTo?: string | null;
  unit?: string | null;
  description?: string | null;
}

interface Invoice {
  id?: string;
  name?: string;
  properties: {
    invoiceNumber?: string | null;
    kind?: 'invoice' | 'creditNote';
    /** Draft during the seller's grace period, then Finalized (or Voided). */
    status?: 'Draft' | 'Finalized' | 'Voided' | 'Open';
    finalizeAfter?: string | null;
    replacedBy?: string;
    replaces?: string;
    customerId: string;
    customerName?: string;
    period: string;
    periodStart?: string;
    periodEnd?: string;
    invoiceDate?: string;
    currency: string;
    subtotal: string;
    tax: string;
    total: string;
    lines?: InvoiceLine[];
  };
}

function InvoiceLines({ invoice }: { invoice: Invoice }) {
  const { currency, lines = [] } = invoice.properties;
  return (
    <Table
      label="Invoice lines"
      rows={lines}
      empty="No lines."
      columns={[
        { header: 'Usage days', cell: (l) => formatDays(l.usageDate, l.usageTo) },
        { header: 'Meter', cell: (l) => l.meterName ?? (l.meterId ? meterName(l.meterId) : (l.description ?? '—')) },
        { header: 'Subscription', cell: (l) => <code>{l.subscriptionId}</code> },
        {
          header: 'Resource',
          cell: (l) =>
            l.resourceUri ? <code class="wrap">{l.resourceUri.split('/').slice(-1)[0]}</code> : (l.description ?? '—'),
        },
        {
          header: 'Quantity',
          numeric: true,
          cell: (l) => (l.quantity == null ? '—' : `${formatQuantity(Number(l.quantity))} ${l.unit ?? ''}`.trim()),
        },
        { header: 'Unit price', numeric: true, cell: (l) => l.unitPrice ?? '—' },
        {
          header: 'Amount',
          numeric: true,
          cell: (l) => (
            <>
              {formatMoney(l.amount, currency)}
              {l.late && <span class="badge neutral"> late</span>}
            </>
          ),
        },
      ]}
    />
  );
}

function Totals({ invoice }: { invoice: Invoice }) {
  const { currency, subtotal, tax, total } = invoice.properties;
  return (
    <dl class="facts totals-list">
      <dt>Subtotal</dt>
      <dd>{formatMoney(subtotal, currency)}</dd>
      <dt>Tax</dt>
      <dd>{formatMoney(tax, currency)}</dd>
      <dt>Total</dt>
      <dd data-testid="invoice-total">
        <strong>{formatMoney(total, currency)}</strong>
      </dd>
    </dl>
  );
}

export function Unbilled(p: PageProps & { customerId: string }) {
  const { base, token } = arm(p);
  const open = useLoad(
    () =>
      api<Invoice>(
        'GET',
        `${base}/providers/Stackledger.Billing/invoices/unbilled?${BILLING_API}&customerId=${encodeURIComponent(p.customerId)}`,
        { token },
      ),
    [p.customerId],
  );
  return (
    <Loading state={open} what="the open period">
      {(inv) => (
        <>
          <p class="muted">Period {inv.properties.period}, still open.</p>
          <Totals invoice={inv} />
          <details>
            <summary>Lines ({inv.properties.lines?.length ?? 0})</summary>
            <InvoiceLines invoice={inv} />
          </details>
        </>
      )}
    </Loading>
  );
}

export function InvoicesPage(p: PageProps) {
  const { base, token } = arm(p);
  const [period, setPeriod] = useState('');
  const invoices = useLoad(
    () =>
      armList<Invoice>(
        `${base}/providers/Stackledger.Billing/invoices?${BILLING_API}${period ? `&period=${encodeURIComponent(period)}` : ''}`,
        token,
      ),
    [period],
  );
  return (
    <>
      <h1>Invoices</h1>
      <form class="form inline" aria-label="Filter invoices" onSubmit={(e) => e.preventDefault()}>
        <Field label="Period">
          <input type="month" value={period} onChange={(e) => setPeriod(e.currentTarget.value)} />
        </Field>
        {period && (
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setPeriod('')}>
              All periods
            </button>
          </div>
        )}
      </form>
      <Loading state={invoices} what="invoices">
        {(rows) => (
          <Table
            label="Invoices"
            rows={rows}
            empty="No invoices yet. A period is invoiced once it closes."
            columns={[
              {
                header: 'Number',
                cell: (i) => (
                  <Link to={`/invoices/${encodeURIComponent(i.properties.invoiceNumber ?? i.name ?? '')}`}>
                    {i.properties.invoiceNumber ?? i.name}
                  </Link>
                ),
              },
              { header: 'Kind', cell: (i) => (i.properties.kind === 'creditNote' ? 'Credit note' : 'Invoice') },
              { header: 'Status', cell: (i) => i.properties.status ?? '' },
              { header: 'Customer', cell: (i) => i.properties.customerName ?? i.properties.customerId },
              { header: 'Period', cell: (i) => i.properties.period },
              { header: 'Date', cell: (i) => (i.properties.invoiceDate ?? '').slice(0, 10) },
              { header: 'Total', numeric: true, cell: (i) => formatMoney(i.properties.total, i.properties.currency) },
            ]}
          />
        )}
      </Loading>
      <VendorStatements {...p} />
    </>
  );
}

export function InvoicePage(p: PageProps & { invoiceNumber: string }) {
  const { base, token } = arm(p);
  const invoice = useLoad(
    () =>
      api<Invoice>(
        'GET',
        `${base}/providers/Stackledger.Billing/invoices/${encodeURIComponent(p.invoiceNumber)}?${BILLING_API}`,
        { token },
      ),
    [p.invoiceNumber],
  );
  return (
    <>
      <p class="crumbs">
        <Link to="/invoices">Invoices</Link> ›
      </p>
      <Loading state={invoice} what="the invoice">
        {(inv) => (
          <>
            <h1>
              {inv.properties.kind === 'creditNote' ? 'Credit note' : 'Invoice'}{' '}
              {inv.properties.invoiceNumber ?? inv.name ?? p.invoiceNumber}
            </h1>
            <dl class="facts">
              <dt>Customer</dt>
              <dd>{inv.properties.customerName ?? inv.properties.customerId}</dd>
              <dt>Period</dt>
              <dd>
                {inv.properties.period}
                {inv.properties.periodStart &&
                  ` (${formatTime(inv.properties.periodStart)} to ${formatTime(inv.properties.periodEnd)})`}
              </dd>
              <dt>Invoice date</dt>
              <dd>{(inv.properties.invoiceDate ?? '').slice(0, 10) || '—'}</dd>
              <dt>Status</dt>
              <dd>
                {inv.properties.status}
                {inv.properties.finalizeAfter &&
                  ` (finalized by itself at ${formatTime(inv.properties.finalizeAfter)})`}
                {inv.properties.replacedBy && ` (replaced by ${inv.properties.replacedBy})`}
                {inv.properties.replaces && ` (replaces ${inv.properties.replaces})`}
              </dd>
            </dl>
            <Totals invoice={inv} />
            <p>
              {inv.properties.status === 'Draft' && (
                <ActionButton
                  onClick={async () => {
                    // Approval: the draft is rated a last time and numbered; it is addressed by its number from now on.
                    const done = await api<Invoice>(
                      'POST',
                      `${base}/providers/Stackledger.Billing/invoices/${encodeURIComponent(p.invoiceNumber)}/finalize?${BILLING_API}`,
                      { token },
                    );
                    navigate(`/invoices/${encodeURIComponent(done.name ?? '')}`);
                  }}
                >
                  Finalize
                </ActionButton>
              )}
              <ActionButton
                kind="secondary"
                onClick={() =>
                  downloadWithToken(
                    `${base}/providers/Stackledger.Billing/invoices/${encodeURIComponent(p.invoiceNumber)}/pdf?${BILLING_API}`,
                    token,
                    `${p.invoiceNumber}.pdf`,
                  )
                }
              >
                Download PDF
              </ActionButton>
            </p>
            <Panel title="Lines">
              <InvoiceLines invoice={inv} />
            </Panel>
          </>
        )}
      </Loading>
    </>
  );
}
