import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, armList, partnerList } from '../api.ts';
import { ActionButton, ActionForm, Field, formatMoney, formatTime, Loading, Panel, Table, useLoad } from '../ui.tsx';
import { hubArm, HUB_API, type PeopleProps } from './people-api.ts';
import { OnHubSubscription } from './people-subscription.tsx';
import { pc } from './csp-api.ts';

interface PartnerCustomer {
  id: string;
  companyProfile: { companyName: string };
}

// Budgets of a subscription and of a whole customer (Stackledger.Billing/budgets on the hub):
// their current and forecast spend, making or changing one (a monthly amount and thresholds in percent), deleting, and the
// alerts fired.

interface Budget {
  name: string;
  properties: {
    amount: number;
    timePeriod: { startDate: string };
    currentPeriod: string;
    currentSpend: { amount: number; unit: string };
    forecastSpend: { amount: number; unit: string };
    notifications?: Record<string, { threshold: number | string; thresholdType?: string }>;
    alerts: {
      period: string;
      notification: string;
      thresholdType: string;
      threshold: number;
      spend: number;
      firedAt: string;
    }[];
  };
}

/** "80, 100" → notifications at those percentages of the amount, on actual or forecast spend. */
function notificationsOf(text: string, type: 'Actual' | 'Forecasted') {
  const thresholds = text
    .split(/[,\s]+/)
    .filter(Boolean)
    .map((t) => t.replace(/%$/, ''));
  return Object.fromEntries(
    thresholds.map((t) => [
      `${type === 'Actual' ? 'actual' : 'forecast'}_${t.replace('.', '_')}`,
      { enabled: true, operator: 'GreaterThanOrEqualTo', threshold: t, thresholdType: type },
    ]),
  );
}

const thresholdsOf = (b: Budget) =>
  Object.values(b.properties.notifications ?? {})
    .map((n) => `${n.threshold}%${n.thresholdType === 'Forecasted' ? ' (forecast)' : ''}`)
    .join(', ') || '—';

