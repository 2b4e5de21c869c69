import { useState } from 'preact/hooks';
import { api, armList } from '../api.ts';
import { tokenFor, type StackInfo } from '../session.ts';
import {
  ActionButton,
  ActionForm,
  Field,
  formatDays,
  formatMoney,
  formatQuantity,
  formatTime,
  Loading,
  NameAndId,
  Panel,
  StatusBadge,
  Table,
  useLoad,
} from '../ui.tsx';
import { meterName } from '../chart.tsx';
import type { PageProps } from './csp-api.ts';

// The stack operator's pages, on one stack's admin endpoint: directories onboarded
// (multi-tenancy), tenant subscriptions and chargeback (the catalogue: operator-quotas.tsx,
// operator-plans.tsx, operator-offers.tsx; the usage bridge: bridge.tsx).

export type StackPageProps = PageProps & { stack: StackInfo };

export const SUBSCRIPTIONS_API = 'api-version=2015-11-01';

export interface ProviderContext {
  base: string;
  token: string;
  providerSubscriptionId: string;
  location: string;
}

/** The stack's default provider subscription and location: where its catalogue lives. */
export async function providerContext(p: StackPageProps): Promise<ProviderContext> {
  const base = p.stack.adminArm;
  const token = tokenFor(p.session, base);
  const subs = await armList<{ subscriptionId: string; displayName: string }>(
    `${base}/subscriptions?api-version=2022-12-01`,
    token,
  );
  const provider = subs.find((s) => s.displayName === 'Default Provider Subscription') ?? subs[0];
  if (!provider) throw new Error('You own no subscription on this stack: sign in as its operator.');
  const locations = await armList<{ name: string }>(
    `${base}/subscriptions/${provider.subscriptionId}/locations?api-version=2022-12-01`,
    token,
  );
  return { base, token, providerSubscriptionId: provider.subscriptionId, location: locations[0]?.name ?? 'local' };
}

export const adminPath = (c: ProviderContext, rest: string) =>
  `${c.base}/subscriptions/${c.providerSubscriptionId}${rest}`;

export function DirectoriesPage(p: StackPageProps) {
  const state = useLoad(async () => {
    const c = await providerContext(p);
    const directories = await armList<{ name: string; properties: { tenantId: string; consentSeenAt: string | null } }>(
      adminPath(
        c,
        `/resourcegroups/system.${c.location}/providers/Microsoft.Subscriptions.Admin/directoryTenants?${SUBSCRIPTIONS_API}`,
      ),
      c.token,
    );
    return { c, directories };
  }, [p.stack.adminArm]);
  const onboard = async (form: FormData) => {
    // The form is there before the list has loaded.
    const c = state.data?.c ?? (await providerContext(p));
    const directory = String(form.get('directory')).trim();
    await api(
      'PUT',
      adminPath(
        c,
        `/resourcegroups/system.${c.location}/providers/Microsoft.Subscriptions.Admin/directoryTenants/${encodeURIComponent(directory)}?${SUBSCRIPTIONS_API}`,
      ),
      {
        token: c.token,
        body: { location: c.location, properties: {} },
      },
    );
    state.reload();
  };
  const offboard = async (name: string) => {
    const c = state.data!.c;
    await api(
      'DELETE',
      adminPath(
        c,
        `/resourcegroups/system.${c.location}/providers/Microsoft.Subscriptions.Admin/directoryTenants/${encodeURIComponent(name)}?${SUBSCRIPTIONS_API}`,
      ),
      { token: c.token },
    );
    state.reload();
  };
  return (
    <>
      <h1>Directories onboarded</h1>
      <p class="muted">
        Users of a guest directory can use this stack once it is onboarded here and the directory has consented to the
        stack's application.
      </p>
      <Panel title="Onboard a directory">
        <ActionForm label="Onboard a directory" submit="Onboard" onSubmit={onboard} class="form inline">
          <Field label="Directory" hint="Its tenant id or its domain, such as contoso.onstackledger.local">
            <input name="directory" required autocapitalize="none" />
          </Field>
        </ActionForm>
      </Panel>
      <Panel title="Guest directories">
        <Loading state={state} what="directories">
          {({ directories }) => (
            <Table
              label="Directories"
              rows={directories}
              empty="No guest directory is onboarded."
              columns={[
                { header: 'Name', cell: (d) => d.name },
                { header: 'Tenant id', cell: (d) => <code>{d.properties.tenantId}</code> },
                {
                  header: 'Consent',
                  cell: (d) =>
                    // One element, so that at phone width it sits in the cell's value column.
                    d.properties.consentSeenAt ? (
                      <div>
                        <StatusBadge status="ok" /> seen {formatTime(d.properties.consentSeenAt)}
                      </div>
                    ) : (
                      <div>
                        <StatusBadge status="awaiting" /> not seen yet: an administrator of that directory creates the
                        service principal of application <code>{p.stack.applicationId}</code>
                      </div>
                    ),
                },
                {
                  header: '',
                  cell: (d) => (
                    <ActionButton kind="danger" label={`Offboard ${d.name}`} onClick={() => offboard(d.name)}>
                      Offboard
                    </ActionButton>
                  ),
                },
              ]}
            />
          )}
        </Loading>
      </Panel>
    </>
  );
}

