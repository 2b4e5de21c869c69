import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Option, type Command } from 'commander';
import { HttpError } from '../core/http-client.ts';
import { registerBudgetCommands } from './budgets.ts';
import { registerPriceCommands } from './billing-prices.ts';
import { downloadAll, requestExport } from './billing-export.ts';
import { armList, CliError, resolveCustomer, runClient, type Connection, SYSTEM_API, billingUrl } from './client.ts';
import { dataOption, jsonOption, print, progressBar, table, tableOrNone, type Cell, type Progress } from './output.ts';

// Billing: runs that close periods (with a progress bar), the CSP's invoices to its customers and
// the provider's invoices to the CSP, exports, prices and credits. All through the hub's APIs.

/** A billing run, reading the server's progress lines (application/x-ndjson) into a progress bar. */
async function runWithProgress(c: Connection, period: string, quiet: boolean) {
  const url = `${billingUrl(c, 'billingRuns')}?${SYSTEM_API}`;
  const res = await c.http.open('POST', url, {
    token: await c.token(c.bootstrap.hub.arm),
    body: { period },
    headers: { accept: 'application/x-ndjson' },
  });
  if (res.statusCode >= 400) throw new HttpError(res.statusCode, await res.body.json().catch(() => undefined), url);
  let bar: Progress | undefined;
  let result: unknown;
  for await (const line of createInterface({ input: res.body })) {
    if (!line.trim()) continue;
    const message = JSON.parse(line);
    if (message.progress && !quiet) {
      const p = message.progress;
      bar ??= progressBar(p.total, 'buyers');
      bar.update(p.done, `${p.stream === 'partner' ? "partners' invoices" : "customers' invoices"} ${p.period}`);
      if (p.done === p.total) {
        bar.stop();
        bar = undefined;
      }
    }
    if (message.error) throw new HttpError(500, { error: message.error }, url);
    if (message.result) result = message.result;
  }
  bar?.stop();
  return result as { period: string; invoicesAdded: number; linesAdded: number; periodsClosed: string[] };
}

const money = (v: string | number) => (typeof v === 'number' ? v.toFixed(2) : v);

