// What the bridge does with the hub's answer to a batch: pure rules, no I/O.
//
// A refusal about the whole batch (who sends it, the registration, the request itself) stops the
// run with the records left in the outbox; a refusal of some of its records sets exactly those
// aside. The hub names a refused record in its error's target (`records[3].tags.cost`, or
// `records.3.resourceUri` from the schema validator), so most refusals need no search; one that
// names nothing is found by splitting the batch in halves.

export interface Refusal {
  status: number;
  code: string;
  message: string;
}

export type Verdict =
  | { kind: 'delivered' }
  /** Try the same batch again soon (the hub is failing or busy, or the token expired). */
  | { kind: 'retry'; error: string }
  /** Leave the batch for the next run (the hub was too slow to answer). */
  | { kind: 'later'; error: string }
  /** The whole batch was refused for a reason no record causes: the run stops. */
  | { kind: 'stop'; error: string }
  /** These records (positions in the batch) were refused; the others were not looked at. */
  | { kind: 'records'; refused: Map<number, Refusal> }
  /** Some record was refused, which one is unknown (or the batch is too large): split it. */
  | { kind: 'split'; refusal: Refusal };

/** Codes that are about the request or the caller, never about a record. */
const BATCH_CODES = new Set([
  'MissingApiVersionParameter',
  'InvalidApiVersionParameter',
  'UnsupportedMediaType',
  'AuthenticationFailed',
  'InvalidAuthenticationToken',
  'ExpiredAuthenticationToken',
  'InvalidAuthenticationTokenAudience',
  'AuthorizationFailed',
  'RegistrationNotFound',
]);

/** The record a target points into, if any: `records[3]…` or `records.3…`. */
export function recordIndexOf(target: unknown): number | undefined {
  if (typeof target !== 'string') return undefined;
  const m = /^records(?:\[(\d+)\]|\.(\d+))(?=$|[.[])/.exec(target);
  return m ? Number(m[1] ?? m[2]) : undefined;
}

const describe = (r: Refusal) => `${r.status} ${r.code}: ${r.message}`;

/** What is kept of a hub's message with a quarantined record. */
const MAX_MESSAGE = 2000;
const text = (v: unknown, fallback: string) => String(v ?? fallback).slice(0, MAX_MESSAGE);

/** An ARM error as the hub may send it: every field is checked before use. */
type HubError = { code?: unknown; message?: unknown; target?: unknown; details?: unknown };

/** The verdict on the hub's answer to a batch of `size` records. */
export function verdictOf(answer: { status: number; body: unknown }, size: number): Verdict {
  const { status, body } = answer;
  if (status === 200) return { kind: 'delivered' };
  const error: HubError = (body as { error?: HubError } | null | undefined)?.error ?? {};
  const refusal: Refusal = {
    status,
    code: text(error.code, `HTTP${status}`).slice(0, 100),
    message: text(error.message, ''),
  };
  if (status >= 500 || status === 401 || status === 429) return { kind: 'retry', error: describe(refusal) };
  if (status < 400 || status === 403 || status === 404 || BATCH_CODES.has(refusal.code))
    return { kind: 'stop', error: describe(refusal) };
  if (status === 413) return { kind: 'split', refusal };
  // The records the refusal names: its own target and its details' (a conflict names each).
  const refused = new Map<number, Refusal>();
  for (const item of [error, ...(Array.isArray(error.details) ? (error.details as (HubError | null)[]) : [])]) {
    const i = recordIndexOf(item?.target);
    if (i !== undefined && i < size && !refused.has(i)) {
      refused.set(i, {
        status,
        code: text(item?.code, refusal.code).slice(0, 100),
        message: text(item?.message, refusal.message),
      });
    }
  }
  if (refused.size > 0) return { kind: 'records', refused };
  // A target outside the records (the batch's cloudId or batchId) is the batch's own fault.
  if (typeof error.target === 'string' && !/^records\b/.test(error.target))
    return { kind: 'stop', error: describe(refusal) };
  return { kind: 'split', refusal };
}
