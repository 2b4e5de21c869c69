import type { Reconciliation } from '../../../src/stack/bridge/reconcile.ts';
import type { BridgeStatusView } from '../../../src/stack/bridge/routes.ts';
import type { QuarantineEntry } from '../../../src/stack/bridge/store.ts';
import { api, armList } from '../api.ts';
import { meterName } from '../chart.tsx';
import { tokenFor } from '../session.ts';
import { ActionButton, ActionForm, Field, formatTime, Loading, Panel, StatusBadge, Table, useLoad } from '../ui.tsx';
import type { StackPageProps } from './operator.tsx';

// The stack operator's usage bridge: delivery status, the quarantine of records the hub refused
// (retry after a fix, or drop with a reason), and the last reconciliation with the hub.

const API = 'api-version=2026-11-01';

export function BridgePage(p: StackPageProps) {
  const token = tokenFor(p.session, p.stack.adminArm);
  const bridge = `${p.stack.adminArm}/providers/Stackledger.System/bridge`;
  const state = useLoad(() => api<BridgeStatusView>('GET', `${bridge}?${API}`, { token }), [p.stack.adminArm]);
  const quarantine = useLoad(() => armList<QuarantineEntry>(`${bridge}/quarantine?${API}`, token), [p.stack.adminArm]);
  const reload = () => {
    state.reload();
    quarantine.reload();
  };
  const act = async (action: 'retry' | 'drop', body: object) => {
    await api('POST', `${bridge}/quarantine/${action}?${API}`, { token, body });
    reload();
  };
  return (
    <>
      <h1>Usage bridge</h1>
      <p class="muted">Closed usage hours wait in the stack's outbox until the hub acknowledges them.</p>
      <Panel
        title="Status"
        actions={
          <button type="button" class="secondary" onClick={reload}>
            Refresh
          </button>
        }
      >
        <Loading state={state} what="the bridge's status">
          {(s) => (
            <>
              {s.lastError ? (
                <div class="error" role="alert">
                  <strong>Delivery is failing:</strong> {s.lastError}
                </div>
              ) : (
                <p>
                  <StatusBadge status="ok" /> Delivering normally.
                </p>
              )}
              <dl class="facts">
                <dt>Cloud id</dt>
                <dd>
                  <code>{s.cloudId ?? '—'}</code>
                </dd>
                <dt>Metering closed until</dt>
                <dd>{formatTime(s.closedUntil)}</dd>
                <dt>Last hour delivered</dt>
                <dd>{formatTime(s.lastDeliveredHour)}</dd>
                <dt>Records in the outbox</dt>
                <dd data-testid="bridge-outbox">{s.outbox}</dd>
                <dt>Records delivered</dt>
                <dd>{s.delivered}</dd>
                <dt>Quarantined</dt>
                <dd data-testid="bridge-quarantined">
                  {s.quarantine.held} held, {s.quarantine.dropped} dropped
                </dd>
                <dt>Lag</dt>
                <dd>{Math.round(s.lagSeconds / 60)} minutes</dd>
                <dt>Last delivery</dt>
                <dd>{formatTime(s.lastDeliveredAt)}</dd>
                <dt>Last attempt</dt>
                <dd>{formatTime(s.lastAttemptAt)}</dd>
              </dl>
            </>
          )}
        </Loading>
      </Panel>
      <Panel title="Quarantine">
        <p class="muted">
          Records the hub refused are set aside here, so that everything else keeps flowing. Retry one after fixing its
          cause, or drop it with a reason.
        </p>
        <Loading state={quarantine} what="the quarantine">
          {(entries) => (
            <Table
              label="Quarantined records"
              rows={entries}
              empty="Nothing in quarantine: the hub took every record."
              columns={[
                { header: 'Id', numeric: true, cell: (e) => e.id },
                { header: 'State', cell: (e) => <StatusBadge status={e.deliveredAt ? 'delivered' : e.state} /> },
                { header: 'Hour', cell: (e) => formatTime(e.hour) },
                { header: 'Meter', cell: (e) => meterName(e.meterId) },
                { header: 'Quantity', numeric: true, cell: (e) => e.quantity },
                { header: 'Resource', cell: (e) => <code>{e.resourceUri.split('/').pop() || e.resourceId}</code> },
                {
                  header: "Hub's reason",
                  // One element per cell, so that at phone width it sits in the cell's value column.
                  cell: (e) => (
                    <div>
                      <code>{e.refusal.code}</code> {e.refusal.message}
                    </div>
                  ),
                },
                {
                  header: 'Dropped',
                  cell: (e) => (e.dropped ? `${e.dropped.reason} (${e.dropped.by}, ${formatTime(e.dropped.at)})` : '—'),
                },
                {
                  header: '',
                  cell: (e) =>
                    e.state === 'held' ? (
                      <div>
                        <ActionButton
                          kind="secondary"
                          label={`Retry record ${e.id}`}
                          onClick={() => act('retry', { ids: [e.id] })}
                        >
                          Retry
                        </ActionButton>
                        <ActionForm
                          label={`Drop record ${e.id}`}
                          submit="Drop"
                          class="form inline"
                          onSubmit={(form) => act('drop', { ids: [e.id], reason: String(form.get('reason') ?? '') })}
                        >
                          <Field label="Reason">
                            <input name="reason" required maxLength={1000} />
                          </Field>
                        </ActionForm>
                      </div>
                    ) : null,
                },
              ]}
            />
          )}
        </Loading>
      </Panel>
      <Panel title="Reconciliation with the hub">
        <Loading state={state} what="the reconciliation">
          {(s) => <ReconciliationView r={s.reconciliation} />}
        </Loading>
      </Panel>
    </>
  );
}

function ReconciliationView({ r }: { r: Reconciliation | null }) {
  if (!r)
    return (
      <p class="muted">Not reconciled yet: the bridge compares its last 24 closed hours with the hub every 6 hours.</p>
    );
  return (
    <>
      {r.error ? (
        <div class="error" role="alert">
          <strong>The hub could not be asked:</strong> {r.error}
        </div>
      ) : (
        <p data-testid="bridge-reconciliation">
          <StatusBadge status={r.balanced ? 'ok' : 'differences'} />{' '}
          {r.balanced ? 'The delivered records and the hub agree' : `${r.differences.length} hours and meters differ`}{' '}
          from {formatTime(r.from)} to {formatTime(r.to)} (checked {formatTime(r.checkedAt)}).
        </p>
      )}
      <Table
        label="Reconciliation differences"
        rows={r.differences}
        empty="No differences."
        columns={[
          { header: 'Hour', cell: (d) => formatTime(d.hour) },
          { header: 'Meter', cell: (d) => meterName(d.meterId) },
          { header: 'Stack: records', numeric: true, cell: (d) => d.stack.records },
          { header: 'Stack: quantity', numeric: true, cell: (d) => d.stack.quantity },
          { header: 'Hub: records', numeric: true, cell: (d) => d.hub.records },
          { header: 'Hub: quantity', numeric: true, cell: (d) => d.hub.quantity },
        ]}
      />
    </>
  );
}
