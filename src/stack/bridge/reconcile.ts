import { Decimal } from 'decimal.js';
import { describeErrorBody } from '../../core/http-client.ts';
import type { UsageHourSummary } from '../../core/usage-summary.ts';
import type { BridgeHubClient } from './hub.ts';
import { outboxStore } from '../metering/outbox-store.ts';
import type { BridgeDb } from './store.ts';

// The two sides reconcile: per usage hour and meter, the records the stack marked delivered
// against what the hub says it received from this deployment (count and sum).

export interface HourDifference {
  hour: string;
  meterId: string;
  stack: { records: number; quantity: string };
  hub: { records: number; quantity: string };
}

export interface Reconciliation {
  checkedAt: string;
  from: string;
  to: string;
  balanced: boolean;
  differences: HourDifference[];
  /** Set when the hub could not be asked: nothing was compared. */
  error?: string;
  /** The hub answered that this deployment has no registration (it was deleted): nothing to compare. */
  unregistered?: boolean;
}

/** Every hour and meter where the two sides differ in records or quantity. */
export function compareHours(stack: UsageHourSummary[], hub: UsageHourSummary[]): HourDifference[] {
  const none = { records: 0, quantity: '0' };
  const keyOf = (s: UsageHourSummary) => `${s.hour} ${s.meterId}`;
  const hubByKey = new Map(hub.map((s) => [keyOf(s), s]));
  const stackByKey = new Map(stack.map((s) => [keyOf(s), s]));
  const keys = [...new Set([...stackByKey.keys(), ...hubByKey.keys()])].sort();
  const differences: HourDifference[] = [];
  for (const key of keys) {
    const [hour, meterId] = key.split(' ');
    const s = stackByKey.get(key);
    const h = hubByKey.get(key);
    const side = (x: UsageHourSummary | undefined) =>
      x ? { records: x.records, quantity: new Decimal(x.quantity).toFixed() } : none;
    if (s && h && s.records === h.records && new Decimal(s.quantity).eq(h.quantity)) continue;
    differences.push({ hour, meterId, stack: side(s), hub: side(h) });
  }
  return differences;
}

/** Compares the delivered records of [from, to) with the hub's summary of the same hours. */
export async function reconcile(
  db: BridgeDb,
  hub: BridgeHubClient,
  from: Date,
  to: Date,
  checkedAt: Date,
): Promise<Reconciliation> {
  const base = { checkedAt: checkedAt.toISOString(), from: from.toISOString(), to: to.toISOString() };
  // The outbox's side is read while the hub answers.
  const [asked, stack] = await Promise.all([
    hub.summary(from, to).then(
      (answer) => ({ answer }),
      (e: unknown) => ({ error: `the hub did not answer: ${(e as Error).message}` }),
    ),
    outboxStore.deliveredSummary(db, from, to),
  ]);
  if ('error' in asked) return { ...base, balanced: false, differences: [], error: asked.error };
  const { answer } = asked;
  if (answer.status !== 200) {
    const error = `${answer.status} ${describeErrorBody(answer.body)}`;
    const code = (answer.body as { error?: { code?: unknown } } | null)?.error?.code;
    return {
      ...base,
      balanced: false,
      differences: [],
      error,
      ...(code === 'RegistrationNotFound' && { unregistered: true }),
    };
  }
  const differences = compareHours(stack, answer.body.value as UsageHourSummary[]);
  return { ...base, balanced: differences.length === 0, differences };
}