/** The budgets of one scope (a subscription or a customer), `scope` naming it in labels. */
function BudgetList(p: PeopleProps & { path: string; scope: string }) {
  const { base, token } = hubArm(p);
  const collection = `${base}${p.path}`;
  const budgets = useLoad(() => armList<Budget>(`${collection}?${HUB_API}`, token), [collection]);
  const month = p.config.clock.now.slice(0, 7);
  const save = async (form: FormData) => {
    await api('PUT', `${collection}/${encodeURIComponent(String(form.get('name')).trim())}?${HUB_API}`, {
      token,
      body: {
        properties: {
          category: 'Cost',
          amount: String(form.get('amount')),
          timeGrain: 'Monthly',
          timePeriod: { startDate: `${month}-01T00:00:00Z` },
          notifications: {
            ...notificationsOf(String(form.get('thresholds')), 'Actual'),
            ...notificationsOf(String(form.get('forecastThresholds') ?? ''), 'Forecasted'),
          },
        },
      },
    });
    budgets.reload();
  };
  const remove = async (name: string) => {
    await api('DELETE', `${collection}/${encodeURIComponent(name)}?${HUB_API}`, { token });
    budgets.reload();
  };
  const money = (m: { amount: number; unit: string }) => formatMoney(m.amount, m.unit);
  return (
    <>
      <ActionForm
        label={`Create or change a budget of the ${p.scope}`}
        submit="Save budget"
        onSubmit={save}
        class="form inline"
      >
        <Field label="Budget name" hint="An existing name changes that budget.">
          <input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*" />
        </Field>
        <Field label="Monthly amount (USD)">
          <input name="amount" type="number" min="0.01" step="0.01" required />
        </Field>
        <Field label="Alert thresholds (%)" hint="Comma-separated, of the amount.">
          <input name="thresholds" defaultValue="80, 100" />
        </Field>
        <Field label="Forecast thresholds (%)" hint="Alert when the month's forecast reaches these.">
          <input name="forecastThresholds" defaultValue="" />
        </Field>
      </ActionForm>
      <Loading state={budgets} what="budgets">
        {(rows) => (
          <>
            <Table
              label={`Budgets of the ${p.scope}`}
              rows={rows}
              empty={`No budget on this ${p.scope}.`}
              columns={[
                { header: 'Budget', cell: (b) => b.name },
                { header: 'Period', cell: (b) => b.properties.currentPeriod },
                { header: 'Amount', numeric: true, cell: (b) => formatMoney(b.properties.amount, 'USD') },
                { header: 'Spend', numeric: true, cell: (b) => money(b.properties.currentSpend) },
                { header: 'Forecast', numeric: true, cell: (b) => money(b.properties.forecastSpend) },
                { header: 'Thresholds', cell: thresholdsOf },
                {
                  header: 'Actions',
                  cell: (b) => (
                    <ActionButton kind="danger" label={`Delete budget ${b.name}`} onClick={() => remove(b.name)}>
                      Delete
                    </ActionButton>
                  ),
                },
              ]}
            />
            <h3>Alerts fired</h3>
            <Table
              label={`Budget alerts of the ${p.scope}`}
              rows={rows.flatMap((b) => b.properties.alerts.map((a) => ({ budget: b.name, ...a })))}
              empty="No alert has fired."
              columns={[
                { header: 'Budget', cell: (a) => a.budget },
                { header: 'Period', cell: (a) => a.period },
                { header: 'Threshold', cell: (a) => `${a.threshold}% (${a.thresholdType})` },
                { header: 'Spend then', numeric: true, cell: (a) => formatMoney(a.spend, 'USD') },
                { header: 'Fired', cell: (a) => formatTime(a.firedAt) },
              ]}
            />
          </>
        )}
      </Loading>
    </>
  );
}

/** The customer whose own budgets are shown: a customer's administrator's own; the CSP picks one. */
function OnCustomer(p: PeopleProps & { children: (customerId: string) => ComponentChildren }) {
  const isCsp = p.session.role === 'csp';
  const customers = useLoad(
    () => (isCsp ? partnerList<PartnerCustomer>(pc(p).base, '/v1/customers', pc(p).token) : Promise.resolve([])),
    [],
  );
  const [chosen, setChosen] = useState<string>();
  if (!isCsp) return <>{p.children(p.session.tenantId)}</>;
  return (
    <Loading state={customers} what="customers">
      {(list) => {
        if (list.length === 0) return <p class="muted">No customer yet.</p>;
        const customer = list.find((c) => c.id === chosen) ?? list[0];
        return (
          <>
            <Field label="Customer">
              <select value={customer.id} onChange={(e) => setChosen(e.currentTarget.value)}>
                {list.map((c) => (
                  <option value={c.id}>{c.companyProfile.companyName}</option>
                ))}
              </select>
            </Field>
            {p.children(customer.id)}
          </>
        );
      }}
    </Loading>
  );
}

export function BudgetsPage(p: PeopleProps) {
  return (
    <>
      <h1>Budgets</h1>
      <Panel title="Budgets of a subscription">
        <OnHubSubscription {...p}>
          {(sub) => (
            <BudgetList
              key={sub.subscriptionId}
              {...p}
              scope="subscription"
              path={`/subscriptions/${sub.subscriptionId}/providers/Stackledger.Billing/budgets`}
            />
          )}
        </OnHubSubscription>
      </Panel>
      <Panel title="Budgets of a customer (all its subscriptions)">
        <OnCustomer {...p}>
          {(customerId) => (
            <BudgetList
              key={customerId}
              {...p}
              scope="customer"
              path={`/providers/Stackledger.Billing/customers/${customerId}/budgets`}
            />
          )}
        </OnCustomer>
      </Panel>
    </>
  );
}
