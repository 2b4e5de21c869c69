import type { Command } from 'commander';
import { CliError, resolveCustomer, runClient, type Connection, SYSTEM_API } from './client.ts';
import { dataOption, jsonOption, print, tableOrNone, type Cell } from './output.ts';

// `stackledger billing budgets` and `billing budget`: a customer subscription's or a customer's
// monthly cost budgets, their spend and forecast, and the alerts they fired.

/** Where a scope's budgets live on the hub's ARM endpoint. */
async function budgetsUrl(c: Connection, o: { subscription?: string; customer?: string }): Promise<string> {
  if (Boolean(o.subscription) === Boolean(o.customer))
    throw new CliError('Give one of --subscription or --customer.', 2);
  const arm = c.bootstrap.hub.arm;
  if (o.subscription) return `${arm}/subscriptions/${o.subscription}/providers/Stackledger.Billing/budgets`;
  const customer = await resolveCustomer(c, o.customer!);
  return `${arm}/providers/Stackledger.Billing/customers/${customer.id}/budgets`;
}

/** `80,100` → percentages. */
const percents = (text: string | undefined): number[] =>
  text === undefined ? [] : text.split(',').map((p) => Number(p.trim()));

export function registerBudgetCommands(billing: Command): void {
  billing
    .command('budgets')
    .description("a subscription's or a customer's budgets: amount, spend and forecast this period, alerts fired")
    .option('--subscription <id>', 'a customer subscription')
    .option('--customer <id-or-domain>', 'a customer (all its subscriptions)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o) =>
      runClient(o.data, async (c) => {
        const url = await budgetsUrl(c, o);
        const { value } = await c.http.call('GET', `${url}?${SYSTEM_API}`, {
          token: await c.token(c.bootstrap.hub.arm),
        });
        print(o.json, value, () =>
          tableOrNone(
            ['Budget', 'Amount', 'Period', 'Spend', 'Forecast', 'Alerts fired'],
            (value as { name: string; properties: Record<string, unknown> }[]).map((b) => {
              const p = b.properties as {
                amount: number;
                currentPeriod: string;
                currentSpend: { amount: number; unit: string };
                forecastSpend: { amount: number };
                alerts: { period: string; notification: string }[];
              };
              const fired = p.alerts.filter((a) => a.period === p.currentPeriod).map((a) => a.notification);
              return [
                b.name,
                p.amount,
                p.currentPeriod,
                p.currentSpend.amount,
                p.forecastSpend.amount,
                fired.join(', '),
              ] as Cell[];
            }),
            'No budgets.',
          ),
        );
      }),
    );

  billing
    .command('budget')
    .description('set a monthly cost budget with alert thresholds (percent of the amount)')
    .argument('<name>', 'the budget name')
    .option('--subscription <id>', 'a customer subscription')
    .option('--customer <id-or-domain>', 'a customer (all its subscriptions)')
    .requiredOption('--amount <amount>', 'per month, in the invoice currency')
    .option('--actual <percents>', 'alert when the spend passes these percentages (e.g. 80,100)')
    .option('--forecast <percents>', 'alert when the forecast reaches these percentages (e.g. 100)')
    .option('--from <YYYY-MM>', 'the first month (default: this month)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (name: string, o) =>
      runClient(o.data, async (c) => {
        const url = `${await budgetsUrl(c, o)}/${encodeURIComponent(name)}?${SYSTEM_API}`;
        const notifications: Record<string, unknown> = {};
        for (const p of percents(o.actual))
          notifications[`actual_${p}`] = {
            enabled: true,
            operator: 'GreaterThan',
            threshold: p,
            thresholdType: 'Actual',
          };
        for (const p of percents(o.forecast))
          notifications[`forecast_${p}`] = {
            operator: 'GreaterThanOrEqualTo',
            threshold: p,
            thresholdType: 'Forecasted',
          };
        const month = o.from ?? new Date().toISOString().slice(0, 7);
        const budget = await c.http.call('PUT', url, {
          token: await c.token(c.bootstrap.hub.arm),
          body: {
            properties: {
              category: 'Cost',
              amount: o.amount,
              timeGrain: 'Monthly',
              timePeriod: { startDate: `${month}-01T00:00:00Z` },
              notifications,
            },
          },
        });
        print(
          o.json,
          budget,
          () =>
            `Budget ${budget.name}: ${budget.properties.amount} a month (${Object.keys(notifications).join(', ') || 'no alerts'})`,
        );
      }),
    );
}
