import { armList } from '../api.ts';
import { Loading, Table, useLoad } from '../ui.tsx';
import { arm, AZURESTACK_API, type PageProps } from './csp-api.ts';

// The deployments' registrations in the CSP's own subscriptions (hub ARM, Microsoft.AzureStack),
// and the customer subscriptions linked to each.

export interface Registration {
  id: string;
  name: string;
  properties: { cloudId: string; billingModel: string; objectId: string };
  /** Customer subscription ids linked to it now (lower case). */
  linked: string[];
}

/** The registrations in the CSP's own subscriptions, with the customer subscriptions linked to each. */
export async function loadRegistrations(p: PageProps): Promise<Registration[]> {
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
