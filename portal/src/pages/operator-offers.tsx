import { api, armList } from '../api.ts';
import { ActionButton, ActionForm, Field, Loading, NameAndId, Panel, StatusBadge, Table, useLoad } from '../ui.tsx';
import {
  adminPath,
  providerContext,
  SUBSCRIPTIONS_API,
  type ProviderContext,
  type StackPageProps,
} from './operator.tsx';
import { catalogUrl, Choices, listPlans, type PlanResource } from './operator-plans.tsx';

// The operator's offers (Microsoft.Subscriptions.Admin/offers): base plans, and the state that
// decides who sees them (Public: every onboarded tenant may subscribe; Private: nobody new).

interface OfferResource {
  id: string;
  name: string;
  properties: { displayName: string; state: string; subscriptionCount: number; basePlanIds: string[] };
}

const planChoices = (plans: PlanResource[]) =>
  plans.map((pl) => ({ value: pl.id, label: `${pl.properties.displayName} (${pl.name})` }));

/** The state the toggle moves an offer to; Decommissioned has none. */
const TOGGLED_STATE: Record<string, string> = { Private: 'Public', Public: 'Private' };

const planNameOf = (id: string) => id.split('/').pop() ?? id;

async function putOffer(c: ProviderContext, idOrName: string, properties: Record<string, unknown>) {
  await api('PUT', catalogUrl(c, 'offers', idOrName), { token: c.token, body: { location: c.location, properties } });
}

/** What the create and edit forms send: the display name if given, the plans ticked. */
const offerProperties = (form: FormData) => ({
  displayName: String(form.get('displayName') ?? '').trim() || undefined,
  basePlanIds: form.getAll('basePlanIds').map(String),
});

export function OffersPage(p: StackPageProps) {
  const state = useLoad(async () => {
    const c = await providerContext(p);
    const [offers, plans] = await Promise.all([
      armList<OfferResource>(
        adminPath(c, `/providers/Microsoft.Subscriptions.Admin/offers?${SUBSCRIPTIONS_API}`),
        c.token,
      ),
      listPlans(c),
    ]);
    return { c, offers, plans };
  }, [p.stack.adminArm]);
  return (
    <>
      <h1>Offers</h1>
      <p class="muted">Tenants of onboarded directories may subscribe to public offers; private ones are hidden.</p>
      <Loading state={state} what="offers">
        {({ c, offers, plans }) => (
          <>
            <Panel title="Create an offer">
              <ActionForm
                label="Create an offer"
                submit="Create offer"
                onSubmit={async (form) => {
                  await putOffer(c, String(form.get('name')).trim(), {
                    ...offerProperties(form),
                    state: String(form.get('state')),
                  });
                  state.reload();
                }}
              >
                <div class="grid">
                  <Field label="Name">
                    <input name="name" required maxLength={64} autocapitalize="none" />
                  </Field>
                  <Field label="Display name">
                    <input name="displayName" maxLength={256} />
                  </Field>
                  <Field label="State">
                    <select name="state">
                      <option value="Private">Private</option>
                      <option value="Public">Public</option>
                    </select>
                  </Field>
                </div>
                <Choices
                  legend="Base plans"
                  name="basePlanIds"
                  choices={planChoices(plans)}
                  checked={[]}
                  empty="No plans yet."
                />
              </ActionForm>
            </Panel>
            <Panel title="Offers">
              <Table
                label="Offers"
                rows={offers}
                empty="No offers."
                columns={[
                  { header: 'Offer', cell: (o) => <NameAndId name={o.properties.displayName} id={o.name} /> },
                  { header: 'State', cell: (o) => <StatusBadge status={o.properties.state} /> },
                  { header: 'Plans', cell: (o) => o.properties.basePlanIds.map(planNameOf).join(', ') || '—' },
                  { header: 'Subscriptions', numeric: true, cell: (o) => o.properties.subscriptionCount },
                  {
                    header: '',
                    cell: (o) => {
                      // Decommissioned stays so: existing subscriptions keep it, nobody new takes it.
                      const next = TOGGLED_STATE[o.properties.state];
                      // One element, so that at phone width it sits in the cell's value column.
                      return (
                        <div>
                          {next && (
                            <ActionButton
                              kind="secondary"
                              label={`Make ${o.name} ${next.toLowerCase()}`}
                              onClick={async () => {
                                await putOffer(c, o.id, { state: next });
                                state.reload();
                              }}
                            >
                              Make {next.toLowerCase()}
                            </ActionButton>
                          )}
                          <details class="edit">
                            <summary>Edit {o.name}</summary>
                            <ActionForm
                              label={`Edit offer ${o.name}`}
                              submit="Save offer"
                              onSubmit={async (form) => {
                                await putOffer(c, o.id, offerProperties(form));
                                state.reload();
                              }}
                            >
                              <Field label="Display name">
                                <input name="displayName" maxLength={256} defaultValue={o.properties.displayName} />
                              </Field>
                              <Choices
                                legend="Base plans"
                                name="basePlanIds"
                                choices={planChoices(plans)}
                                checked={o.properties.basePlanIds}
                                empty="No plans yet."
                              />
                            </ActionForm>
                          </details>
                        </div>
                      );
                    },
                  },
                ]}
              />
            </Panel>
          </>
        )}
      </Loading>
    </>
  );
}
