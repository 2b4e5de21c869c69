import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize, requireSubscription, type ArmContext, type SystemRights } from '../../arm/service.ts';
import { armErrors } from '../../core/errors.ts';
import { armStore } from '../../arm/store.ts';
import { isGuid } from '../../core/ids.ts';
import {
  parseUsageQuery,
  USAGE_PAGE_SIZE,
  usageAggregateView,
  usageErrors,
  type UsageQuery,
} from '../../core/usage-api.ts';
import { nextPageLink, principalOf, queryValue } from '../../http/arm.ts';
import { outboxStore } from '../metering/outbox-store.ts';
import type { MeteringDb } from '../metering/store.ts';

// The tenant usage API (Microsoft.Commerce/UsageAggregates) and the provider usage API
// (Microsoft.Commerce.Admin/subscriberUsageAggregates), api-version 2015-06-01-preview: metering's
// closed records, by the time they were reported.

const config = (type: string) => ({ apiVersions: ['2015-06-01-preview'], resourceType: type });

function nextLink(request: FastifyRequest, baseUrl: string, q: UsageQuery, count: number): string | undefined {
  return count > USAGE_PAGE_SIZE
    ? nextPageLink(request, baseUrl, 'continuationToken', q.offset + USAGE_PAGE_SIZE)
    : undefined;
}

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
      const sub = await requireSubscription(arm, request.params.subscriptionId);
      await authorize(
        arm,
        principalOf(request),
        'Microsoft.Commerce/UsageAggregates/read',
        `/subscriptions/${sub.subscription_id}`,
      );
      const q = parseUsageQuery((n) => queryValue(request, n), arm.clock.now());
      const rows = await outboxStore.aggregates(
        db,
        { ...q, subscriptionId: sub.subscription_id },
        q.offset,
        USAGE_PAGE_SIZE + 1,
      );
      const link = nextLink(request, baseUrl(), q, rows.length);
      return {
        value: rows.slice(0, USAGE_PAGE_SIZE).map((r) => usageAggregateView(r, q.granularity, 'Microsoft.Commerce')),
        ...(link ? { nextLink: link } : {}),
      };
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
      const rows = await outboxStore.aggregates(db, { ...q, subscriptionId }, q.offset, USAGE_PAGE_SIZE + 1);
      const link = nextLink(request, baseUrl(), q, rows.length);
      return {
        value: rows
          .slice(0, USAGE_PAGE_SIZE)
          .map((r) => usageAggregateView(r, q.granularity, 'Microsoft.Commerce.Admin')),
        ...(link ? { nextLink: link } : {}),
      };
    },
  );
}
