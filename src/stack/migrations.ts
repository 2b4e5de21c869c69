import type { Kysely } from 'kysely';
import { CHARGEBACK_SHEET, pricingMigrations } from '../rating/migrations.ts';
import { armMigrations } from '../arm/migrations.ts';
import { offersMigrations } from './offers/migrations.ts';
import { bridgeMigrations } from './bridge/migrations.ts';
import { meteringMigrations } from './metering/migrations.ts';
import { resourcesMigrations } from './resources/migrations.ts';
import { networkMigrations } from './network/migrations.ts';
import { tenancyMigrations } from './tenancy/migrations.ts';
import { deploymentsMigrations } from './deployments/migrations.ts';
import { migrate } from '../db/database.ts';
import type { StackTables } from './app.ts';

// A stack's migrations, apart from its application: what migrates a database (the role's
// start, the upgrade tests, the benches) loads them without the servers' code.

/** Every domain's migrations of a stack's database. */
export const STACK_MIGRATIONS = {
  ...armMigrations,
  ...tenancyMigrations,
  ...offersMigrations,
  ...resourcesMigrations,
  ...meteringMigrations,
  ...networkMigrations,
  ...bridgeMigrations,
  ...deploymentsMigrations,
  ...pricingMigrations(CHARGEBACK_SHEET, "The operator's prices for chargeback to tenant subscriptions"),
};

export async function migrateStack(db: Kysely<StackTables>): Promise<void> {
  await migrate(db, STACK_MIGRATIONS);
}