export function StackSubscriptionsPage(p: StackPageProps) {
  const state = useLoad(async () => {
    const c = await providerContext(p);
    return armList<{
      subscriptionId: string;
      displayName: string;
      owner?: string;
      tenantId: string;
      offerId?: string;
      state: string;
    }>(adminPath(c, `/providers/Microsoft.Subscriptions.Admin/subscriptions?${SUBSCRIPTIONS_API}`), c.token);
  }, [p.stack.adminArm]);
  return (
    <>
      <h1>Subscriptions</h1>
      <Loading state={state} what="subscriptions">
        {(subs) => (
          <Table
            label="Stack subscriptions"
            rows={subs}
            empty="No subscriptions."
            columns={[
              { header: 'Subscription', cell: (s) => <NameAndId name={s.displayName} id={s.subscriptionId} /> },
              { header: 'Directory', cell: (s) => <code>{s.tenantId}</code> },
              { header: 'Owner', cell: (s) => s.owner ?? '—' },
              { header: 'Offer', cell: (s) => s.offerId?.split('/').pop() ?? '—' },
              { header: 'State', cell: (s) => <StatusBadge status={s.state} /> },
            ]}
          />
        )}
      </Loading>
    </>
  );
}

interface ChargebackEntry {
  subscriptionId: string;
  tenantId: string;
  displayName: string;
  currency: string;
  total: string;
  lines: {
    meterId: string;
    meterName?: string;
    unit?: string;
    resourceUri?: string;
    usageFrom?: string;
    usageTo?: string;
    quantity: string;
    amount: string;
    unitPrice?: string;
  }[];
}

/** The previous calendar month of the hub's clock: the last one that can have closed. */
const lastMonthOf = (now: Date) =>
  new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);

export function ChargebackPage(p: StackPageProps) {
  const [period, setPeriod] = useState(lastMonthOf(new Date(p.config.clock.now)));
  const state = useLoad(async () => {
    const c = await providerContext(p);
    return armList<ChargebackEntry>(
      adminPath(
        c,
        `/providers/Stackledger.Billing/chargeback?api-version=2026-11-01&period=${encodeURIComponent(period)}`,
      ),
      c.token,
    );
  }, [p.stack.adminArm, period]);
  // The CSV needs the bearer token, so it is fetched here and handed to the browser as a file.
  const download = async () => {
    const c = await providerContext(p);
    const response = await fetch(
      adminPath(
        c,
        `/providers/Stackledger.Billing/chargeback?api-version=2026-11-01&period=${encodeURIComponent(period)}&format=csv`,
      ),
      {
        headers: { authorization: `Bearer ${c.token}` },
      },
    );
    if (!response.ok) await api('GET', response.url, { token: c.token });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await response.blob());
    link.download = `chargeback-${p.stack.name}-${period}.csv`;
    link.click();
    URL.revokeObjectURL(link.href);
  };
  return (
    <>
      <h1>Chargeback</h1>
      <form class="form inline" aria-label="Chargeback period" onSubmit={(e) => e.preventDefault()}>
        <Field label="Period">
          <input
            type="month"
            value={period}
            required
            onChange={(e) => e.currentTarget.value && setPeriod(e.currentTarget.value)}
          />
        </Field>
        <div class="actions">
          <ActionButton kind="secondary" onClick={download}>
            Download CSV
          </ActionButton>
        </div>
      </form>
      <Loading state={state} what="chargeback">
        {(entries) =>
          entries.length === 0 ? (
            <p class="muted">No usage to charge back in {period}.</p>
          ) : (
            entries.map((e) => (
              <Panel title={`${e.displayName} — ${formatMoney(e.total, e.currency)}`}>
                <p class="muted">
                  Subscription <code>{e.subscriptionId}</code>, directory <code>{e.tenantId}</code>
                </p>
                <Table
                  label={`Chargeback of ${e.displayName}`}
                  rows={e.lines}
                  empty="No lines."
                  columns={[
                    { header: 'Meter', cell: (l) => l.meterName ?? meterName(l.meterId) },
                    {
                      header: 'Resource',
                      cell: (l) => (l.resourceUri ? <code>{l.resourceUri.split('/').pop()}</code> : '—'),
                    },
                    { header: 'Usage days', cell: (l) => formatDays(l.usageFrom, l.usageTo) },
                    {
                      header: 'Quantity',
                      numeric: true,
                      cell: (l) => `${formatQuantity(Number(l.quantity))} ${l.unit ?? ''}`.trim(),
                    },
                    { header: 'Unit price', numeric: true, cell: (l) => l.unitPrice ?? '—' },
                    { header: 'Amount', numeric: true, cell: (l) => formatMoney(l.amount, e.currency) },
                  ]}
                />
              </Panel>
            ))
          )
        }
      </Loading>
    </>
  );
}
