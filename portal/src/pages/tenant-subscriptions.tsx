import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError, armList } from '../api.ts';
import { tokenFor } from '../session.ts';
import {
  ActionButton,
  ActionForm,
  ErrorMessage,
  Field,
  Loading,
  newGuid,
  Panel,
  StatusBadge,
  useLoad,
} from '../ui.tsx';
import type { StackPageProps } from './operator.tsx';

// The frame of a tenant user's pages on one stack's tenant endpoint (tenant.tsx): admission of the
// user's directory, its subscriptions (taken from a public offer), and the one chosen.

const SUBSCRIPTIONS_API = 'api-version=2015-11-01';

export interface TenantSubscription {
  subscriptionId: string;
  displayName: string;
  state: string;
  offerId?: string;
}

export const tenantApi = (p: StackPageProps) => ({
  base: p.stack.tenantArm,
  token: tokenFor(p.session, p.stack.tenantArm),
});

/** What to do when the stack does not admit the user's directory (yet). */
function Admission(p: StackPageProps & { error: unknown; retry: () => void }) {
  const code = p.error instanceof ApiError ? p.error.code : undefined;
  const consent = async () => {
    const graph = p.config.hub.graph;
    try {
      await api('POST', `${graph}/v1.0/servicePrincipals`, {
        token: tokenFor(p.session, graph),
        body: { appId: p.stack.applicationId },
      });
    } catch (e) {
      // Consenting twice is fine.
      if (!(e instanceof ApiError && e.code === 'Request_MultipleObjectsWithSameKeyValue')) throw e;
    }
    p.retry();
  };
  return (
    <>
      <ErrorMessage error={p.error} title="This stack does not admit your directory" />
      {code === 'DirectoryTenantConsentMissing' && (
        <p>
          Your directory is onboarded; a directory administrator must consent to the stack's application.{' '}
          <ActionButton onClick={consent}>Consent for my directory</ActionButton>
        </p>
      )}
      {code === 'DirectoryTenantNotOnboarded' && <p>Ask the stack's operator to onboard your directory.</p>}
    </>
  );
}

function useSubscriptions(p: StackPageProps) {
  const { base, token } = tenantApi(p);
  return useLoad(() => armList<TenantSubscription>(`${base}/subscriptions?api-version=2022-12-01`, token), [base]);
}

function SubscriptionPicker(props: { subs: TenantSubscription[]; value: string; onChange: (id: string) => void }) {
  if (props.subs.length < 2) return null;
  return (
    <Field label="Subscription">
      <select value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.subs.map((s) => (
          <option value={s.subscriptionId}>
            {s.displayName} ({s.subscriptionId})
          </option>
        ))}
      </select>
    </Field>
  );
}

function TakeOffer(p: StackPageProps & { done: () => void }) {
  const { base, token } = tenantApi(p);
  const offers = useLoad(
    () => armList<{ id: string; name: string; displayName: string }>(`${base}/offers?${SUBSCRIPTIONS_API}`, token),
    [base],
  );
  const take = async (form: FormData) => {
    await api('PUT', `${base}/subscriptions/${newGuid()}?${SUBSCRIPTIONS_API}`, {
      token,
      body: { displayName: String(form.get('displayName')).trim(), offerId: String(form.get('offerId')) },
    });
    p.done();
  };
  return (
    <Loading state={offers} what="offers">
      {(list) =>
        list.length === 0 ? (
          <p class="muted">This stack has no public offer.</p>
        ) : (
          <ActionForm label="Get a subscription" submit="Get subscription" onSubmit={take} class="form inline">
            <Field label="Offer">
              <select name="offerId">
                {list.map((o) => (
                  <option value={o.id}>{o.displayName || o.name}</option>
                ))}
              </select>
            </Field>
            <Field label="Subscription name">
              <input name="displayName" required defaultValue="My subscription" />
            </Field>
          </ActionForm>
        )
      }
    </Loading>
  );
}

/** The page's frame: admission problems, no subscription yet, or the chosen subscription. */
export function WithSubscription(p: StackPageProps & { children: (sub: TenantSubscription) => ComponentChildren }) {
  const subs = useSubscriptions(p);
  const [chosen, setChosen] = useState<string>();
  if (subs.error) return <Admission {...p} error={subs.error} retry={subs.reload} />;
  if (!subs.data) return <p class="muted">Loading subscriptions…</p>;
  if (subs.data.length === 0) {
    return (
      <Panel title="Get a subscription">
        <p>You have no subscription on this stack yet. Take one from an offer:</p>
        <TakeOffer {...p} done={subs.reload} />
      </Panel>
    );
  }
  const sub = subs.data.find((s) => s.subscriptionId === chosen) ?? subs.data[0];
  return (
    <>
      <SubscriptionPicker subs={subs.data} value={sub.subscriptionId} onChange={setChosen} />
      <p class="muted">
        Subscription <strong>{sub.displayName}</strong> <code>{sub.subscriptionId}</code>{' '}
        <StatusBadge status={sub.state} />
      </p>
      {p.children(sub)}
    </>
  );
}
