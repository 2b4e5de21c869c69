import { type Kysely, type Migration, sql } from 'kysely';

export const budgetMigrations: Record<string, Migration> = {
  '0901_budgets': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table budgets (
          id uuid primary key,
          scope text not null check (scope in ('subscription', 'customer')),
          scope_id uuid not null,
          name text not null,
          partner_id uuid not null,
          customer_id uuid not null,
          amount numeric not null check (amount > 0),
          start_date date not null,
          end_date date,
          notifications jsonb not null,
          etag uuid not null,
          created_by uuid not null,
          created_at timestamptz not null,
          updated_at timestamptz not null,
          unique (scope, scope_id, name)
        );
        create index budgets_customer on budgets (customer_id);
        create table budget_alerts (
          budget_id uuid not null references budgets (id) on delete cascade,
          period text not null,
          notification text not null,
          threshold_type text not null,
          threshold numeric not null,
          spend numeric not null,
          fired_at timestamptz not null,
          primary key (budget_id, period, notification)
        );
      `.execute(db);
    },
  },
};
