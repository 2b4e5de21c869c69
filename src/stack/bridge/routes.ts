import type { SystemRights } from '../../arm/service.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { DAY_MS, parseInstant, startOfHour } from '../../core/clock.ts';
import { armError } from '../../core/errors.ts';
import { checkReconciliationRange } from '../../core/usage-summary.ts';
import type { Principal } from '../../core/principal.ts';
import { principalOf, queryValue } from '../../http/arm.ts';
import { pageOf, pagedList } from '../../http/paging.ts';
import { outboxStore } from '../metering/outbox-store.ts';
import { closedUntil as meteringClosedUntil } from '../metering/service.ts';
import type { UsageBridge } from './job.ts';
import { dropQuarantined, quarantinePage, retryQuarantined } from './quarantine.ts';
import { reconcile, type Reconciliation } from './reconcile.ts';
import { bridgeStore, QUARANTINE_ORDER, type BridgeDb } from './store.ts';

// The bridge for the operator: its status (as an API, and as Prometheus metrics), the quarantine
// of refused records (list, retry, drop), and the reconciliation with the hub on demand.

export interface BridgeStatusView {
  stack: string;
  cloudId: string | null;
  closedUntil: string | null;
  lastClosedHour: string | null;
  lastDeliveredHour: string | null;
  outbox: number;
  delivered: number;
  quarantine: { held: number; dropped: number };
  lagSeconds: number;
  lastDeliveredAt: string | null;
  lastAcknowledgedBatch: string | null;
  lastAttemptAt: string | null;
  lastError: string | null;
  reconciliation: Reconciliation | null;
}

export async function bridgeStatus(
  db: BridgeDb,
  stack: string,
  cloudId: string | undefined,
  now: Date,
): Promise<BridgeStatusView> {
  // The outbox first: a record is quarantined only while undelivered, so counting the quarantine
  // after it never takes away more than the outbox held.
  const records = await outboxStore.counts(db);
  const quarantine = await bridgeStore.counts(db);
  const outbox = records.undelivered - (quarantine.held + quarantine.dropped);
  const status = await bridgeStore.status(db);
  const closedUntil = await meteringClosedUntil(db);
  // Lag: how far the oldest undelivered hour is behind now (0 when all is delivered).
  const oldest = outbox > 0 ? (await outboxStore.undelivered(db, 1, bridgeStore.withheld))[0] : undefined;
  return {
    stack,
    cloudId: cloudId ?? null,
    closedUntil: closedUntil?.toISOString() ?? null,
    lastClosedHour: records.lastClosedHour?.toISOString() ?? null,
    lastDeliveredHour: records.lastDeliveredHour?.toISOString() ?? null,
    outbox,
    delivered: records.delivered,
    quarantine,
    lagSeconds: oldest ? Math.max(0, Math.round((now.getTime() - new Date(oldest.hour).getTime()) / 1000) - 3600) : 0,
    lastDeliveredAt: status.lastDeliveredAt ?? null,
    lastAcknowledgedBatch: status.lastAcknowledgedBatch ?? null,
    lastAttemptAt: status.lastAttemptAt ?? null,
    lastError: status.lastError ?? null,
    reconciliation: status.reconciliation ?? null,
  };
}

function metrics(s: BridgeStatusView): string {
  const label = `{stack="${s.stack}"}`;
  const line = (name: string, help: string, type: string, value: number) =>
    `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}${label} ${value}\n`;
  const ts = (iso: string | null | undefined) => (iso ? Date.parse(iso) / 1000 : 0);
  const r = s.reconciliation;
  return [
    line(
      'stackledger_bridge_outbox_records',
      'Usage records closed and not yet acknowledged by the hub (quarantined ones apart).',
      'gauge',
      s.outbox,
    ),
    line('stackledger_bridge_delivered_records', 'Usage records the hub acknowledged.', 'gauge', s.delivered),
    line(
      'stackledger_bridge_quarantined_records',
      'Usage records the hub refused, held until retried or dropped.',
      'gauge',
      s.quarantine.held,
    ),
    line(
      'stackledger_bridge_dropped_records',
      'Quarantined usage records the operator dropped.',
      'gauge',
      s.quarantine.dropped,
    ),
    line(
      'stackledger_bridge_lag_seconds',
      'How long the oldest undelivered usage hour has been closed.',
      'gauge',
      s.lagSeconds,
    ),
    line(
      'stackledger_metering_closed_until_timestamp_seconds',
      'The end of the last closed metering hour.',
      'gauge',
      ts(s.closedUntil),
    ),
    line(
      'stackledger_bridge_last_delivery_timestamp_seconds',
      'When the hub last acknowledged a batch (domain time).',
      'gauge',
      ts(s.lastDeliveredAt),
    ),
    line('stackledger_bridge_failing', '1 while the last delivery attempt failed.', 'gauge', s.lastError ? 1 : 0),
    line(
      'stackledger_bridge_reconciliation_differences',
      "Hours and meters where the delivered records and the hub's differ, at the last reconciliation.",
      'gauge',
      r?.differences.length ?? 0,
    ),
    line(
      'stackledger_bridge_reconciliation_failing',
      '1 when the last reconciliation could not ask the hub.',
      'gauge',
      r?.error ? 1 : 0,
    ),
    line(
      'stackledger_bridge_reconciliation_timestamp_seconds',
      'When the bridge last reconciled with the hub (domain time).',
      'gauge',
      ts(r?.checkedAt),
    ),
  ].join('');
}

