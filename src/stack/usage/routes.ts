import type { FastifyInstance } from 'fastify';
import {
  requireSubscription,
  requireSubscriptionRight,
  type ArmContext,
  type SystemRights,
} from '../../arm/service.ts';
import { armErrors } from '../../core/errors.ts';
import { armStore } from '../../arm/store.ts';
import { isGuid } from '../../core/ids.ts';
import { parseUsageQuery, usageAggregateJson, usageErrors } from '../../core/usage-api.ts';
import { principalOf, queryValue } from '../../http/arm.ts';
import { usagePage } from '../../http/paging.ts';
import { refuseArchived } from '../metering/archive.ts';
import { outboxStore, outboxUsageOrder } from '../metering/outbox-store.ts';
import type { MeteringDb } from '../metering/store.ts';

// The tenant usage API (Microsoft.Commerce/UsageAggregates) and the provider usage API
// (Microsoft.Commerce.Admin/subscriberUsageAggregates), api-version 2015-06-01-preview: metering's
// closed records, by the time they were reported.

const config = (type: string) => ({ apiVersions: ['2015-06-01-preview'], resourceType: type });

export function registerTenantUsageRoutes(
  app: FastifyInstance,
  arm: ArmContext,
  db: MeteringDb,
  baseUrl: () => string,
): void {
  app.get<{ Params: { subscriptionId: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Commerce/UsageAggregates',
    { config: config('UsageAggregates') },
    async (request) => {
      const sub = await requireSubscriptionRight(
        arm,
        principalOf(request),
        'Microsoft.Commerce/UsageAggregates/read',
        request.params.subscriptionId,
      );
      const q = {
        ...parseUsageQuery((n) => queryValue(request, n), arm.clock.now()),
        subscriptionId: sub.subscription_id,
      };
      await refuseArchived(db, { from: q.start, to: q.end, by: 'reported' });
      return usagePage(
        request,
        baseUrl(),
        outboxUsageOrder(q),
        (cursor) => outboxStore.aggregates(db, q, cursor),
        (r) => usageAggregateJson(r, q.granularity, 'Microsoft.Commerce'),
      );
    },
  );
}

export function registerProviderUsageRoutes(
  app: FastifyInstance,
  arm: ArmContext,
  operator: SystemRights,
  db: MeteringDb,
  baseUrl: () => string,
  providerSubscriptionId: () => string | undefined,
): void {
  app.get<{ Params: { subscriptionId: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates',
    { config: config('subscriberUsageAggregates') },
    async (request) => {
      // The operator's, at the root scope: being Owner of a tenant subscription grants nothing here.
      await operator.require(principalOf(request), 'Microsoft.Commerce.Admin/subscriberUsageAggregates/read');
      const sub = await requireSubscription(arm, request.params.subscriptionId);
      // The provider API lives only under the default provider subscription.
      if (sub.subscription_id !== providerSubscriptionId())
        throw armErrors.subscriptionNotFound(request.params.subscriptionId);
      const q = parseUsageQuery((n) => queryValue(request, n), arm.clock.now());
      const subscriber = queryValue(request, 'subscriberId');
      let subscriptionId: string | undefined;
      if (subscriber) {
        const target = isGuid(subscriber)
          ? await armStore.getSubscription(arm.db, subscriber.toLowerCase())
          : undefined;
        if (!target || target.subscription_id === providerSubscriptionId())
          throw usageErrors.notDirectTenant(subscriber);
        subscriptionId = target.subscription_id;
      }
      const query = { ...q, subscriptionId };
      await refuseArchived(db, { from: q.start, to: q.end, by: 'reported' });
      return usagePage(
        request,
        baseUrl(),
        outboxUsageOrder(query),
        (cursor) => outboxStore.aggregates(db, query, cursor),
        (r) => usageAggregateJson(r, q.granularity, 'Microsoft.Commerce.Admin'),
      );
    },
  );
}
