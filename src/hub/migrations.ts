import type { Kysely } from 'kysely';
import { armMigrations } from '../arm/migrations.ts';
import { auditMigrations } from '../audit/migrations.ts';
import { billingMigrations } from '../billing/migrations.ts';
import { exportJobMigrations } from '../billing/export-job-store.ts';
import { identityMigrations } from '../identity/migrations.ts';
import { partnerMigrations } from '../partner/migrations.ts';
import { registrationMigrations } from '../registration/migrations.ts';
import { usageMigrations } from '../usage/migrations.ts';
import { budgetMigrations } from '../budgets/migrations.ts';
import { notificationMigrations } from '../notifications/migrations.ts';
import { migrate } from '../db/database.ts';
import type { HubTables } from './tables.ts';

// The hub's migrations, apart from its application: what migrates a database (the role's
// start, the upgrade tests, the benches) loads them without the servers' code.

/** The hub's migrations, each domain's own. */
export const hubMigrations = {
  ...armMigrations,
  ...identityMigrations,
  ...partnerMigrations,
  ...auditMigrations,
  ...registrationMigrations,
  ...usageMigrations,
  ...billingMigrations,
  ...exportJobMigrations,
  ...notificationMigrations,
  ...budgetMigrations,
};

export async function migrateHub(db: Kysely<HubTables>): Promise<void> {
  await migrate(db, hubMigrations);
}
