import { CSP_OFFER_ID } from '../../../src/core/offers.ts';
import { useState } from 'preact/hooks';
import { api, armList, partnerList } from '../api.ts';
import { meterName, UsageChart, type UsagePoint } from '../chart.tsx';
import { tokenFor, type PortalConfig, type Session } from '../session.ts';
import {
  ActionButton,
  ActionForm,
  Field,
  formatDays,
  formatMoney,
  formatQuantity,
  formatTime,
  Link,
  Loading,
  NameAndId,
  Panel,
  StatusBadge,
  Table,
  useLoad,
} from '../ui.tsx';

// The cloud service provider's pages: customers and their subscriptions (partner center), the
// deployments' registrations and the customer subscriptions linked to them (hub ARM,
// Microsoft.AzureStack), usage per subscription, and invoices (Stackledger.Billing).

export interface PageProps {
  session: Session;
  config: PortalConfig;
}

const AZURESTACK_API = 'api-version=2017-06-01';
const BILLING_API = 'api-version=2026-11-01';

interface Customer {
  id: string;
  companyProfile: { tenantId: string; domain: string; companyName: string };
  relationshipToPartner: string;
  userCredentials?: { userName: string; password: string };
}

interface PartnerSubscription {
  id: string;
  offerId: string;
  offerName: string;
  friendlyName: string;
  status: string;
  creationDate: string;
}

interface Registration {
  id: string;
  name: string;
  properties: { cloudId: string; billingModel: string; objectId: string };
  /** Customer subscription ids linked to it now (lower case). */
  linked: string[];
}

const pc = (p: PageProps) => ({
  base: p.config.hub.partnerCenter,
  token: tokenFor(p.session, p.config.hub.partnerCenter),
});
const arm = (p: PageProps) => ({ base: p.config.hub.arm, token: tokenFor(p.session, p.config.hub.arm) });

/** The registrations in the CSP's own subscriptions, with the customer subscriptions linked to each. */
async function loadRegistrations(p: PageProps): Promise<Registration[]> {
  const { base, token } = arm(p);
  const own = (
    await armList<{ subscriptionId: string; tenantId: string }>(`${base}/subscriptions?api-version=2022-12-01`, token)
  ).filter((s) => s.tenantId === p.session.tenantId);
  const registrations: Registration[] = [];
  for (const sub of own) {
    for (const reg of await armList<Omit<Registration, 'linked'>>(
      `${base}/subscriptions/${sub.subscriptionId}/providers/Microsoft.AzureStack/registrations?${AZURESTACK_API}`,
      token,
    )) {
      const links = await armList<{ id: string }>(`${base}${reg.id}/customerSubscriptions?${AZURESTACK_API}`, token);
      registrations.push({ ...reg, linked: links.map((l) => l.id.split('/').pop()!.toLowerCase()) });
    }
  }
  return registrations;
}

export function CustomersPage(p: PageProps) {
  const { base, token } = pc(p);
  const customers = useLoad(() => partnerList<Customer>(base, '/v1/customers', token), []);
  const [created, setCreated] = useState<Customer>();
  const create = async (form: FormData) => {
    const companyName = String(form.get('companyName')).trim();
    const email = String(form.get('email') ?? '').trim();
    const customer = await api<Customer>('POST', `${base}/v1/customers`, {
      token,
      body: {
        companyProfile: { domain: String(form.get('domain')).trim(), companyName },
        billingProfile: { companyName, culture: 'en-US', language: 'en', ...(email ? { email } : {}) },
      },
    });
    setCreated(customer);
    customers.reload();
  };
  return (
    <>
      <h1>Customers</h1>
      <Panel title="New customer">
        <p class="muted">Creating a customer creates its own directory and a first administrator.</p>
        <ActionForm label="New customer" submit="Create customer" onSubmit={create} class="form inline">
          <Field label="Company name">
            <input name="companyName" required autocomplete="organization" />
          </Field>
          <Field label="Domain prefix" hint="The directory becomes prefix.onstackledger.local">
            <input name="domain" required pattern="[A-Za-z0-9][A-Za-z0-9\-]*" autocapitalize="none" />
          </Field>
          <Field label="Billing e-mail (optional)">
            <input name="email" type="email" autocomplete="email" />
          </Field>
        </ActionForm>
        {created?.userCredentials && (
          <div class="notice" role="status" aria-label="New customer's administrator">
            <p>
              <strong>{created.companyProfile.companyName}</strong> was created. Give its first administrator these
              credentials; the password is shown only once.
            </p>
            <dl class="facts">
              <dt>User name</dt>
              <dd data-testid="new-admin-user">{created.userCredentials.userName}</dd>
              <dt>Password</dt>
              <dd data-testid="new-admin-password">{created.userCredentials.password}</dd>
            </dl>
            <Link to={`/customers/${created.id}`}>Open {created.companyProfile.companyName}</Link>
          </div>
        )}
      </Panel>
      <Panel title="All customers">
        <Loading state={customers} what="customers">
          {(rows) => (
            <Table
              label="Customers"
              rows={rows}
              empty="No customers yet."
              columns={[
                {
                  header: 'Company',
                  cell: (c) => (
                    <Link to={`/customers/${c.id}`}>{c.companyProfile.companyName || c.companyProfile.domain}</Link>
                  ),
                },
                { header: 'Domain', cell: (c) => c.companyProfile.domain },
                { header: 'Relationship', cell: (c) => c.relationshipToPartner },
                { header: 'Tenant id', cell: (c) => <code>{c.id}</code> },
              ]}
            />
          )}
        </Loading>
      </Panel>
    </>
  );
}

