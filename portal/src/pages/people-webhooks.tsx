import { EVENT_TYPES } from '../../../src/notifications/events.ts';
import { api, armList } from '../api.ts';
import { ActionButton, ActionForm, Field, formatTime, Loading, Panel, StatusBadge, Table, useLoad } from '../ui.tsx';
import { hubArm, HUB_API, type PeopleProps } from './people-api.ts';

// The caller's webhooks (Stackledger.Notifications on the hub): making one (url, events, secret),
// deleting it, and its delivery log with status, attempts and the last error, where one delivery
// can be sent again.

interface Webhook {
  name: string;
  properties: { url: string; events: string[]; createdAt: string };
}

interface Delivery {
  name: string;
  properties: {
    eventId: string;
    eventType: string;
    eventTime: string;
    status: string;
    attempts: number;
    lastStatusCode: number | null;
    lastError: string | null;
    lastAttemptAt: string | null;
  };
}

const webhooksUrl = (p: PeopleProps) => `${hubArm(p).base}/providers/Stackledger.Notifications/webhooks`;

function Deliveries(p: PeopleProps & { webhook: string }) {
  const { token } = hubArm(p);
  const url = `${webhooksUrl(p)}/${encodeURIComponent(p.webhook)}/deliveries`;
  const deliveries = useLoad(() => armList<Delivery>(`${url}?${HUB_API}`, token), [url]);
  const resend = async (eventId: string) => {
    await api('POST', `${url}/${encodeURIComponent(eventId)}/resend?${HUB_API}`, { token });
    deliveries.reload();
  };
  return (
    <Panel
      title={`Deliveries of ${p.webhook}`}
      actions={
        <button type="button" class="secondary" onClick={deliveries.reload}>
          Refresh
        </button>
      }
    >
      <Loading state={deliveries} what="deliveries">
        {(rows) => (
          <Table
            label={`Deliveries of ${p.webhook}`}
            rows={rows}
            empty="Nothing delivered yet."
            columns={[
              { header: 'Event', cell: (d) => d.properties.eventType },
              { header: 'Time', cell: (d) => formatTime(d.properties.eventTime) },
              { header: 'Status', cell: (d) => <StatusBadge status={d.properties.status} /> },
              { header: 'Attempts', numeric: true, cell: (d) => d.properties.attempts },
              {
                header: 'Last error',
                cell: (d) =>
                  d.properties.lastError ??
                  (d.properties.status !== 'Delivered' && d.properties.lastStatusCode
                    ? `HTTP ${d.properties.lastStatusCode}`
                    : '—'),
              },
              {
                header: 'Actions',
                cell: (d) => (
                  <ActionButton
                    kind="secondary"
                    label={`Re-send ${d.properties.eventType} ${d.properties.eventId}`}
                    onClick={() => resend(d.properties.eventId)}
                  >
                    Re-send
                  </ActionButton>
                ),
              },
            ]}
          />
        )}
      </Loading>
    </Panel>
  );
}

export function WebhooksPage(p: PeopleProps) {
  const { token } = hubArm(p);
  const webhooks = useLoad(() => armList<Webhook>(`${webhooksUrl(p)}?${HUB_API}`, token), []);
  const create = async (form: FormData) => {
    const secret = String(form.get('secret'));
    await api('PUT', `${webhooksUrl(p)}/${encodeURIComponent(String(form.get('name')).trim())}?${HUB_API}`, {
      token,
      body: {
        properties: {
          url: String(form.get('url')).trim(),
          events: form.getAll('events').map(String),
          ...(secret ? { secret } : {}),
        },
      },
    });
    webhooks.reload();
  };
  const remove = async (name: string) => {
    await api('DELETE', `${webhooksUrl(p)}/${encodeURIComponent(name)}?${HUB_API}`, { token });
    webhooks.reload();
  };
  return (
    <>
      <h1>Webhooks</h1>
      <ActionForm label="New webhook" submit="Save webhook" onSubmit={create}>
        <Field label="Webhook name" hint="An existing name replaces that webhook.">
          <input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*" maxLength={64} />
        </Field>
        <Field label="URL">
          <input name="url" type="url" required />
        </Field>
        <fieldset class="roles">
          <legend>Events</legend>
          {EVENT_TYPES.map((e) => (
            <label class="choice">
              <input type="checkbox" name="events" value={e} />
              {e}
            </label>
          ))}
        </fieldset>
        <Field label="Signing secret" hint="Optional; never shown again.">
          <input name="secret" type="password" autocomplete="new-password" />
        </Field>
      </ActionForm>
      <Loading state={webhooks} what="webhooks">
        {(rows) => (
          <>
            <Table
              label="Webhooks"
              rows={rows}
              empty="No webhook yet."
              columns={[
                { header: 'Name', cell: (w) => w.name },
                { header: 'URL', cell: (w) => <code>{w.properties.url}</code> },
                { header: 'Events', cell: (w) => w.properties.events.join(', ') },
                {
                  header: 'Actions',
                  cell: (w) => (
                    <ActionButton kind="danger" label={`Delete webhook ${w.name}`} onClick={() => remove(w.name)}>
                      Delete
                    </ActionButton>
                  ),
                },
              ]}
            />
            {rows.map((w) => (
              <Deliveries key={w.name} {...p} webhook={w.name} />
            ))}
          </>
        )}
      </Loading>
    </>
  );
}
