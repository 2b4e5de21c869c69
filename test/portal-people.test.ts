// The portal's people's pages in a real Chromium against a real system: a customer's administrator
// invites the CSP as a guest, who accepts at the redeem page, and gives it Reader and takes it back;
// a budget shows its spend and the alert it fires; the CSP's webhook shows a delivery and re-sends
// it; an invoice downloads as a PDF; the seller finalizes a draft invoice, which its buyer never
// sees. Every page passes axe-core and fits a phone's width.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  assertAccessible,
  assertNoSidewaysOverflow,
  launchBrowser,
  LAPTOP,
  newContext,
  PHONE,
  screenshot,
  watchConsole,
} from './helpers/browser.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const SHOTS = 'portal-people';
const WAIT = { timeout: 20_000 };
const V = 'api-version=2026-11-01';
const BASE_VM_METER = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';

describe("the portal's people's pages", { timeout: 600_000 }, () => {
  let t: TestSystem;
  let browser: Browser;
  let portal: string;
  let c: CustomerWithSubscription;
  let receiverBase: string;
  const received: { path: string; id: string; type: string }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const event = JSON.parse(body);
      received.push({ path: req.url ?? '', id: event.id, type: event.type });
      res.writeHead(204).end();
    });
  });
  const suffix = Math.random().toString(36).slice(2, 8);
  const openPages = new Set<Page>();

  const advance = async (to: string) =>
    t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
      token: await t.appToken('csp', t.b.hub.arm),
      body: { to },
    });

  /** One usage event of base VM hours, as an external meter posts it. */
  async function postVmHours(subject: string, time: string, quantity: string, resourceUri: string) {
    const usage = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?${V}`, {
      token: await t.appToken('csp', t.b.hub.arm),
      body: [
        {
          specversion: '1.0',
          id: randomUUID(),
          source: 'urn:test:portal-people',
          type: 'usage',
          subject,
          time,
          data: { meterId: BASE_VM_METER, quantity, resourceUri },
        },
      ],
    });
    assert.equal(usage.status, 200, JSON.stringify(usage.body));
  }

  async function signIn(role: 'Cloud service provider' | 'Tenant user', userName: string, password: string) {
    const page = await (await newContext(browser, LAPTOP)).newPage();
    openPages.add(page);
    page.on('close', () => openPages.delete(page));
    const problems = watchConsole(page);
    page.on('close', () => problems.length && console.log(problems.join('\n')));
    await page.goto(portal);
    await page.getByRole('radio', { name: role }).check();
    await page.getByLabel('User name').fill(userName);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
    return page;
  }

  const nav = async (page: Page, label: string) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).click();
    await page.getByRole('heading', { level: 1, name: label, exact: true }).waitFor(WAIT);
  };

  /** axe-core at the laptop's width, then no sideways overflow and axe again at a phone's. */
  async function checkPage(page: Page, name: string, ready: (p: Page) => Promise<unknown>) {
    await assertAccessible(page, name);
    await screenshot(page, SHOTS, name);
    await page.setViewportSize(PHONE);
    await ready(page);
    await assertNoSidewaysOverflow(page, name);
    await assertAccessible(page, `${name} at a phone's width`);
    await screenshot(page, SHOTS, `${name}-phone`);
    await page.setViewportSize(LAPTOP);
  }

  before(async () => {
    t = await startTestSystem({
      clock: new Date('2026-03-05T12:00:00Z'),
      policies: { webhooks: { allowInternalAddresses: true, pollMs: 50 } },
    });
    portal = `${t.b.hub.portal}/`;
    browser = await launchBrowser();
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    c = await customerWithSubscription(t, `people-${suffix}`);
    // 250 vCPU hours at the list price of 0.008: 2.00 of spend once the hour closes.
    await postVmHours(c.subscriptionId, '2026-03-05T10:00:00Z', '250', '/vm/people');
    assert.equal((await advance('2026-03-05T14:00:00Z')).status, 200);
  });

  afterEach(async (context) => {
    for (const page of openPages) {
      await screenshot(page, SHOTS, `failed-${context.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {});
      await page.context().close();
    }
  });

  after(async () => {
    receiver.close();
    await browser?.close();
    await t?.stop();
  });

  it("the customer's administrator invites the CSP as a guest, who accepts at the redeem page", async () => {
    const page = await signIn('Tenant user', c.admin.userName, c.admin.password);
    await nav(page, 'Access');
    const invite = page.getByRole('form', { name: 'Invite a guest' });
    await invite.getByLabel('Email of the person to invite').fill(t.b.csp.admin.userName);
    await invite.getByRole('button', { name: 'Send invitation' }).click();
    const link = await page.getByTestId('redeem-link').getAttribute('href', WAIT);
    assert.ok(link?.startsWith(`${portal}redeem?tenant=${c.customerId}&invitation=`), String(link));
    const guests = page.getByRole('table', { name: 'Guests' });
    await guests.getByText('PendingAcceptance').waitFor(WAIT);

    const guest = await (await newContext(browser, LAPTOP)).newPage();
    openPages.add(guest);
    await guest.goto(link!);
    await guest.getByRole('heading', { level: 1, name: 'Accept an invitation' }).waitFor(WAIT);
    await checkPage(guest, '01-redeem', (p) => p.getByRole('button', { name: 'Accept invitation' }).waitFor(WAIT));
    // A wrong password accepts nothing and says why.
    const form = guest.getByRole('form', { name: 'Accept the invitation' });
    await form.getByLabel('User name').fill(t.b.csp.admin.userName);
    await form.getByLabel('Password', { exact: true }).fill('not the password');
    await form.getByRole('button', { name: 'Accept invitation' }).click();
    await form.getByRole('alert').waitFor(WAIT);
    await form.getByLabel('Password', { exact: true }).fill(t.b.csp.admin.password);
    await form.getByLabel('User name').fill(t.b.csp.admin.userName);
    await form.getByRole('button', { name: 'Accept invitation' }).click();
    await guest.getByRole('status').filter({ hasText: 'Invitation accepted' }).waitFor(WAIT);
    await guest.context().close();

    await page.reload();
    await guests.getByText('Accepted', { exact: true }).waitFor(WAIT);
    await checkPage(page, '02-access', (p) => p.getByRole('table', { name: 'Guests' }).waitFor(WAIT));
    await page.context().close();
  });

  it('the administrator gives the guest Reader on the subscription and takes it back', async () => {
    const page = await signIn('Tenant user', c.admin.userName, c.admin.password);
    await nav(page, 'Access');
    // A guest's user name in the inviting directory: admin_csp.…#EXT#@{the customer's domain}.
    const guestName = `${t.b.csp.admin.userName.replace('@', '_')}#EXT#@`;
    const assign = page.getByRole('form', { name: 'Assign a role' });
    const user = assign.getByLabel('User');
    await user.locator('option', { hasText: guestName }).waitFor({ state: 'attached', ...WAIT });
    const guestId = await user.locator('option', { hasText: guestName }).getAttribute('value');
    await user.selectOption(guestId!);
    await assign.getByLabel('Role').selectOption('Reader');
    await assign.getByRole('button', { name: 'Assign' }).click();
    const assignments = page.getByRole('table', { name: 'Role assignments' });
    const readerRow = assignments.getByRole('row').filter({ hasText: guestName }).filter({ hasText: 'Reader' });
    await readerRow.waitFor(WAIT);
    // The hub agrees: the guest is a Reader of the subscription.
    const listed = await t.call(
      'GET',
      `${t.b.hub.arm}/subscriptions/${c.subscriptionId}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01`,
      { token: await t.userToken(c.customerId, c.admin.userName, c.admin.password, t.b.hub.arm) },
    );
    assert.ok(
      listed.body.value.some(
        (a: { properties: { principalId: string; roleDefinitionId: string } }) =>
          a.properties.principalId === guestId &&
          a.properties.roleDefinitionId.endsWith('acdd72a7-3385-48ef-bd42-f606fba81ae7'),
      ),
    );
    await screenshot(page, SHOTS, '03-reader-assigned');
    await readerRow.getByRole('button', { name: /^Remove Reader of / }).click();
    await readerRow.waitFor({ state: 'detached', ...WAIT });
    await page.context().close();
  });

  it('a budget shows its spend and forecast, and the alert its threshold fires', async () => {
    const page = await signIn('Tenant user', c.admin.userName, c.admin.password);
    await nav(page, 'Budgets');
    const form = page.getByRole('form', { name: 'Create or change a budget of the subscription' });
    await form.getByLabel('Budget name').fill('monthly');
    // Nothing is saved from a refused amount: the hub's message is shown.
    await form.getByLabel('Monthly amount (USD)').fill('2.50');
    await form.getByLabel('Alert thresholds (%)').fill('80, 2000');
    await form.getByRole('button', { name: 'Save budget' }).click();
    await form.getByRole('alert').filter({ hasText: 'InvalidBudget' }).waitFor(WAIT);
    await page.getByText('No budget on this subscription.', { exact: true }).waitFor(WAIT);

    await form.getByLabel('Budget name').fill('monthly');
    await form.getByLabel('Monthly amount (USD)').fill('2.50');
    await form.getByLabel('Alert thresholds (%)').fill('80');
    await form.getByLabel('Forecast thresholds (%)').fill('100');
    await form.getByRole('button', { name: 'Save budget' }).click();
    const row = page
      .getByRole('table', { name: 'Budgets of the subscription' })
      .getByRole('row')
      .filter({ hasText: 'monthly' });
    await row.waitFor(WAIT);
    assert.match(
      (await row.innerText()).replace(/\s+/g, ' '),
      /2026-03 \$2\.50 \$2\.00 \$\d+\.\d\d 80%, 100% \(forecast\)/,
    );

    // The budget job runs as the clock passes the hour: 2.00 is 80% of 2.50.
    assert.equal((await advance('2026-03-05T16:00:00Z')).status, 200);
    await page.reload();
    await page
      .getByRole('table', { name: 'Budget alerts of the subscription' })
      .getByText('80% (Actual)')
      .waitFor(WAIT);
    // The month's forecast at this pace (2.00 by the 5th) is far over 2.50: its alert fired too.
    await page
      .getByRole('table', { name: 'Budget alerts of the subscription' })
      .getByText('100% (Forecasted)')
      .waitFor(WAIT);
    await checkPage(page, '04-budgets', (p) =>
      p.getByRole('table', { name: 'Budget alerts of the subscription' }).waitFor(WAIT),
    );

    await row.getByRole('button', { name: 'Delete budget monthly' }).click();
    await page.getByText('No budget on this subscription.', { exact: true }).waitFor(WAIT);
    await page.context().close();
  });

  it("the CSP sets a budget on a whole customer and sees the customer's spend", async () => {
    const page = await signIn('Cloud service provider', t.b.csp.admin.userName, t.b.csp.admin.password);
    await nav(page, 'Budgets');
    const panel = page.getByRole('region', { name: 'Budgets of a customer (all its subscriptions)' });
    await panel.getByRole('combobox', { name: /^Customer/ }).selectOption({ label: `people-${suffix} Ltd` });
    const form = panel.getByRole('form', { name: 'Create or change a budget of the customer' });
    await form.getByLabel('Budget name').fill('whole');
    await form.getByLabel('Monthly amount (USD)').fill('10');
    await form.getByRole('button', { name: 'Save budget' }).click();
    const row = panel
      .getByRole('table', { name: 'Budgets of the customer' })
      .getByRole('row')
      .filter({ hasText: 'whole' });
    await row.waitFor(WAIT);
    assert.match((await row.innerText()).replace(/\s+/g, ' '), /2026-03 \$10\.00 \$2\.00 /);
    await page.context().close();
  });

  it("the CSP's webhook shows its delivery after a subscription's status changes, and re-sends it", async () => {
    const page = await signIn('Cloud service provider', t.b.csp.admin.userName, t.b.csp.admin.password);
    await nav(page, 'Webhooks');
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('Webhook name').fill(`hook-${suffix}`);
    await form.getByLabel('URL').fill(`${receiverBase}/csp`);
    await form.getByRole('checkbox', { name: 'subscription.status_changed' }).check();
    await form.getByLabel('Signing secret').fill('portal-hook-secret-0123');
    await form.getByRole('button', { name: 'Save webhook' }).click();
    await page.getByRole('table', { name: 'Webhooks' }).getByText(`${receiverBase}/csp`).waitFor(WAIT);

    const pc = t.b.hub.partnerCenter;
    const patch = await t.call('PATCH', `${pc}/v1/customers/${c.customerId}/subscriptions/${c.subscriptionId}`, {
      token: await t.appToken('csp', pc),
      body: { status: 'suspended' },
    });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));
    const deliveries = page.getByRole('table', { name: `Deliveries of hook-${suffix}` });
    const delivered = deliveries.getByRole('row').filter({ hasText: 'subscription.status_changed' });
    for (let i = 0; i < 40 && !(await delivered.filter({ hasText: 'Delivered' }).count()); i++) {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.waitForTimeout(250);
    }
    assert.match((await delivered.innerText()).replace(/\s+/g, ' '), /Delivered 1 /);
    const eventId = received.find((r) => r.path === '/csp')?.id;
    assert.ok(eventId);
    await checkPage(page, '05-webhooks', (p) => p.getByRole('table', { name: 'Webhooks' }).waitFor(WAIT));

    await delivered.getByRole('button', { name: /^Re-send / }).click();
    while (received.filter((r) => r.id === eventId).length < 2) await page.waitForTimeout(100);
    await page.getByRole('button', { name: `Delete webhook hook-${suffix}` }).click();
    await page.getByText('No webhook yet.').waitFor(WAIT);
    // Active again, so the month closes as usual below.
    await t.call('PATCH', `${pc}/v1/customers/${c.customerId}/subscriptions/${c.subscriptionId}`, {
      token: await t.appToken('csp', pc),
      body: { status: 'active' },
    });
    await page.context().close();
  });

  it("the CSP downloads the closed month's invoice and the vendor's statement as PDFs", async () => {
    assert.equal((await advance('2026-04-03T00:00:00Z')).status, 200);
    const page = await signIn('Cloud service provider', t.b.csp.admin.userName, t.b.csp.admin.password);
    await nav(page, 'Invoices');
    const invoices = page.getByRole('table', { name: 'Invoices' });
    await invoices.getByText(`people-${suffix} Ltd`).waitFor(WAIT);
    await invoices
      .getByRole('row')
      .filter({ hasText: `people-${suffix} Ltd` })
      .getByRole('link')
      .click();
    await page.getByTestId('invoice-total').waitFor(WAIT);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download PDF' }).click();
    const file = await (await download).path();
    assert.equal((await readFile(file)).subarray(0, 5).toString('latin1'), '%PDF-');
    await checkPage(page, '06-invoice', (p) => p.getByTestId('invoice-total').waitFor(WAIT));
    await page.context().close();
  });

  it('the seller finalizes a draft invoice in the browser and sees its number; the buyer never sees the draft', async () => {
    const csp = await t.appToken('csp', t.b.hub.arm);
    const billing = (path: string) =>
      `${t.b.hub.arm}/providers/Stackledger.Billing/${path}${path.includes('?') ? '&' : '?'}${V}`;
    const d = await customerWithSubscription(t, `drafts-${suffix}`);
    const company = `drafts-${suffix} Ltd`;
    const grace = await t.call('PUT', billing(`billingProfiles/${d.customerId}`), {
      token: csp,
      body: { gracePeriodDays: 3 },
    });
    assert.equal(grace.status, 200, JSON.stringify(grace.body));
    await postVmHours(d.subscriptionId, '2026-04-02T10:00:00Z', '100', '/vm/drafts');
    // April closes: its invoice waits as a draft for the grace period's 3 days.
    assert.equal((await advance('2026-05-01T01:00:00Z')).status, 200);
    const [draft] = (await t.call('GET', billing(`invoices?period=2026-04&customerId=${d.customerId}`), { token: csp }))
      .body.value;
    assert.equal(draft.properties.status, 'Draft');
    assert.match(draft.name, /^DRAFT-/);

    // The buyer, signed in to the portal: no page shows the draft, and its session's token cannot read it.
    const buyer = await signIn('Tenant user', d.admin.userName, d.admin.password);
    const asBuyer = (url: string) =>
      buyer.evaluate(
        async ({ url, resource }) => {
          const session = JSON.parse(sessionStorage.getItem('stackledger.session') ?? '{}');
          const res = await fetch(url, { headers: { authorization: `Bearer ${session.tokens[resource]}` } });
          return { status: res.status, body: await res.json() };
        },
        { url, resource: t.b.hub.arm },
      );
    await buyer.goto(`${portal}invoices/${draft.name}`);
    await buyer.getByRole('heading', { level: 1, name: 'Not found' }).waitFor(WAIT);
    assert.equal(await buyer.getByRole('button', { name: 'Finalize' }).count(), 0);
    const hidden = await asBuyer(billing(`invoices/${draft.name}`));
    assert.equal(hidden.status, 404, JSON.stringify(hidden.body));
    const listed = await asBuyer(billing('invoices?period=2026-04'));
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(listed.body.value, []);

    // The seller opens the draft from the list and finalizes it: the page turns to the invoice's number.
    const page = await signIn('Cloud service provider', t.b.csp.admin.userName, t.b.csp.admin.password);
    await nav(page, 'Invoices');
    const row = page.getByRole('table', { name: 'Invoices' }).getByRole('row').filter({ hasText: company });
    await row.getByRole('cell', { name: 'Draft', exact: true }).waitFor(WAIT);
    await row.getByRole('link', { name: draft.name }).click();
    await page.getByRole('heading', { level: 1, name: `Invoice ${draft.name}` }).waitFor(WAIT);
    await checkPage(page, '07-draft-invoice', (p) => p.getByRole('button', { name: 'Finalize' }).waitFor(WAIT));
    // The numbered invoice's answer is held until the page at its address has been looked at: the
    // draft, loaded before, must not show there (its Finalize would act on the number).
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    let asked = (_url: string) => {};
    const numberAsked = new Promise<string | undefined>((r) => (asked = r));
    await page.route(/\/providers\/Stackledger\.Billing\/invoices\/(?!DRAFT-)[^/?]+\?/, async (route) => {
      if (route.request().method() === 'GET') {
        asked(route.request().url());
        await released;
      }
      await route.continue();
    });
    await page.getByRole('button', { name: 'Finalize' }).click();
    const never = sleep(WAIT.timeout, undefined, { ref: false });
    assert.ok(await Promise.race([numberAsked, never]), 'the page asks for the numbered invoice');
    assert.doesNotMatch(page.url(), /DRAFT-/, 'the page has moved to the number');
    assert.equal(await page.getByRole('button', { name: 'Finalize' }).count(), 0);
    assert.equal(await page.getByRole('heading', { level: 1, name: draft.name }).count(), 0);
    release();
    const heading = page.getByRole('heading', { level: 1, name: /^Invoice (?!DRAFT-)/ });
    await heading.waitFor(WAIT);
    const number = ((await heading.textContent()) ?? '').replace(/^Invoice /, '');
    assert.equal(await page.getByRole('button', { name: 'Finalize' }).count(), 0);
    await page.locator('dl.facts dd', { hasText: 'Finalized' }).first().waitFor(WAIT);
    const finalized = await t.call('GET', billing(`invoices/${number}`), { token: csp });
    assert.equal(finalized.status, 200, JSON.stringify(finalized.body));
    assert.equal(finalized.body.properties.status, 'Finalized');
    assert.equal(finalized.body.properties.customerId, d.customerId);
    // Finalized, it is the buyer's to read: what hid it before was its being a draft.
    const mine = await asBuyer(billing('invoices?period=2026-04'));
    assert.deepEqual(
      mine.body.value.map((i: { name: string }) => i.name),
      [number],
    );
    assert.equal((await asBuyer(billing(`invoices/${draft.name}`))).status, 404);
    await page.context().close();
    await buyer.context().close();
  });
});
