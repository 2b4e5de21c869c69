import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { principalOf } from '../http/arm.ts';
import { pagedList, pagedListRoute, pageOf } from '../http/paging.ts';
import {
  deleteWebhook,
  type NotificationContext,
  putWebhook,
  readableWebhook,
  resendDelivery,
  webhookOwner,
} from './service.ts';
import { DELIVERIES_KEYSET, notificationStore, WEBHOOKS_KEYSET } from './store.ts';
import { deliveryView, webhookView } from './views.ts';

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

  app.get(
    P,
    { config: config() },
    pagedListRoute(
      WEBHOOKS_KEYSET,
      baseUrl,
      async (request, cursor) =>
        notificationStore.webhooks(ctx.db, await webhookOwner(ctx, principalOf(request)), cursor),
      webhookView,
    ),
  );

  app.get<{ Params: Params }>(`${P}/:name/deliveries`, { config: config('webhooks/deliveries') }, async (request) => {
    const webhook = await readableWebhook(ctx, principalOf(request), request.params.name);
    const page = pageOf(request, DELIVERIES_KEYSET);
    const rows = await notificationStore.deliveries(ctx.db, webhook.name, page);
    return pagedList(request, baseUrl(), page, rows, (d) => deliveryView(webhook.name, d));
  });

  app.post<{ Params: Params & { eventId: string } }>(
    `${P}/:name/deliveries/:eventId/resend`,
    { config: config('webhooks/deliveries') },
    async (request, reply) => {
      await resendDelivery(ctx, principalOf(request), request.params.name, request.params.eventId);
      return reply.status(202).send();
    },
  );
}
