import type { SystemRights } from '../../arm/service.ts';
import type { FastifyInstance } from 'fastify';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { armErrors } from '../../core/errors.ts';
import type { Principal } from '../../core/principal.ts';
import { principalOf } from '../../http/arm.ts';
import { resourcesStore } from '../resources/store.ts';
import { bridgeStore, type BridgeDb } from './store.ts';

// The bridge's status for the operator: as an API, and as Prometheus metrics.

export interface BridgeStatusView {
  stack: string;
  cloudId: string | null;
  closedUntil: string | null;
  lastClosedHour: string | null;
  lastDeliveredHour: string | null;
  outbox: number;
  delivered: number;
  lagSeconds: number;
  lastDeliveredAt: string | null;
  lastAcknowledgedBatch: string | null;
  lastAttemptAt: string | null;
  lastError: string | null;
}

export async function bridgeStatus(db: BridgeDb, stack: string, cloudId: string | undefined, now: Date): Promise<BridgeStatusView> {
  const counts = await bridgeStore.counts(db);
  const status = await bridgeStore.status(db);
  const closedUntil = await resourcesStore.closedUntil(db as any);
  // Lag: how far the oldest undelivered hour is behind now (0 when all is delivered).
  const oldest = Number(counts.outbox) > 0 ? (await bridgeStore.undelivered(db, 1))[0] : undefined;
  return {
    stack,
    cloudId: cloudId ?? null,
    closedUntil: closedUntil?.toISOString() ?? null,
    lastClosedHour: counts.last_closed?.toISOString() ?? null,
    lastDeliveredHour: counts.last_delivered?.toISOString() ?? null,
    outbox: Number(counts.outbox),
    delivered: Number(counts.delivered),
    lagSeconds: oldest ? Math.max(0, Math.round((now.getTime() - new Date(oldest.hour).getTime()) / 1000) - 3600) : 0,
    lastDeliveredAt: status.lastDeliveredAt ?? null,
    lastAcknowledgedBatch: status.lastAcknowledgedBatch ?? null,
    lastAttemptAt: status.lastAttemptAt ?? null,
    lastError: status.lastError ?? null,
  };
}

function metrics(s: BridgeStatusView): string {
  const label = `{stack="${s.stack}"}`;
  const line = (name: string, help: string, type: string, value: number) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}${label} ${value}\n`;
  const ts = (iso: string | null) => (iso ? Date.parse(iso) / 1000 : 0);
  return [
    line('stackledger_bridge_outbox_records', 'Usage records closed and not yet acknowledged by the hub.', 'gauge', s.outbox),
    line('stackledger_bridge_delivered_records', 'Usage records the hub acknowledged.', 'gauge', s.delivered),
    line('stackledger_bridge_lag_seconds', 'How long the oldest undelivered usage hour has been closed.', 'gauge', s.lagSeconds),
    line('stackledger_metering_closed_until_timestamp_seconds', 'The end of the last closed metering hour.', 'gauge', ts(s.closedUntil)),
    line('stackledger_bridge_last_delivery_timestamp_seconds', 'When the hub last acknowledged a batch (domain time).', 'gauge', ts(s.lastDeliveredAt)),
    line('stackledger_bridge_failing', '1 while the last delivery attempt failed.', 'gauge', s.lastError ? 1 : 0),
  ].join('');
}

export function registerBridgeRoutes(app: FastifyInstance, db: BridgeDb, stack: string, cloudId: () => string | undefined, now: () => Date, operator: SystemRights): void {
  const requireOperator = (p: Principal) => operator.require(p, 'Stackledger.System/bridge/read');
  app.get('/providers/Stackledger.System/bridge', { config: { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.System/bridge' } }, async (request) => {
    await requireOperator(principalOf(request));
    return bridgeStatus(db, stack, cloudId(), now());
  });
  app.get('/metrics', async (request, reply) => {
    await requireOperator(principalOf(request));
    return reply.type('text/plain; version=0.0.4').send(metrics(await bridgeStatus(db, stack, cloudId(), now())));
  });
}
