import type { DueWork } from '../core/scheduler.ts';
import { type BudgetContext, evaluateBudgets } from './service.ts';

/** Budgets are evaluated as time passes (and so as usage comes in and is rated): each hour the clock passes. */
export function budgetWork(ctx: BudgetContext): DueWork {
  return {
    name: 'budgets',
    async runUntil(now) {
      await evaluateBudgets(ctx, now);
    },
  };
}
