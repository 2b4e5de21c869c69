import type { Logger } from 'pino';
import { DAY_MS } from '../core/clock.ts';
import type { HttpClient } from '../core/http-client.ts';
import { appToken, type AppCredentials } from '../core/tokens.ts';
import type { StackApplicationCredentials, StackBootstrap } from './bootstrap.ts';

// The stack's application secret (with which it checks a guest directory's consent) is made
// through the hub's directory API with the operator's credentials, as the operator's automation
// would, and rotated before it ends: at start and whenever the scheduler runs, once the end is
// within `renewBeforeMs` (real time, as the hub checks it). The new secret is recorded before the
// old one is revoked, so a stop in between leaves a secret that works.

export interface StackSecretPolicy {
  lifetimeMs: number;
  renewBeforeMs: number;
}

export const DEFAULT_STACK_SECRET_POLICY: StackSecretPolicy = { lifetimeMs: 365 * DAY_MS, renewBeforeMs: 30 * DAY_MS };

/** Due when its end is near, or unknown (a secret of the first version). */
export const renewalDue = (
  app: Pick<StackApplicationCredentials, 'endsAt'>,
  policy: StackSecretPolicy,
  now: number,
): boolean => app.endsAt === undefined || Date.parse(app.endsAt) - now <= policy.renewBeforeMs;

export interface StackSecretDeps {
  http: HttpClient;
  login: string;
  graph: string;
  operator: AppCredentials;
  policy: StackSecretPolicy;
  logger: Logger;
}

/** A new secret of the stack's application, as the operator's automation. */
export async function addStackSecret(
  deps: StackSecretDeps,
  appId: string,
  graphToken?: string,
): Promise<Required<Omit<StackApplicationCredentials, 'appId'>>> {
  const token = graphToken ?? (await appToken(deps.http, deps.login, deps.operator, deps.graph));
  const endDateTime = new Date(Date.now() + deps.policy.lifetimeMs).toISOString();
  const made = await deps.http.call('POST', `${deps.graph}/v1.0/applications/${appId}/addPassword`, {
    token,
    body: { passwordCredential: { displayName: 'stack', endDateTime } },
  });
  return { secret: made.secretText as string, keyId: made.keyId as string, endsAt: made.endDateTime as string };
}

/** Whether the stack's application secret is due for renewal (on the real clock: secrets end in real time). */
export const stackSecretDue = (deps: Pick<StackSecretDeps, 'policy'>, record: StackBootstrap): boolean =>
  renewalDue({ endsAt: record.applicationSecretEndsAt }, deps.policy, Date.now());

/**
 * Rotates the secret if due: adds a new one, lets `save` record it, then revokes the old one. A
 * secret of the first version has no key id: it is found by its hint, if exactly one matches.
 */
export async function rotateStackSecretIfDue(
  deps: StackSecretDeps,
  record: StackBootstrap,
  save: (next: StackBootstrap) => Promise<void>,
): Promise<StackBootstrap> {
  if (!stackSecretDue(deps, record)) return record;
  const token = await appToken(deps.http, deps.login, deps.operator, deps.graph);
  const made = await addStackSecret(deps, record.applicationId, token);
  const next: StackBootstrap = {
    ...record,
    applicationSecret: made.secret,
    applicationSecretKeyId: made.keyId,
    applicationSecretEndsAt: made.endsAt,
  };
  await save(next);
  let oldKeyId = record.applicationSecretKeyId;
  if (!oldKeyId) {
    const app = await deps.http.call('GET', `${deps.graph}/v1.0/applications/${record.applicationId}`, { token });
    const hint = record.applicationSecret.slice(0, 3);
    const matches = (app.passwordCredentials as Array<{ keyId: string; hint: string }>).filter(
      (c) => c.hint === hint && c.keyId !== made.keyId,
    );
    if (matches.length === 1) oldKeyId = matches[0].keyId;
    else
      deps.logger.warn(
        { applicationId: record.applicationId },
        "the stack's previous application secret could not be told apart; it stays valid until it ends",
      );
  }
  if (oldKeyId)
    await deps.http.call('POST', `${deps.graph}/v1.0/applications/${record.applicationId}/removePassword`, {
      token,
      body: { keyId: oldKeyId },
    });
  deps.logger.info(
    { applicationId: record.applicationId, endsAt: made.endsAt },
    "the stack's application secret was rotated",
  );
  return next;
}
