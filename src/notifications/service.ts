import { isIP } from 'node:net';
import type { Kysely } from 'kysely';
import type { SystemRights } from '../arm/service.ts';
import type { Clock } from '../core/clock.ts';
import { armError, armErrors } from '../core/errors.ts';
import { isGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import type { Sealer } from '../core/sealed.ts';
import { administeredDirectory } from '../identity/graph.ts';
import type { IdentityTables } from '../identity/tables.ts';
import { actingPartner } from '../partner/context.ts';
import { sealPurpose } from './delivery.ts';
import { EVENT_TYPES, isEventType } from './events.ts';
import { isInternalAddress, SECRET_MAX_LENGTH, SECRET_MIN_LENGTH, WEBHOOK_NAME, webhookUrlProblem } from './rules.ts';
import { notificationStore, type WebhookOwner } from './store.ts';
import type { NotificationTables, WebhooksTable } from './tables.ts';
import { WEBHOOKS_TYPE } from './views.ts';

// Webhooks' use cases. A webhook belongs to whoever made it: the system administrators (all
// events), a partner (events about it and its customers) or a customer's administrator (events
// about the customer). Each owner sees and changes only its own; a name held by another owner
// answers 409 and shows nothing of it.

export interface NotificationContext {
  db: Kysely<NotificationTables & IdentityTables>;
  clock: Clock;
  system: SystemRights;
  sealer: Sealer;
  /** Whether webhooks may point inside the hub's network (loopback, private, link-local). */
  allowInternalAddresses: boolean;
  /** Tells the delivery loop there is new work. */
  wake?: () => void;
}

export interface WebhookInput {
  url: string;
  events: string[];
  secret?: string;
}

const WRITE = 'Stackledger.Notifications/webhooks/write';

/** Whose webhooks the caller manages: the system's, its partner's, or its customer directory's; else 403. */
export async function webhookOwner(ctx: NotificationContext, caller: Principal): Promise<WebhookOwner> {
  if (await ctx.system.may(caller, WRITE)) return { kind: 'system', tenantId: null };
  const partner = await actingPartner(ctx.db, caller);
  if (partner) return { kind: 'partner', tenantId: partner.tenant_id };
  const directory = await administeredDirectory(ctx.db, caller);
  if (directory?.kind === 'customer') return { kind: 'customer', tenantId: directory.tenant_id };
  throw armErrors.authorizationFailed(caller.objectId, WRITE, '/');
}

const owns = (owner: WebhookOwner, w: WebhooksTable) =>
  w.owner_kind === owner.kind && w.owner_tenant_id === owner.tenantId;

/** The caller's webhook of that name; 404 when there is none or it is another owner's. */
export async function readableWebhook(ctx: NotificationContext, caller: Principal, name: string) {
  const owner = await webhookOwner(ctx, caller);
  const w = await notificationStore.webhook(ctx.db, name);
  if (!w || !owns(owner, w)) throw armErrors.resourceNotFound(WEBHOOKS_TYPE, name);
  return w;
}

export async function putWebhook(ctx: NotificationContext, caller: Principal, name: string, input: WebhookInput) {
  const owner = await webhookOwner(ctx, caller);
  if (!WEBHOOK_NAME.test(name))
    throw armError(
      'InvalidWebhookName',
      `The webhook name '${name.slice(0, 80)}' is invalid: 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit.`,
    );
  const urlProblem = webhookUrlProblem(input.url);
  if (urlProblem) throw armError('InvalidWebhookUrl', urlProblem, 'properties.url');
  const host = new URL(input.url).hostname.replace(/^\[|\]$/g, '');
  if (!ctx.allowInternalAddresses && (host === 'localhost' || (isIP(host) && isInternalAddress(host))))
    throw armError(
      'InvalidWebhookUrl',
      'The URL points inside the hub’s network; this installation does not deliver there.',
      'properties.url',
    );
  const events = [...new Set(input.events)];
  const unknown = events.filter((e) => !isEventType(e));
  if (events.length === 0 || unknown.length > 0)
    throw armError(
      'InvalidWebhookEvents',
      `${unknown.length ? `Unknown event types: ${unknown.map((e) => `'${e.slice(0, 40)}'`).join(', ')}. ` : 'No event type given. '}The event types are ${EVENT_TYPES.join(', ')}.`,
      'properties.events',
    );
  if (
    input.secret !== undefined &&
    (input.secret.length < SECRET_MIN_LENGTH || input.secret.length > SECRET_MAX_LENGTH)
  )
    throw armError(
      'InvalidWebhookSecret',
      `The secret must be ${SECRET_MIN_LENGTH} to ${SECRET_MAX_LENGTH} characters long.`,
      'properties.secret',
    );
  const existing = await notificationStore.webhook(ctx.db, name);
  if (existing && !owns(owner, existing)) throw nameUnavailable(name);
  if (!existing && input.secret === undefined)
    throw armError('InvalidWebhookSecret', 'A new webhook needs a secret to sign its deliveries.', 'properties.secret');
  const result = await notificationStore.putWebhook(
    ctx.db,
    {
      name,
      owner_kind: owner.kind,
      owner_tenant_id: owner.tenantId,
      url: input.url,
      events,
      sealed_secret: input.secret === undefined ? undefined : ctx.sealer.seal(input.secret, sealPurpose(name)),
    },
    ctx.clock.now(),
  );
  // Another owner took the name between the look-up and the write.
  if (!result) throw nameUnavailable(name);
  return result;
}

const nameUnavailable = (name: string) =>
  armError('WebhookNameUnavailable', `The webhook name '${name}' is already in use. Choose another name.`);

export async function deleteWebhook(ctx: NotificationContext, caller: Principal, name: string): Promise<boolean> {
  const owner = await webhookOwner(ctx, caller);
  return notificationStore.deleteWebhook(ctx.db, name, owner);
}

export async function resendDelivery(ctx: NotificationContext, caller: Principal, name: string, eventId: string) {
  await readableWebhook(ctx, caller, name);
  const row = isGuid(eventId)
    ? await notificationStore.resend(ctx.db, name, eventId.toLowerCase(), new Date())
    : undefined;
  if (!row) throw armErrors.resourceNotFound(`${WEBHOOKS_TYPE}/deliveries`, eventId);
  ctx.wake?.();
  return row;
}
