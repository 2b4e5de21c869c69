import type { FastifyInstance } from 'fastify';
import type { OffersContext } from './context.ts';
import { registerOfferRoutes, registerPublicOfferRoutes } from './offer-routes.ts';
import { registerPlanRoutes } from './plan-routes.ts';
import { registerQuotaRoutes } from './quota-routes.ts';
import { registerAdminSubscriptionRoutes, registerOwnSubscriptionRoutes } from './subscription-routes.ts';

// The domain's routes, one file per aggregate: what each of the stack's two endpoints serves.

/** The admin endpoint: the operator's catalogue (quotas, plans, offers) and tenant subscriptions. */
export function registerCatalogRoutes(app: FastifyInstance, ctx: OffersContext, baseUrl: () => string): void {
  registerQuotaRoutes(app, ctx, baseUrl);
  registerPlanRoutes(app, ctx, baseUrl);
  registerOfferRoutes(app, ctx, baseUrl);
  registerAdminSubscriptionRoutes(app, ctx, baseUrl);
}

/** The tenant endpoint (Microsoft.Subscriptions): the public offers, and the tenant's own subscriptions. */
export function registerTenantSubscriptionRoutes(
  app: FastifyInstance,
  ctx: OffersContext,
  baseUrl: () => string,
): void {
  registerPublicOfferRoutes(app, ctx, baseUrl);
  registerOwnSubscriptionRoutes(app, ctx);
}
