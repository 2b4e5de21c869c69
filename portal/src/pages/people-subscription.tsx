import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { Field, Loading, useLoad } from '../ui.tsx';
import { type HubSubscription, hubSubscriptions, type PeopleProps } from './people-api.ts';

/** The hub subscriptions the caller sees, one of them chosen (the first unless picked). */
export function OnHubSubscription(p: PeopleProps & { children: (sub: HubSubscription) => ComponentChildren }) {
  const subscriptions = useLoad(() => hubSubscriptions(p), []);
  const [chosen, setChosen] = useState<string>();
  return (
    <Loading state={subscriptions} what="subscriptions">
      {(subs) => {
        if (subs.length === 0) return <p class="muted">You see no subscription on the hub.</p>;
        const sub = subs.find((s) => s.subscriptionId === chosen) ?? subs[0];
        return (
          <>
            <Field label="Subscription">
              <select value={sub.subscriptionId} onChange={(e) => setChosen(e.currentTarget.value)}>
                {subs.map((s) => (
                  <option value={s.subscriptionId}>
                    {s.displayName} ({s.subscriptionId})
                  </option>
                ))}
              </select>
            </Field>
            {p.children(sub)}
          </>
        );
      }}
    </Loading>
  );
}
