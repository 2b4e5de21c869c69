import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { principalOf } from '../http/arm.ts';
import { pagedListRoute } from '../http/paging.ts';
import { BUDGETS_KEYSET } from './store.ts';
import type { BudgetsTable } from './tables.ts';
import { type BudgetContext, type BudgetTarget, deleteBudget, getBudget, listBudgets, putBudget } from './service.ts';
import { budgetView } from './views.ts';

// Budgets on the hub's ARM endpoint: of a customer subscription, and of a customer.

const config = { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.Billing/budgets' };

const Notification = Type.Object({
  enabled: Type.Optional(Type.Boolean()),
  operator: Type.String(),
  threshold: Type.Union([Type.Number(), Type.String()]),
  thresholdType: Type.Optional(Type.String()),
  contactEmails: Type.Optional(Type.Array(Type.String({ maxLength: 254 }), { maxItems: 50 })),
});
const BudgetBody = Type.Object({
  properties: Type.Object({
    category: Type.Optional(Type.String()),
    amount: Type.Union([Type.Number(), Type.String({ maxLength: 40 })]),
    timeGrain: Type.Optional(Type.String()),
    timePeriod: Type.Object({
      startDate: Type.String({ maxLength: 40 }),
      endDate: Type.Optional(Type.String({ maxLength: 40 })),
    }),
    notifications: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Notification)),
  }),
});

const BASES: Array<{ path: string; target: (params: Record<string, string>) => BudgetTarget }> = [
  {
    path: '/subscriptions/:subscriptionId/providers/Stackledger.Billing/budgets',
    target: (p) => ({ scope: 'subscription', scopeId: p.subscriptionId }),
  },
  {
    path: '/providers/Stackledger.Billing/customers/:customerId/budgets',
    target: (p) => ({ scope: 'customer', scopeId: p.customerId }),
  },
];

// The list's rows are budgets with their spend: ordered by the budget's key.
const overBudgets = { ...BUDGETS_KEYSET, keyOf: (v: { budget: BudgetsTable }) => BUDGETS_KEYSET.keyOf(v.budget) };

export function registerBudgetRoutes(app: FastifyInstance, ctx: BudgetContext, baseUrl: () => string): void {
  for (const base of BASES) {
    app.put<{ Params: Record<string, string>; Body: Static<typeof BudgetBody> }>(
      `${base.path}/:name`,
      { config, schema: { body: BudgetBody } },
      async (request, reply) => {
        const { budget, created } = await putBudget(
          ctx,
          principalOf(request),
          base.target(request.params),
          request.params.name,
          request.body.properties,
        );
        return reply.status(created ? 201 : 200).send(budgetView(budget));
      },
    );
    app.get<{ Params: Record<string, string> }>(`${base.path}/:name`, { config }, async (request) =>
      budgetView(await getBudget(ctx, principalOf(request), base.target(request.params), request.params.name)),
    );
    app.get<{ Params: Record<string, string> }>(
      base.path,
      { config },
      pagedListRoute(
        overBudgets,
        baseUrl,
        (request: FastifyRequest<{ Params: Record<string, string> }>, cursor) =>
          listBudgets(ctx, principalOf(request), base.target(request.params), cursor),
        budgetView,
      ),
    );
    app.delete<{ Params: Record<string, string> }>(`${base.path}/:name`, { config }, async (request, reply) => {
      const deleted = await deleteBudget(ctx, principalOf(request), base.target(request.params), request.params.name);
      return reply.status(deleted ? 200 : 204).send();
    });
  }
}
