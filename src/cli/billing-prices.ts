import { Option, type Command } from 'commander';
import { CliError, resolveCustomer, runClient, SYSTEM_API, billingUrl } from './client.ts';
import { dataOption, jsonOption, print } from './output.ts';

// `stackledger billing price | markup | credit`: what the provider charges, and what it corrects.

export function registerPriceCommands(billing: Command): void {
  billing
    .command('price')
    .description(
      "set a meter's price on the provider's list sheet from a day on (tiers: --tier FROM=PRICE, repeatable)",
    )
    .requiredOption('--meter <id>', 'the meter id')
    .requiredOption('--from <YYYY-MM-DD>', 'the first day of the new price (today or later)')
    .option('--price <unitPrice>', 'one price for every quantity')
    .option('--tier <from=price>', 'a tier: the unit price from this quantity on', (v: string, all: string[] = []) => [
      ...all,
      v,
    ])
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o) =>
      runClient(o.data, async (c) => {
        const tiers = o.tier
          ? (o.tier as string[]).map((t) => {
              const [fromQuantity, unitPrice] = t.split('=');
              return { fromQuantity, unitPrice };
            })
          : o.price !== undefined
            ? [{ fromQuantity: '0', unitPrice: o.price }]
            : undefined;
        if (!tiers) throw new CliError('Give --price or one or more --tier FROM=PRICE.', 2);
        const r = await c.http.call('PUT', `${billingUrl(c, `priceSheets/list/meters/${o.meter}`)}?${SYSTEM_API}`, {
          token: await c.token(c.bootstrap.hub.arm),
          body: { effectiveFrom: o.from, tiers },
        });
        print(
          o.json,
          r,
          () =>
            `From ${r.effectiveFrom}, meter ${r.meterId}: ${r.tiers.map((t: { unitPrice: string; fromQuantity: string }) => `${t.unitPrice} from ${t.fromQuantity}`).join(', ')}.`,
        );
      }),
    );

  billing
    .command('markup')
    .description(
      "the CSP's price for its customers: a markup, a discount or a fixed price, for all, one customer, one offer or one meter",
    )
    .addOption(
      new Option('--kind <kind>', 'markup or discount (percent), or fixed (a unit price)')
        .choices(['markup', 'discount', 'fixed'])
        .default('markup'),
    )
    .requiredOption('--value <n>', 'the percentage, or the fixed unit price')
    .requiredOption('--from <YYYY-MM-DD>', 'the first day it applies (today or later)')
    .requiredOption('--reason <text>', 'why')
    .option('--customer <id-or-domain>', 'one customer')
    .option('--offer <id>', 'one offer')
    .option('--meter <id>', 'one meter')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o) =>
      runClient(o.data, async (c) => {
        const customer = o.customer ? await resolveCustomer(c, o.customer) : undefined;
        const body = {
          kind: o.kind,
          value: o.value,
          effectiveFrom: o.from,
          reason: o.reason,
          customerId: customer?.id,
          offerId: o.offer,
          meterId: o.meter,
        };
        const r = await c.http.call('POST', `${billingUrl(c, 'priceOverrides')}?${SYSTEM_API}`, {
          token: await c.token(c.bootstrap.hub.arm),
          body,
        });
        print(
          o.json,
          r,
          () =>
            `From ${r.effectiveFrom}: ${r.kind} ${r.value}${r.kind === 'fixed' ? '' : '%'} for ${customer?.companyName ?? 'every customer'}.`,
        );
      }),
    );

  billing
    .command('credit')
    .description(
      "a credit (negative) or adjustment on a customer's next invoice; with --credit-note-for, a credit note against a closed one",
    )
    .requiredOption('--customer <id-or-domain>', 'the customer')
    .requiredOption('--amount <amount>', 'the amount, such as -25.00')
    .requiredOption('--description <text>', 'what it is')
    .requiredOption('--reason <text>', 'why')
    .addOption(new Option('--kind <kind>', 'credit or adjustment').choices(['credit', 'adjustment']).default('credit'))
    .option('--subscription <id>', "one of the customer's subscriptions")
    .option('--credit-note-for <invoice>', 'correct this closed invoice with a credit note')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o) =>
      runClient(o.data, async (c) => {
        const customer = await resolveCustomer(c, o.customer);
        const body = {
          customerId: customer.id,
          subscriptionId: o.subscription,
          kind: o.kind,
          amount: o.amount,
          description: o.description,
          reason: o.reason,
          creditNoteFor: o.creditNoteFor,
        };
        const r = await c.http.call('POST', `${billingUrl(c, 'adjustments')}?${SYSTEM_API}`, {
          token: await c.token(c.bootstrap.hub.arm),
          body,
        });
        print(o.json, r, () =>
          r.creditNote
            ? `Credit note ${r.creditNote} against ${r.for}: ${r.amount}.`
            : `${r.kind} of ${r.amount} for ${customer.companyName}, on its next invoice.`,
        );
      }),
    );
}
