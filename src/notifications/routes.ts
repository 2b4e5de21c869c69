import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { armError } from '../core/errors.ts';
import { principalOf, queryValue } from '../http/arm.ts';
import {
  deleteWebhook,
  type NotificationContext,
  putWebhook,
  readableWebhook,
  resendDelivery,
  webhookOwner,
} from './service.ts';
import { notificationStore } from './store.ts';
import { deliveryView, webhookView, } from './views.ts';

// Webhooks on the hub's ARM endpoint (Stackledger.Notifications): create, read, list, delete, the
// delivery log and re-sending one delivery.

const P = '/providers/Stackledger.Notifications/webhooks';
const config = (type = 'webhooks') => ({
  apiVersions: API_VERSIONS.system,
  resourceType: `Stackledger.Notifications/${type}`,
});

const WebhookBody = Type.Object({
  properties: Type.Object({
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    events: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 20 }),
    secret: Type.Optional(Type.String({ maxLength: 1024 })),
  }),
});

type Params = { name: string };

export function registerNotificationRoutes(
  app: FastifyInstance,
  ctx: NotificationContext,
  baseUrl: () => string,
): void {
  app.put<{ Params: Params; Body: Static<typeof WebhookBody> }>(
    `${P}/:name`,
    { config: config(), schema: { body: WebhookBody } },
    async (request, reply) => {
      const { webhook, created } = await putWebhook(
        ctx,
        principalOf(request),
        request.params.name,
        request.body.properties,
      );
      return reply.status(created ? 201 : 200).send(webhookView(webhook));
    },
  );

  app.get<{ Params: Params }>(`${P}/:name`, { config: config() }, async (request) =>
    webhookView(await readableWebhook(ctx, principalOf(request), request.params.name)),
  );

  app.delete<{ Params: Params }>(`${P}/:name`, { config: config() }, async (request, reply) => {
    const deleted = await deleteWebhook(ctx, principalOf(request), request.params.name);
    return reply.status(deleted ? 200 : 204).send();
  });

  app.get(P, { config: config() }, async (request) => {
    const owner = await webhookOwner(ctx, principalOf(request));
    const { after, limit } = keyPage(request, (k) => k.length > 0 && k.length <= 64);
    const rows = await notificationStore.webhooks(ctx.db, owner, after, limit + 1);
    return listOf(request, rows.map(webhookView), limit, rows[limit - 1]?.name);
  });

  app.get<{ Params: Params }>(`${P}/:name/deliveries`, { config: config('webhooks/deliveries') }, async (request) => {
    const webhook = await readableWebhook(ctx, principalOf(request), request.params.name);
    const { after, limit } = keyPage(request, (k) => /^\d{1,18}$/.test(k));
    const rows = await notificationStore.deliveries(ctx.db, webhook.name, after, limit + 1);
    return listOf(
      request,
      rows.map((d) => deliveryView(webhook.name, d)),
      limit,
      rows[limit - 1]?.seq,
    );
  });

  app.post<{ Params: Params & { eventId: string } }>(
    `${P}/:name/deliveries/:eventId/resend`,
    { config: config('webhooks/deliveries') },
    async (request, reply) => {
      await resendDelivery(ctx, principalOf(request), request.params.name, request.params.eventId);
      return reply.status(202).send();
    },
  );

  /** `$skiptoken` is the last key of the page before (validated by `valid`), `$top` the page size. */
  function keyPage(request: FastifyRequest, valid: (key: string) => boolean) {
    const token = queryValue(request, '$skiptoken');
    const after = token === undefined ? undefined : Buffer.from(token, 'base64url').toString('utf8');
    if (after !== undefined && !valid(after))
      throw armError('InvalidSkipToken', `The skip token '${token!.slice(0, 80)}' is not valid.`, '$skiptoken');
    const top = queryValue(request, '$top');
    const limit = top === undefined ? 100 : Number(top);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw armError('InvalidTopParameter', `The value '${top}' of '$top' must be an integer from 1 to 1000.`, '$top');
    return { after, limit };
  }

  function listOf<T>(request: FastifyRequest, rows: T[], limit: number, lastKey: string | undefined) {
    if (rows.length <= limit || lastKey === undefined) return { value: rows };
    const [path, query = ''] = request.url.split('?');
    const params = new URLSearchParams(query);
    params.set('$skiptoken', Buffer.from(lastKey).toString('base64url'));
    return { value: rows.slice(0, limit), nextLink: `${baseUrl()}${path}?${params.toString()}` };
  }
}
