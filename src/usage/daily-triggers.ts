import { type StatementTriggerFunctions, statementTriggers } from '../db/database.ts';

// Published for billing: what it may attach to the daily aggregates (see ARCHITECTURE.md, "Who
// owns which table"), as migration DDL.

/**
 * Statement triggers on the daily aggregates, named `${name}_inserted` and so on, each calling a
 * trigger function of the subscriber after every statement that inserts, updates or deletes some
 * (the attribution trigger's upsert is an insert and an update; the archive deletes a month). The
 * functions read the statement's rows, with `dailyStore.dailyUsage()`'s columns, as `new_daily`
 * (inserted, or updated: after) and `old_daily` (updated: before, or deleted).
 */
export const dailyUsageTriggers = (name: string, functions: StatementTriggerFunctions) =>
  statementTriggers('usage_daily', 'daily', name, functions);
