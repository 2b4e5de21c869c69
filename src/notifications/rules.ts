import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { DAY_MS, HOUR_MS } from '../core/clock.ts';

// The rules of webhooks, as plain functions: a webhook's name and URL, how a delivery is signed,
// when a failed one is tried again (the event types are in events.ts; who receives what is the
// store's `RECEIVES`).

/** A webhook's name: what ARM accepts in a resource name, short enough for a log line. */
export const WEBHOOK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const SIGNATURE_HEADER = 'Stackledger-Signature';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the time is signed, so a captured delivery cannot be replayed as new. */
export function signature(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** How long after a delivery's first attempt it is still tried: a day. */
export const RETRY_FOR_MS = DAY_MS;
/** The waits between attempts: quick at first, then hourly, as receivers come back from short and long outages. */
export const RETRY_DELAYS_MS = [10_000, 60_000, 5 * 60_000, 30 * 60_000, HOUR_MS, 2 * HOUR_MS, 4 * HOUR_MS];

/** When to try a failed delivery again, or undefined when its day is over. */
export function nextAttemptAt(
  firstAttemptAt: Date,
  attempts: number,
  now: Date,
  policy: { delaysMs: number[]; retryForMs: number } = { delaysMs: RETRY_DELAYS_MS, retryForMs: RETRY_FOR_MS },
): Date | undefined {
  const delay = policy.delaysMs[Math.min(attempts - 1, policy.delaysMs.length - 1)];
  const next = new Date(now.getTime() + delay);
  return next.getTime() - firstAttemptAt.getTime() <= policy.retryForMs ? next : undefined;
}

/** The secret's rules: long enough that a signature proves something. */
export const SECRET_MIN_LENGTH = 16;
export const SECRET_MAX_LENGTH = 256;

/** A receiver's URL: absolute http(s), no credentials in it (they would be logged and shown). */
export function webhookUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `'${text}' is not an absolute URL.`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'The URL must use https or http.';
  if (url.username || url.password) return 'The URL must not carry credentials; sign with the secret instead.';
  if (text.length > 2048) return 'The URL is longer than 2048 characters.';
  return undefined;
}

/**
 * Whether an address is one the hub's own network reaches without the internet: loopback,
 * private, link-local (cloud metadata), unique-local. A webhook to such an address would let its
 * owner probe the hub's surroundings, so it is refused unless the installation allows it.
 */
export function isInternalAddress(address: string): boolean {
  const v = isIP(address);
  if (v === 4) {
    const [a, b] = address.split('.').map(Number);
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (v === 6) {
    const x = address.toLowerCase();
    if (x.startsWith('::ffff:')) return isInternalAddress(x.slice(7));
    return x === '::1' || x === '::' || x.startsWith('fc') || x.startsWith('fd') || x.startsWith('fe80');
  }
  return false;
}
