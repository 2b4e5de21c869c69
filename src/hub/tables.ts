import type { ArmTables } from '../arm/tables.ts';
import type { AuditTables } from '../audit/tables.ts';
import type { BudgetTables } from '../budgets/tables.ts';
import type { BillingTables, ExportJobTables } from '../billing/tables.ts';
import type { IdentityTables } from '../identity/tables.ts';
import type { NotificationTables } from '../notifications/tables.ts';
import type { PartnerTables } from '../partner/tables.ts';
import type { RegistrationTables } from '../registration/tables.ts';
import type { UsageTables } from '../usage/tables.ts';

/** Every table of the hub's database. */
export type HubTables = ArmTables &
  IdentityTables &
  PartnerTables &
  AuditTables &
  RegistrationTables &
  UsageTables &
  BillingTables &
  ExportJobTables &
  NotificationTables &
  BudgetTables;
