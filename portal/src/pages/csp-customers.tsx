import { CSP_OFFER_ID } from '../../../src/core/offers.ts';
import { useState } from 'preact/hooks';
import { api, partnerList } from '../api.ts';
import { UsageChart, type UsagePoint } from '../chart.tsx';
import {
  ActionButton,
  ActionForm,
  Field,
  Link,
  Loading,
  NameAndId,
  Panel,
  StatusBadge,
  Table,
  useLoad,
} from '../ui.tsx';
import { arm, AZURESTACK_API, pc, type PageProps } from './csp-api.ts';
import { Unbilled } from './csp-invoices.tsx';
import { loadRegistrations, type Registration } from './csp-registrations.tsx';

// The CSP's customers (partner center): creating one, and a customer's subscriptions, the
// deployments each is registered on, its usage and its charges not yet invoiced.

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