const QuarantineBody = Type.Object({
  ids: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), { maxItems: 1000 })),
  all: Type.Optional(Type.Boolean()),
  reason: Type.Optional(Type.String({ maxLength: 4000 })),
});

export interface BridgeRoutesOptions {
  stack: string;
  cloudId: () => string | undefined;
  now: () => Date;
  baseUrl: () => string;
}

export function registerBridgeRoutes(
  app: FastifyInstance,
  bridge: UsageBridge,
  o: BridgeRoutesOptions,
  operator: SystemRights,
): void {
  const { db } = bridge;
  const { stack, cloudId, now } = o;
  const requireOperator = (p: Principal, action = 'Stackledger.System/bridge/read') => operator.require(p, action);
  const config = { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.System/bridge' };
  app.get('/providers/Stackledger.System/bridge', { config }, async (request) => {
    await requireOperator(principalOf(request));
    return bridgeStatus(db, stack, cloudId(), now());
  });
  app.get('/metrics', async (request, reply) => {
    await requireOperator(principalOf(request));
    return reply.type('text/plain; version=0.0.4').send(metrics(await bridgeStatus(db, stack, cloudId(), now())));
  });

  app.get('/providers/Stackledger.System/bridge/quarantine', { config }, async (request) => {
    await requireOperator(principalOf(request));
    const page = pageOf(request, QUARANTINE_ORDER);
    return pagedList(request, o.baseUrl(), page, await quarantinePage(db, page), (e) => e);
  });
  // Who may act is decided before the body is read: without the right, 403 whatever was sent.
  const action = (name: 'retry' | 'drop') => ({
    config,
    schema: { body: QuarantineBody },
    preParsing: async (request: FastifyRequest, _reply: FastifyReply, payload: RequestPayload) => {
      await requireOperator(principalOf(request), `Stackledger.System/bridge/quarantine/${name}/action`);
      return payload;
    },
  });
  app.post<{ Body: Static<typeof QuarantineBody> }>(
    '/providers/Stackledger.System/bridge/quarantine/retry',
    action('retry'),
    async (request) => retryQuarantined(db, principalOf(request), request.body, now()),
  );
  app.post<{ Body: Static<typeof QuarantineBody> }>(
    '/providers/Stackledger.System/bridge/quarantine/drop',
    action('drop'),
    async (request) => dropQuarantined(db, principalOf(request), request.body, now()),
  );

  // The reconciliation on demand (`stackledger usage verify --stack`): by default the bridge's own
  // window, the last 24 closed hours.
  app.get('/providers/Stackledger.System/bridge/reconciliation', { config }, async (request) => {
    await requireOperator(principalOf(request));
    if (!bridge.hub.ready)
      throw armError(
        'DeploymentNotRegistered',
        'This deployment is not registered with the hub yet: there is nothing to reconcile.',
      );
    const closedUntil = startOfHour((await meteringClosedUntil(db)) ?? now());
    const time = (name: 'from' | 'to', fallback: Date) => {
      const text = queryValue(request, name);
      if (text === undefined) return fallback;
      const t = parseInstant(text);
      if (!t) throw armError('InvalidTime', `'${text}' is not an ISO 8601 time.`, name);
      return t;
    };
    const to = time('to', closedUntil);
    const from = time('from', new Date(to.getTime() - DAY_MS));
    checkReconciliationRange(from, to);
    const result = await reconcile(db, bridge.hub, from, to, now());
    // A deleted registration is this deployment's standing, not a failing hub.
    if (result.unregistered)
      throw armError(
        'DeploymentNotRegistered',
        `The hub has no registration for this deployment (it was deleted): there is nothing to reconcile. ${result.error}`,
      );
    if (result.error) throw armError('ReconciliationFailed', `The hub's summary could not be read: ${result.error}`);
    return result;
  });
}