export function CustomerPage(p: PageProps & { customerId: string }) {
  const { base, token } = pc(p);
  const customer = useLoad(
    () => api<Customer>('GET', `${base}/v1/customers/${p.customerId}`, { token }),
    [p.customerId],
  );
  const subscriptions = useLoad(
    () => partnerList<PartnerSubscription>(base, `/v1/customers/${p.customerId}/subscriptions`, token),
    [p.customerId],
  );
  const registrations = useLoad(() => loadRegistrations(p), [p.customerId]);
  const [charted, setCharted] = useState<string>();

  const buy = async (form: FormData) => {
    const friendlyName = String(form.get('friendlyName') ?? '').trim();
    await api('POST', `${base}/v1/customers/${p.customerId}/orders`, {
      token,
      body: { lineItems: [{ offerId: CSP_OFFER_ID, quantity: 1, ...(friendlyName ? { friendlyName } : {}) }] },
    });
    subscriptions.reload();
  };
  const setStatus = async (sub: PartnerSubscription, status: 'active' | 'suspended') => {
    await api('PATCH', `${base}/v1/customers/${p.customerId}/subscriptions/${sub.id}`, { token, body: { status } });
    subscriptions.reload();
  };
  const register = async (reg: Registration, sub: PartnerSubscription) => {
    const hub = arm(p);
    await api('PUT', `${hub.base}${reg.id}/customerSubscriptions/${sub.id}?${AZURESTACK_API}`, {
      token: hub.token,
      body: { properties: { tenantId: p.customerId } },
    });
    registrations.reload();
  };
  const unregister = async (reg: Registration, sub: PartnerSubscription) => {
    const hub = arm(p);
    await api('DELETE', `${hub.base}${reg.id}/customerSubscriptions/${sub.id}?${AZURESTACK_API}`, { token: hub.token });
    registrations.reload();
  };

  const usageOf = (subscriptionId: string) => async (range: { start: Date; end: Date; granularity: string }) => {
    const query = new URLSearchParams({
      start_time: range.start.toISOString(),
      end_time: range.end.toISOString(),
      granularity: range.granularity.toLowerCase(),
      show_details: 'false',
    });
    const records = await partnerList<{ usageStartTime: string; resource: { id: string }; quantity: number }>(
      base,
      `/v1/customers/${p.customerId}/subscriptions/${subscriptionId}/utilizations/azure?${query}`,
      token,
    );
    return records.map<UsagePoint>((r) => ({
      start: Date.parse(r.usageStartTime),
      meterId: r.resource.id,
      quantity: r.quantity,
    }));
  };

  return (
    <>
      <p class="crumbs">
        <Link to="/customers">Customers</Link> ›
      </p>
      <Loading state={customer} what="the customer">
        {(c) => (
          <>
            <h1>{c.companyProfile.companyName || c.companyProfile.domain}</h1>
            <dl class="facts">
              <dt>Directory</dt>
              <dd>{c.companyProfile.domain}</dd>
              <dt>Tenant id</dt>
              <dd>
                <code>{c.id}</code>
              </dd>
              <dt>Relationship</dt>
              <dd>{c.relationshipToPartner}</dd>
            </dl>
          </>
        )}
      </Loading>
      <Panel title="Subscriptions">
        <Loading state={subscriptions} what="subscriptions">
          {(subs) => (
            <Table
              label="Subscriptions"
              rows={subs}
              empty="No subscriptions yet: buy one below."
              columns={[
                { header: 'Subscription', cell: (s) => <NameAndId name={s.friendlyName} id={s.id} /> },
                { header: 'Offer', cell: (s) => s.offerName },
                { header: 'Status', cell: (s) => <StatusBadge status={s.status} /> },
                {
                  header: 'Registered on',
                  cell: (s) => (
                    <RegistrationCell
                      state={registrations}
                      subscription={s}
                      register={register}
                      unregister={unregister}
                    />
                  ),
                },
                {
                  header: 'Actions',
                  cell: (s) => (
                    <div class="row-actions">
                      <button type="button" class="secondary" onClick={() => setCharted(s.id)}>
                        Usage
                      </button>
                      {s.status === 'active' && (
                        <ActionButton kind="secondary" onClick={() => setStatus(s, 'suspended')}>
                          Suspend
                        </ActionButton>
                      )}
                      {s.status === 'suspended' && (
                        <ActionButton kind="secondary" onClick={() => setStatus(s, 'active')}>
                          Reactivate
                        </ActionButton>
                      )}
                    </div>
                  ),
                },
              ]}
            />
          )}
        </Loading>
        <ActionForm label="Buy a subscription" submit="Buy a CSP subscription" onSubmit={buy} class="form inline">
          <Field label="Friendly name (optional)">
            <input name="friendlyName" />
          </Field>
        </ActionForm>
      </Panel>
      {(charted ?? subscriptions.data?.[0]?.id) && (
        <Panel title="Usage">
          <UsageChart
            title={`Usage of subscription ${charted ?? subscriptions.data![0].id}`}
            load={usageOf(charted ?? subscriptions.data![0].id)}
            deps={[charted ?? subscriptions.data![0].id]}
          />
        </Panel>
      )}
      <Panel title="Charges not yet invoiced">
        <Unbilled {...p} customerId={p.customerId} />
      </Panel>
    </>
  );
}

