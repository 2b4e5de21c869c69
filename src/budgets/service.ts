import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import type { Kysely } from 'kysely';
import { type ArmContext, authorize, inTransaction, requireSubscription } from '../arm/service.ts';
import type { ArmTables } from '../arm/tables.ts';
import type { BillingContext } from '../billing/context.ts';
import { openPeriodSpend } from '../billing/invoices.ts';
import { armErrors } from '../core/errors.ts';
import type { Cursor } from '../core/paging.ts';
import { isGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { administeredDirectory } from '../identity/graph.ts';
import type { IdentityTables } from '../identity/tables.ts';
import { notificationStore } from '../notifications/store.ts';
import type { NotificationTables } from '../notifications/tables.ts';
import { actingPartner } from '../partner/context.ts';
import { partnerStore } from '../partner/store.ts';
import type { PartnerTables } from '../partner/tables.ts';
import { type BudgetInput, crossed, forecast, parseBudget, BUDGET_NAME } from './rules.ts';
import { budgetStore } from './store.ts';
import type { BudgetScope, BudgetTables, BudgetsTable } from './tables.ts';
import { BUDGETS_TYPE } from './views.ts';

// Budgets' use cases: set, read, list and delete a budget of a customer subscription (whoever
// may write the subscription: its partner, the customer's owners) or of a customer (its partner,
// the customer directory's administrators); its spend so far and forecast; and the evaluation
// that fires each threshold once per period, telling webhooks.

export interface BudgetContext {
  db: Kysely<BudgetTables & NotificationTables & IdentityTables & PartnerTables & ArmTables>;
  arm: ArmContext;
  billing: BillingContext;
}

export interface BudgetTarget {
  scope: BudgetScope;
  scopeId: string;
}

/** Who is billed for the target: the partner and the customer; 404 (or 403) when the caller may not. */
async function requireTarget(ctx: BudgetContext, caller: Principal, target: BudgetTarget, write: boolean) {
  if (target.scope === 'subscription') {
    const sub = await requireSubscription(ctx.arm, target.scopeId);
    const action = `Stackledger.Billing/budgets/${write ? 'write' : 'read'}`;
    await authorize(ctx.arm, caller, action, `/subscriptions/${sub.subscription_id}`);
    // A subscription nobody sold is billed to nobody: it has no spend to watch.
    if (!sub.sold_by) throw armErrors.resourceNotFound('Stackledger.Billing/billingAccounts', sub.subscription_id);
    // The open period is the customer's (as the evaluation and the invoice see it), not the subscription's.
    const customer = await partnerStore.customerById(ctx.db, sub.tenant_id);
    return { partnerId: sub.sold_by, customerId: sub.tenant_id, since: customer?.created_at ?? sub.created_at };
  }
  const id = target.scopeId.toLowerCase();
  const customer = isGuid(id) ? await partnerStore.customerById(ctx.db, id) : undefined;
  const partner = customer && (await actingPartner(ctx.db, caller));
  const admin = customer && !partner ? await administeredDirectory(ctx.db, caller) : undefined;
  if (!customer || (partner?.tenant_id !== customer.partner_tenant_id && admin?.tenant_id !== customer.id))
    throw armErrors.namedResourceNotFound('customer', target.scopeId);
  return { partnerId: customer.partner_tenant_id, customerId: customer.id, since: customer.created_at };
}

export async function putBudget(
  ctx: BudgetContext,
  caller: Principal,
  target: BudgetTarget,
  name: string,
  input: BudgetInput,
) {
  const billed = await requireTarget(ctx, caller, target, true);
  if (!BUDGET_NAME.test(name))
    throw armErrors.invalidRequestContent(
      `The budget name '${name.slice(0, 80)}' is invalid: 1 to 63 letters, digits, '-' or '_'.`,
    );
  const parsed = parseBudget(input);
  const now = ctx.arm.clock.now();
  const { budget, created } = await budgetStore.put(ctx.db, {
    id: randomUUID(),
    scope: target.scope,
    scope_id: target.scopeId.toLowerCase(),
    name,
    partner_id: billed.partnerId,
    customer_id: billed.customerId,
    amount: parsed.amount,
    start_date: parsed.startDate,
    end_date: parsed.endDate,
    notifications: parsed.notifications,
    etag: randomUUID(),
    created_by: caller.objectId,
    created_at: now,
    updated_at: now,
  });
  return { budget: await withSpend(ctx, budget, billed.since), created };
}

export async function getBudget(ctx: BudgetContext, caller: Principal, target: BudgetTarget, name: string) {
  const billed = await requireTarget(ctx, caller, target, false);
  const budget = await budgetStore.get(ctx.db, target.scope, target.scopeId.toLowerCase(), name);
  if (!budget) throw armErrors.resourceNotFound(BUDGETS_TYPE, name);
  return withSpend(ctx, budget, billed.since);
}

export async function listBudgets(ctx: BudgetContext, caller: Principal, target: BudgetTarget, cursor: Cursor) {
  const billed = await requireTarget(ctx, caller, target, false);
  const budgets = await budgetStore.list(ctx.db, target.scope, target.scopeId.toLowerCase(), cursor);
  return withSpends(ctx, budgets, billed.since);
}

export async function deleteBudget(ctx: BudgetContext, caller: Principal, target: BudgetTarget, name: string) {
  await requireTarget(ctx, caller, target, true);
  return budgetStore.delete(ctx.db, target.scope, target.scopeId.toLowerCase(), name);
}

/** A budget with its period's spend so far, its forecast and the alerts it fired. */
async function withSpend(ctx: BudgetContext, budget: BudgetsTable, since: Date) {
  return (await withSpends(ctx, [budget], since))[0];
}

/** Budgets of one scope with their spend: the customer's open period rated once for all of them. */
async function withSpends(ctx: BudgetContext, budgets: BudgetsTable[], since: Date) {
  if (budgets.length === 0) return [];
  const spend = await spendOf(ctx, budgets, since, ctx.arm.clock.now());
  return Promise.all(
    budgets.map(async (budget) => ({
      budget,
      ...spend.get(budget.id)!,
      alerts: await budgetStore.alerts(ctx.db, budget.id),
    })),
  );
}

/** Each budget's spend and forecast in its customer's open period (budgets of one customer). */
async function spendOf(ctx: BudgetContext, budgets: BudgetsTable[], since: Date, now: Date) {
  const open = await openPeriodSpend(ctx.billing, budgets[0].partner_id, budgets[0].customer_id, since);
  const out = new Map<string, { period: string; spend: Decimal; forecast: Decimal }>();
  for (const b of budgets) {
    const spend = b.scope === 'customer' ? open.total : (open.bySubscription.get(b.scope_id) ?? new Decimal(0));
    out.set(b.id, { period: open.period, spend, forecast: forecast(spend, open.periodStart, open.periodEnd, now) });
  }
  return out;
}

/**
 * Evaluates every budget in force: each enabled notification whose threshold its spend (or
 * forecast) crosses fires once per period, in one transaction with the event that tells webhooks.
 */
export async function evaluateBudgets(ctx: BudgetContext, now: Date): Promise<number> {
  const budgets = await budgetStore.inForce(ctx.db, now.toISOString().slice(0, 10));
  const byCustomer = new Map<string, BudgetsTable[]>();
  for (const b of budgets)
    byCustomer.set(`${b.partner_id}/${b.customer_id}`, [
      ...(byCustomer.get(`${b.partner_id}/${b.customer_id}`) ?? []),
      b,
    ]);
  let fired = 0;
  for (const group of byCustomer.values()) {
    const customer = await partnerStore.customerById(ctx.db, group[0].customer_id);
    if (!customer) continue;
    const spend = await spendOf(ctx, group, customer.created_at, now);
    for (const b of group) {
      const s = spend.get(b.id)!;
      const amount = new Decimal(b.amount);
      for (const [name, n] of Object.entries(b.notifications)) {
        const value = n.thresholdType === 'Forecasted' ? s.forecast : s.spend;
        if (!n.enabled || !crossed(n, value, amount)) continue;
        const alert = {
          budget_id: b.id,
          period: s.period,
          notification: name,
          threshold_type: n.thresholdType,
          threshold: String(n.threshold),
          spend: value.toFixed(2),
          fired_at: now,
        };
        await inTransaction(ctx.db, async (db) => {
          if (!(await budgetStore.fire(db, alert))) return;
          fired++;
          await notificationStore.record(db, [
            {
              key: `budget.threshold_crossed:${b.id}:${s.period}:${name}`,
              type: 'budget.threshold_crossed',
              occurredAt: now,
              data: {
                budget: b.name,
                scope: b.scope,
                scopeId: b.scope_id,
                customerId: b.customer_id,
                period: s.period,
                notification: name,
                thresholdType: n.thresholdType,
                threshold: n.threshold,
                amount: b.amount,
                spend: value.toFixed(2),
              },
              partnerId: b.partner_id,
              customerId: b.customer_id,
            },
          ]);
        });
      }
    }
  }
  return fired;
}
