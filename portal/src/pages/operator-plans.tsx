import { api, armList } from '../api.ts';
import { ActionForm, Field, Loading, NameAndId, Panel, Table, useLoad } from '../ui.tsx';
import {
  adminPath,
  providerContext,
  SUBSCRIPTIONS_API,
  type ProviderContext,
  type StackPageProps,
} from './operator.tsx';
import { parseQuotaId } from '../../../src/stack/offers/rules.ts';
import { listQuotas, providerLabel, type QuotaResource } from './operator-quotas.tsx';

// The operator's plans (Microsoft.Subscriptions.Admin/plans): each a set of quotas, which are the
// services an offer of the plan grants.

export interface PlanResource {
  id: string;
  name: string;
  properties: { displayName: string; quotaIds: string[] };
}

/** New plans go where the stack's default catalogue keeps its own: the group `plans`. */
export const CATALOG_GROUP = 'plans';

const ADMIN = '/providers/Microsoft.Subscriptions.Admin';

export const listPlans = (c: ProviderContext) =>
  armList<PlanResource>(adminPath(c, `${ADMIN}/plans?${SUBSCRIPTIONS_API}`), c.token);

/** A plan's or offer's admin URL from its id, or a new one's in the catalogue's group. */
export const catalogUrl = (c: ProviderContext, kind: 'plans' | 'offers', idOrName: string) =>
  idOrName.startsWith('/')
    ? `${c.base}${idOrName}?${SUBSCRIPTIONS_API}`
    : adminPath(
        c,
        `/resourceGroups/${CATALOG_GROUP}${ADMIN}/${kind}/${encodeURIComponent(idOrName)}?${SUBSCRIPTIONS_API}`,
      );

/** Checkboxes in a fieldset, one per choice, each named by its label. */
export function Choices(props: {
  legend: string;
  name: string;
  choices: { value: string; label: string }[];
  checked: string[];
  empty: string;
}) {
  const checked = new Set(props.checked.map((v) => v.toLowerCase()));
  return (
    // The sign-in's role picker's style: a bordered column of choices.
    <fieldset class="roles">
      <legend>{props.legend}</legend>
      {props.choices.length === 0 && <span class="muted">{props.empty}</span>}
      {props.choices.map((c) => (
        <label class="choice">
          <input
            type="checkbox"
            name={props.name}
            value={c.value}
            defaultChecked={checked.has(c.value.toLowerCase())}
          />
          {c.label}
        </label>
      ))}
    </fieldset>
  );
}

/** `Compute portal-compute`: a quota's provider and name, from its id. */
const quotaLabel = (id: string) => {
  const q = parseQuotaId(id);
  return q ? `${providerLabel(q.provider)} ${q.name}` : id;
};

const quotaChoices = (quotas: QuotaResource[]) => quotas.map((q) => ({ value: q.id, label: quotaLabel(q.id) }));

async function putPlan(c: ProviderContext, idOrName: string, form: FormData) {
  const displayName = String(form.get('displayName') ?? '').trim();
  await api('PUT', catalogUrl(c, 'plans', idOrName), {
    token: c.token,
    body: {
      location: c.location,
      properties: { displayName: displayName || undefined, quotaIds: form.getAll('quotaIds').map(String) },
    },
  });
}

export function PlansPage(p: StackPageProps) {
  const state = useLoad(async () => {
    const c = await providerContext(p);
    const [plans, quotas] = await Promise.all([listPlans(c), listQuotas(c)]);
    return { c, plans, quotas };
  }, [p.stack.adminArm]);
  return (
    <>
      <h1>Plans</h1>
      <p class="muted">A plan is a set of quotas; an offer sells one or more plans to tenants.</p>
      <Loading state={state} what="plans">
        {({ c, plans, quotas }) => (
          <>
            <Panel title="Create a plan">
              <ActionForm
                label="Create a plan"
                submit="Create plan"
                onSubmit={async (form) => {
                  await putPlan(c, String(form.get('name')).trim(), form);
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
                </div>
                <Choices
                  legend="Quotas"
                  name="quotaIds"
                  choices={quotaChoices(quotas)}
                  checked={[]}
                  empty="No quotas yet."
                />
              </ActionForm>
            </Panel>
            <Panel title="Plans">
              <Table
                label="Plans"
                rows={plans}
                empty="No plans."
                columns={[
                  { header: 'Plan', cell: (pl) => <NameAndId name={pl.properties.displayName} id={pl.name} /> },
                  {
                    header: 'Quotas',
                    cell: (pl) => pl.properties.quotaIds.map(quotaLabel).join(', ') || '—',
                  },
                  {
                    header: '',
                    cell: (pl) => (
                      <details class="edit">
                        <summary>Edit {pl.name}</summary>
                        <ActionForm
                          label={`Edit plan ${pl.name}`}
                          submit="Save plan"
                          onSubmit={async (form) => {
                            await putPlan(c, pl.id, form);
                            state.reload();
                          }}
                        >
                          <Field label="Display name">
                            <input name="displayName" maxLength={256} defaultValue={pl.properties.displayName} />
                          </Field>
                          <Choices
                            legend="Quotas"
                            name="quotaIds"
                            choices={quotaChoices(quotas)}
                            checked={pl.properties.quotaIds}
                            empty="No quotas yet."
                          />
                        </ActionForm>
                      </details>
                    ),
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