function RegistrationCell(props: {
  state: ReturnType<typeof useLoad<Registration[]>>;
  subscription: PartnerSubscription;
  register: (r: Registration, s: PartnerSubscription) => Promise<void>;
  unregister: (r: Registration, s: PartnerSubscription) => Promise<void>;
}) {
  const { state, subscription } = props;
  if (state.error) return <span class="muted">unknown (registrations did not load)</span>;
  if (!state.data) return <span class="muted">…</span>;
  if (state.data.length === 0) return <span class="muted">no deployment is registered</span>;
  return (
    <ul class="plain">
      {state.data.map((reg) => {
        const linked = reg.linked.includes(subscription.id.toLowerCase());
        return (
          <li>
            {linked ? <StatusBadge status="linked" /> : <span class="badge neutral">not linked</span>} {reg.name}{' '}
            {linked ? (
              <ActionButton
                kind="secondary"
                label={`Unregister from ${reg.name}`}
                onClick={() => props.unregister(reg, subscription)}
              >
                Unregister
              </ActionButton>
            ) : (
              <ActionButton label={`Register on ${reg.name}`} onClick={() => props.register(reg, subscription)}>
                Register
              </ActionButton>
            )}
          </li>
        );
      })}
    </ul>
  );
}

export function RegistrationsPage(p: PageProps) {
  const registrations = useLoad(() => loadRegistrations(p), []);
  return (
    <>
      <h1>Registrations</h1>
      <p class="muted">
        Each deployment is registered in the CSP's registration subscription. Usage of a directory is billed to the
        customer subscription linked here, else to the registration subscription.
      </p>
      <Loading state={registrations} what="registrations">
        {(regs) => (
          <Table
            label="Registrations"
            rows={regs}
            empty="No deployment is registered."
            columns={[
              { header: 'Registration', cell: (r) => r.name },
              { header: 'Resource group', cell: (r) => r.id.split('/')[4] },
              { header: 'Cloud id', cell: (r) => <code>{r.properties.cloudId}</code> },
              { header: 'Billing model', cell: (r) => r.properties.billingModel },
              {
                header: 'Customer subscriptions',
                cell: (r) =>
                  r.linked.length ? (
                    r.linked.map((s) => (
                      <div>
                        <code>{s}</code>
                      </div>
                    ))
                  ) : (
                    <span class="muted">none</span>
                  ),
              },
            ]}
          />
        )}
      </Loading>
    </>
  );
}

/** A usage line, or (meter and quantity null) a credit or adjustment with its description. */
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
    invoiceNumber?: string;
    kind?: 'invoice' | 'creditNote';
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

function Unbilled(p: PageProps & { customerId: string }) {
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
              { header: 'Customer', cell: (i) => i.properties.customerName ?? i.properties.customerId },
              { header: 'Period', cell: (i) => i.properties.period },
              { header: 'Date', cell: (i) => (i.properties.invoiceDate ?? '').slice(0, 10) },
              { header: 'Total', numeric: true, cell: (i) => formatMoney(i.properties.total, i.properties.currency) },
            ]}
          />
        )}
      </Loading>
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
              {inv.properties.invoiceNumber ?? p.invoiceNumber}
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
            </dl>
            <Totals invoice={inv} />
            <Panel title="Lines">
              <InvoiceLines invoice={inv} />
            </Panel>
          </>
        )}
      </Loading>
    </>
  );
}