export function registerBillingCommands(program: Command): void {
  const billing = program
    .command('billing')
    .description('billing: runs, invoices, exports, prices, credits and budgets');
  registerBudgetCommands(billing);

  billing
    .command('run')
    .description('close a billing period (and any earlier one still open); running it again changes nothing')
    .requiredOption('--period <YYYY-MM>', 'the month to close')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o) =>
      runClient(o.data, async (c) => {
        const r = await runWithProgress(c, o.period, Boolean(o.json) || !process.stderr.isTTY);
        print(o.json, r, () =>
          r.invoicesAdded === 0
            ? `Billing period ${r.period} is closed; nothing changed.`
            : `Closed ${r.periodsClosed.join(', ')}: ${r.invoicesAdded} invoices with ${r.linesAdded} lines.`,
        );
      }),
    );

  billing
    .command('invoices')
    .description(
      "the CSP's invoices to its customers (--customer for one), or with --provider the provider's invoices to the CSP",
    )
    .option('--period <YYYY-MM>', 'one billing period')
    .option('--customer <id-or-domain>', 'one customer')
    .option('--provider', "the partner center's invoices from the provider")
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o) =>
      runClient(o.data, async (c) => {
        if (o.provider) {
          const pc = c.bootstrap.hub.partnerCenter;
          const { items } = await c.http.call('GET', `${pc}/v1/invoices`, { token: await c.token(pc) });
          const shown = (
            items as {
              id: string;
              billingPeriodStartDate: string;
              billingPeriodEndDate: string;
              totalCharges: number;
              currencyCode: string;
            }[]
          ).filter((i) => !o.period || i.billingPeriodStartDate.startsWith(o.period));
          return print(o.json, shown, () =>
            tableOrNone(
              ['Invoice', 'Period start', 'Period end', 'Total', 'Currency'],
              shown.map((i) => [
                i.id,
                i.billingPeriodStartDate.slice(0, 10),
                i.billingPeriodEndDate.slice(0, 10),
                money(i.totalCharges),
                i.currencyCode,
              ]),
              'No invoices yet.',
            ),
          );
        }
        const customer = o.customer ? await resolveCustomer(c, o.customer) : undefined;
        const q = [SYSTEM_API, o.period ? `period=${o.period}` : '', customer ? `customerId=${customer.id}` : '']
          .filter(Boolean)
          .join('&');
        const { value } = await c.http.call('GET', `${billingUrl(c, 'invoices')}?${q}`, {
          token: await c.token(c.bootstrap.hub.arm),
        });
        print(o.json, value, () =>
          tableOrNone(
            ['Invoice', 'Kind', 'Status', 'Customer', 'Period', 'Subtotal', 'Tax', 'Total', 'Currency'],
            (value as { name: string; properties: Record<string, Cell> }[]).map((i) => [
              i.name,
              i.properties.kind,
              i.properties.status,
              i.properties.customerName,
              i.properties.period,
              i.properties.subtotal,
              i.properties.tax,
              i.properties.total,
              i.properties.currency,
            ]),
            'No invoices yet.',
          ),
        );
      }),
    );

  billing
    .command('invoice')
    .description(
      'one invoice with its lines (or --unbilled --customer X: the open period so far); --finalize a draft, --void --reason an invoice',
    )
    .argument('[number]', "the invoice number (a draft's name, DRAFT-…)")
    .option('--unbilled', 'the open period of --customer')
    .option('--customer <id-or-domain>', 'the customer, with --unbilled')
    .option('--pdf <file>', 'write the invoice document (PDF) to this file instead')
    .option('--finalize', 'approve a draft: finalize and number it now')
    .option('--void', 'void a finalized invoice: a credit note for it and a new invoice for its period')
    .option('--reason <text>', 'why, with --void')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (number: string | undefined, o) =>
      runClient(o.data, async (c) => {
        if (o.finalize || o.void) {
          if (!number) throw new CliError('Name the invoice to --finalize or --void.', 2);
          if (o.finalize && o.void) throw new CliError('--finalize or --void, not both.', 2);
          if (o.void && !o.reason?.trim()) throw new CliError('--void needs --reason.', 2);
          const r = await c.http.call(
            'POST',
            billingUrl(c, `invoices/${encodeURIComponent(number)}/${o.void ? 'void' : 'finalize'}?${SYSTEM_API}`),
            { token: await c.token(c.bootstrap.hub.arm), ...(o.void ? { body: { reason: o.reason } } : {}) },
          );
          return print(o.json, r, () =>
            o.void
              ? `Voided ${r.name}: credit note ${r.creditNote.name} (${r.creditNote.properties.total}), new invoice ${r.replacement.name} (${r.replacement.properties.total}).`
              : `Finalized ${number} as ${r.name}: total ${r.properties.total} ${r.properties.currency}.`,
          );
        }
        if (o.pdf) {
          if (!number || o.unbilled)
            throw new CliError('--pdf needs an invoice number: the open period has no document.', 2);
          return download(c, billingUrl(c, `invoices/${encodeURIComponent(number)}/pdf?${SYSTEM_API}`), o.pdf);
        }
        let path: string;
        if (o.unbilled) {
          if (!o.customer) throw new CliError('--unbilled needs --customer.', 2);
          path = `invoices/unbilled?${SYSTEM_API}&customerId=${(await resolveCustomer(c, o.customer)).id}`;
        } else {
          if (!number)
            throw new CliError('Name the invoice (stackledger billing invoices), or give --unbilled --customer.', 2);
          path = `invoices/${encodeURIComponent(number)}?${SYSTEM_API}`;
        }
        const inv = await c.http.call('GET', billingUrl(c, path), { token: await c.token(c.bootstrap.hub.arm) });
        const p = inv.properties;
        print(o.json, inv, () =>
          [
            `${p.kind === 'creditNote' ? 'Credit note' : 'Invoice'} ${p.invoiceNumber ?? (p.status === 'Draft' ? inv.name : '(open period)')} (${p.status}) to ${p.customerName} for ${p.period} (${p.periodStart.slice(0, 10)} to ${p.periodEnd.slice(0, 10)})`,
            table(
              ['#', 'Type', 'Subscription', 'Meter', 'Resource', 'Days', 'Quantity', 'Unit price', 'Amount'],
              (p.lines as Record<string, Cell>[]).map((l) => [
                l.lineNumber,
                l.lineType,
                l.subscriptionName ?? l.subscriptionId,
                l.meterName ?? l.description,
                l.resourceUri ?? l.reason,
                l.usageDate ? `${l.usageDate}${l.usageTo && l.usageTo !== l.usageDate ? ` to ${l.usageTo}` : ''}` : '',
                l.quantity,
                l.unitPrice,
                l.amount,
              ]),
            ),
            `Subtotal ${p.subtotal}   Tax (${p.taxRate}%) ${p.tax}   Total ${p.total} ${p.currency}`,
          ].join('\n'),
        );
      }),
    );

  billing
    .command('profile')
    .description("set a billing profile: a customer's (or the default) billing day, tax rate and grace period")
    .argument(
      '<customer>',
      "a customer's id or domain, or 'default'; with --provider a partner's directory id or 'default'",
    )
    .option('--billing-day <day>', 'the day periods start, 1 to 28', '1')
    .option('--tax-rate <percent>', 'the tax rate in percent', '0')
    .option('--grace-days <days>', 'days a closed period stays a draft before it is finalized (0: at once)', '0')
    .option('--provider', "the provider's profile for its invoices to partners (system administrators)")
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (target: string, o) =>
      runClient(o.data, async (c) => {
        const id = target === 'default' || o.provider ? target : (await resolveCustomer(c, target)).id;
        const r = await c.http.call('PUT', billingUrl(c, `billingProfiles/${encodeURIComponent(id)}?${SYSTEM_API}`), {
          token: await c.token(c.bootstrap.hub.arm),
          body: {
            level: o.provider ? 'provider' : 'partner',
            billingDay: Number(o.billingDay),
            taxRate: o.taxRate,
            gracePeriodDays: Number(o.graceDays),
          },
        });
        print(
          o.json,
          r,
          () => `Billing profile ${target}: day ${r.billingDay}, tax ${r.taxRate}%, grace ${r.gracePeriodDays} days.`,
        );
      }),
    );

  billing
    .command('export')
    .description(
      'a period to a file (streamed) or, with --async, to files the hub writes: reconciliation, FOCUS, or JSON',
    )
    .requiredOption('--period <YYYY-MM>', 'the billing period')
    .addOption(
      new Option('--format <format>', 'recon (partner center), focus (FinOps FOCUS 1.0) or json')
        .choices(['recon', 'focus', 'json'])
        .default('recon'),
    )
    .addOption(
      new Option('--of <invoices>', "the provider's invoice to the CSP, or the CSP's invoices to its customers")
        .choices(['provider', 'customers'])
        .default('provider'),
    )
    .option('--customer <id-or-domain>', 'one customer')
    .option('--async', 'export on the hub in the background, then download its files (resuming) into the folder --out')
    .requiredOption('--out <file>', 'where to write it (with --async: a folder)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o) =>
      runClient(o.data, async (c) => {
        const customer = o.customer ? await resolveCustomer(c, o.customer) : undefined;
        if (o.async) {
          const body = { period: o.period, format: o.format, of: o.of, customerId: customer?.id };
          const manifest = await requestExport(c, `${billingUrl(c, 'exports')}?${SYSTEM_API}`, body, Boolean(o.json));
          const ext = o.format === 'json' ? 'json' : 'csv';
          const files = await downloadAll(c, manifest, o.out, `stackledger-${o.of}-${o.format}-${o.period}`, ext);
          return print(o.json, manifest, () =>
            [
              table(
                ['File', 'Rows', 'Bytes', 'sha256'],
                manifest.files.map((f, i) => [files[i], f.rows, f.bytes, f.sha256]),
              ),
              `${manifest.rows} rows of ${manifest.totals.invoices} invoices: billed ${manifest.totals.billedCost}; ` +
                `subtotal ${manifest.totals.subtotal}, tax ${manifest.totals.tax}, total ${manifest.totals.total} ${manifest.totals.currency}`,
            ].join('\n'),
          );
        }
        const stream = o.of === 'provider' ? 'partner' : 'customer';
        const url = `${billingUrl(c, 'exports')}?${SYSTEM_API}&period=${o.period}&format=${o.format}&stream=${stream}${customer ? `&customerId=${customer.id}` : ''}`;
        await download(c, url, o.out);
      }),
    );

  registerPriceCommands(billing);

  billing
    .command('chargeback')
    .description("the operator's chargeback on a stack: each tenant subscription's month at the operator's prices")
    .requiredOption('--period <YYYY-MM>', 'the month')
    .option('--stack <name>', 'the stack (default: the only one)')
    .option('--csv', 'print CSV')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o) =>
      runClient(o.data, async (c) => {
        const names = Object.keys(c.bootstrap.stacks);
        const name = o.stack ?? (names.length === 1 ? names[0] : undefined);
        if (!name) throw new CliError(`Name the stack with --stack (${names.join(', ')}).`, 2);
        const s = c.stack(name);
        const url = `${s.adminArm}/subscriptions/${s.providerSubscriptionId}/providers/Stackledger.Billing/chargeback?${SYSTEM_API}&period=${o.period}${o.csv ? '&format=csv' : ''}`;
        const token = await c.token(s.adminArm, 'operator');
        const r = await c.http.call('GET', url, { token });
        if (o.csv) return void process.stdout.write(String(r));
        // The month's subscriptions come a page at a time: every page's, in one document.
        if (r.nextLink) r.value.push(...(await armList(c, r.nextLink, token)));
        delete r.nextLink;
        print(o.json, r, () =>
          tableOrNone(
            ['Subscription', 'Tenant', 'Lines', 'Total', 'Currency'],
            (
              r.value as {
                displayName?: string;
                subscriptionId: string;
                tenantId: string;
                lines: unknown[];
                total: string;
                currency: string;
              }[]
            ).map((x) => [x.displayName ?? x.subscriptionId, x.tenantId, x.lines.length, x.total, x.currency]),
            `No usage on ${name} in ${o.period}.`,
          ),
        );
      }),
    );
}

/** Streams what a URL answers into a file (an export, an invoice's PDF). */
async function download(c: Connection, url: string, file: string): Promise<void> {
  const res = await c.http.open('GET', url, { token: await c.token(c.bootstrap.hub.arm) });
  if (res.statusCode >= 400) throw new HttpError(res.statusCode, await res.body.json().catch(() => undefined), url);
  await pipeline(res.body, createWriteStream(file));
  process.stdout.write(`Wrote ${file}\n`);
}
