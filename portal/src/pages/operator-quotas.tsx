import { useState } from 'preact/hooks';
import { api, armList } from '../api.ts';
import { QUOTA_KINDS, type QuotaKind } from '../../../src/stack/offers/rules.ts';
import { ActionForm, Field, Loading, Panel, Table, useLoad } from '../ui.tsx';
import type { StackPageProps } from './operator.tsx';
import { providerContext, type ProviderContext } from './operator.tsx';

// The operator's quotas: the compute, storage and network providers' limits per location, as the
// stack serves them (their kinds and limits are the stack's own rules.ts). Plans group them.

export interface QuotaResource {
  id: string;
  name: string;
  type: string;
  properties: Record<string, number>;
}

/** `Compute` for `Microsoft.Compute.Admin`. */
export const providerLabel = (provider: string) => provider.replace(/^Microsoft\.|\.Admin$/g, '');

/** A quota's own name: the last segment of its id (its `name` is `{location}/{name}`). */
export const quotaNameOf = (id: string) => id.split('/').pop() ?? id;

/** `Cores limit` for `coresLimit`: a label with spaces, so it wraps at phone width. */
const limitLabel = (key: string) => {
  const words = key.replace(/([A-Z])/g, ' $1').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

const quotasUrl = (c: ProviderContext, kind: QuotaKind, name?: string) =>
  `${c.base}/subscriptions/${c.providerSubscriptionId}/providers/${kind.provider}/locations/${c.location}/quotas${
    name === undefined ? '' : `/${encodeURIComponent(name)}`
  }?api-version=${kind.apiVersions[0]}`;

/** Every quota of every kind on the stack's location. */
export async function listQuotas(c: ProviderContext): Promise<QuotaResource[]> {
  const lists = await Promise.all(QUOTA_KINDS.map((kind) => armList<QuotaResource>(quotasUrl(c, kind), c.token)));
  return lists.flat();
}

async function putQuota(c: ProviderContext, kind: QuotaKind, name: string, form: FormData) {
  const properties = Object.fromEntries(Object.keys(kind.limits).map((k) => [k, Number(form.get(k))]));
  await api('PUT', quotasUrl(c, kind, name), { token: c.token, body: { location: c.location, properties } });
}

/** One number input per limit of the kind, starting from `values`; in columns where there is room. */
function LimitFields({ kind, values, columns }: { kind: QuotaKind; values: Record<string, number>; columns: boolean }) {
  return (
    <div class={columns ? 'grid' : 'form'}>
      {Object.keys(kind.limits).map((k) => (
        <Field label={limitLabel(k)}>
          <input name={k} type="number" min={0} step={1} required defaultValue={String(values[k] ?? kind.limits[k])} />
        </Field>
      ))}
    </div>
  );
}

export function QuotasPage(p: StackPageProps) {
  const state = useLoad(async () => {
    const c = await providerContext(p);
    return { c, quotas: await listQuotas(c) };
  }, [p.stack.adminArm]);
  const [provider, setProvider] = useState(QUOTA_KINDS[0].provider);
  const kind = QUOTA_KINDS.find((k) => k.provider === provider) ?? QUOTA_KINDS[0];
  const context = async () => state.data?.c ?? (await providerContext(p));
  return (
    <>
      <h1>Quotas</h1>
      <p class="muted">
        Quotas cap what a subscription may use of one provider; plans group them and offers sell plans.
      </p>
      <Panel title="Create a quota">
        <ActionForm
          label="Create a quota"
          submit="Create quota"
          onSubmit={async (form) => {
            await putQuota(await context(), kind, String(form.get('name')).trim(), form);
            state.reload();
          }}
        >
          <div class="grid">
            <Field label="Provider">
              <select name="provider" value={provider} onChange={(e) => setProvider(e.currentTarget.value)}>
                {QUOTA_KINDS.map((k) => (
                  <option value={k.provider}>{providerLabel(k.provider)}</option>
                ))}
              </select>
            </Field>
            <Field label="Name">
              <input name="name" required maxLength={64} autocapitalize="none" />
            </Field>
          </div>
          {/* Keyed by provider: a change of kind starts from that kind's defaults. */}
          <LimitFields key={provider} kind={kind} values={kind.limits} columns />
        </ActionForm>
      </Panel>
      <Loading state={state} what="quotas">
        {({ c, quotas }) => (
          <>
            {QUOTA_KINDS.map((k) => (
              <Panel title={`${providerLabel(k.provider)} quotas`}>
                <Table
                  label={`${providerLabel(k.provider)} quotas`}
                  rows={quotas.filter((q) => q.type.toLowerCase() === `${k.provider}/locations/quotas`.toLowerCase())}
                  empty="No quotas of this provider."
                  columns={[
                    { header: 'Name', cell: (q) => <code>{quotaNameOf(q.id)}</code> },
                    {
                      header: 'Limits',
                      cell: (q) => (
                        <ul class="plain">
                          {Object.keys(k.limits).map((l) => (
                            <li>
                              {limitLabel(l)}: {q.properties[l]}
                            </li>
                          ))}
                        </ul>
                      ),
                    },
                    {
                      header: '',
                      cell: (q) => (
                        <details class="edit">
                          <summary>Edit {quotaNameOf(q.id)}</summary>
                          <ActionForm
                            label={`Edit quota ${quotaNameOf(q.id)}`}
                            submit="Save limits"
                            onSubmit={async (form) => {
                              await putQuota(c, k, quotaNameOf(q.id), form);
                              state.reload();
                            }}
                          >
                            <LimitFields kind={k} values={q.properties} columns={false} />
                          </ActionForm>
                        </details>
                      ),
                    },
                  ]}
                />
              </Panel>
            ))}
          </>
        )}
      </Loading>
    </>
  );
}
