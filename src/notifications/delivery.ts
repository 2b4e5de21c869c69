import { lookup } from 'node:dns/promises';
import { request } from 'undici';
import type { Logger } from 'pino';
import type { Sealer } from '../core/sealed.ts';
import {
  isInternalAddress,
  nextAttemptAt,
  RETRY_DELAYS_MS,
  RETRY_FOR_MS,
  SIGNATURE_HEADER,
  signature,
} from './rules.ts';
import { type ClaimedDelivery, type NotificationDb, notificationStore } from './store.ts';

// The delivery of events to webhooks: a loop in each hub process that takes what is due (each
// webhook's oldest pending delivery, held by a lease so that several processes share the work),
// posts it signed, and records the outcome. Each delivery runs on its own with a timeout, so a
// receiver that fails or hangs delays only its own webhook's next events.

export interface DeliveryOptions {
  /** How often to look for due deliveries. */
  pollMs?: number;
  /** How long a receiver may take to answer. */
  timeoutMs?: number;
  /** Deliveries in flight at once, over all webhooks. */
  concurrency?: number;
  /** The waits between attempts and how long a delivery is tried (a day). */
  retry?: { delaysMs: number[]; retryForMs: number };
  /** Deliver to loopback, private and link-local addresses (tests; installations whose receivers are internal). */
  allowInternalAddresses?: boolean;
}

export const sealPurpose = (name: string) => `webhook-secret:${name}`;

export function startDeliveries(db: NotificationDb, sealer: Sealer, logger: Logger, options: DeliveryOptions = {}) {
  const pollMs = options.pollMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 16;
  const retry = options.retry ?? { delaysMs: RETRY_DELAYS_MS, retryForMs: RETRY_FOR_MS };
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const attempt = async (d: ClaimedDelivery): Promise<void> => {
    const at = new Date();
    const body = JSON.stringify({ id: d.event_id, type: d.type, time: d.occurred_at.toISOString(), data: d.data });
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      await refuseInternal(d.url, options.allowInternalAddresses ?? false);
      const secret = sealer.open(d.sealed_secret, sealPurpose(d.webhook_name));
      const answer = await request(d.url, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signature(secret, Math.floor(at.getTime() / 1000), body),
          'user-agent': 'Stackledger-Webhooks/1',
        },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      statusCode = answer.statusCode;
      await answer.body.dump();
      if (statusCode < 200 || statusCode > 299) error = `The receiver answered ${statusCode}.`;
    } catch (e) {
      error = describe(e);
    }
    const delivered = error === null;
    await notificationStore.recordAttempt(db, d, {
      at,
      delivered,
      statusCode,
      error,
      nextAttemptAt: delivered ? undefined : nextAttemptAt(d.first_attempt_at ?? at, d.attempts + 1, at, retry),
    });
  };

  // Looks for due work: a look in progress is waited for by `stop`, since it starts attempts.
  const ticks = new Set<Promise<void>>();
  const tick = (): Promise<void> => {
    const run = claimDue().finally(() => ticks.delete(run));
    ticks.add(run);
    return run;
  };
  const claimDue = async (): Promise<void> => {
    const free = concurrency - inFlight.size;
    if (free <= 0) return;
    const now = new Date();
    const claimed = await notificationStore.claim(db, now, new Date(now.getTime() + timeoutMs * 3), free);
    for (const d of claimed) {
      const run = attempt(d)
        .catch((e: unknown) => logger.warn({ err: e, webhook: d.webhook_name }, 'webhook delivery not recorded'))
        .finally(() => inFlight.delete(run));
      inFlight.add(run);
    }
  };

  const loop = () => {
    if (stopped) return;
    tick()
      .catch((e: unknown) => logger.warn({ err: e }, 'webhook deliveries: could not look for due work'))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, pollMs);
      });
  };
  timer = setTimeout(loop, pollMs);

  return {
    /** Looks for due deliveries now, rather than at the next poll. */
    wake(): void {
      void tick().catch(() => {});
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      // A look for due work still running would reach the database after it closed.
      await Promise.allSettled([...ticks]);
      await Promise.allSettled([...inFlight]);
    },
  };
}

export type Deliveries = ReturnType<typeof startDeliveries>;

/** Refuses a receiver whose host resolves to an address inside the hub's network, unless allowed. */
async function refuseInternal(url: string, allowed: boolean): Promise<void> {
  if (allowed) return;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const addresses = await lookup(host, { all: true });
  if (addresses.some((a) => isInternalAddress(a.address)))
    throw new DeliveryRefused(
      `The receiver's address is inside the hub's network; this installation does not deliver there.`,
    );
}

class DeliveryRefused extends Error {}

/** What went wrong, in words fit for the delivery log (never a stack). */
function describe(e: unknown): string {
  if (e instanceof DeliveryRefused) return e.message;
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError'))
    return 'The receiver did not answer in time.';
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string'
    ? `The receiver could not be reached (${code}).`
    : 'The receiver could not be reached.';
}
