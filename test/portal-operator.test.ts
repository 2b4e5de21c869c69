// The portal's operator side in a real (headless) Chromium at phone width against a real system:
// the operator onboards a directory and sees its consent arrive, creates a quota, a plan of it and
// an offer of the plan, makes the offer public (a tenant then lists and takes it through the API),
// and retries and drops records the hub refused from the bridge's quarantine. Every page is checked
// for sideways overflow and for controls without an accessible name. Screenshots go to
// test-artifacts/portal-operator/.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { withDatabase } from '../src/db/database.ts';
import type { UndeclaredJson } from '../src/core/http-client.ts';
import { assertAccessible, launchBrowser, newContext, screenshot, watchConsole } from './helpers/browser.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const SHOTS = 'portal-operator';
const WAIT = { timeout: 20_000 };
const PHONE_375 = { width: 375, height: 812 };
const SUBSCRIPTIONS_API = 'api-version=2015-11-01';
const API = 'api-version=2026-11-01';
const BASE_METER = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';

/** Sideways overflow and controls nobody can name: what every operator page must be free of. */
async function checkPage(page: Page, what: string): Promise<void> {
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 0, `${what}: the page is ${overflow}px wider than the screen`);
  // Nor inside a table, which would scroll on its own and hide its first column.
  const wideTables = await page.evaluate(() =>
    [...document.querySelectorAll('.table-wrap')]
      .filter((el) => el.scrollWidth > el.clientWidth)
      .map((el) => el.querySelector('table')?.getAttribute('aria-label')),
  );
  assert.deepEqual(wideTables, [], `${what}: tables wider than the screen`);
  // Every control has an accessible name: wrapped in a label, or labelled by aria-label or for=.
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter(
        (el) =>
          !el.closest('label') &&
          !el.getAttribute('aria-label') &&
          !(el.id && document.querySelector(`label[for="${el.id}"]`)),
      )
      .map((el) => el.outerHTML.slice(0, 120)),
  );
  assert.deepEqual(unnamed, [], `${what}: controls without an accessible name`);
  await assertAccessible(page, what);
}

describe("the portal's operator side", () => {
  let t: TestSystem;
  let browser: Browser;
  let portal: string;
  let operator: string;
  let customer: CustomerWithSubscription;
  let directoryName: string;
  let tenantToken: string;
  let tenantSub: string;
  const admin = () => t.b.stacks.local.adminArm;
  const provider = () => `${admin()}/subscriptions/${t.b.stacks.local.providerSubscriptionId}`;

  const advance = async (duration: string) =>
    t.http.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${API}`, {
      token: await t.appToken('csp', t.b.hub.arm),
      body: { duration },
    });

  const openPages = new Set<Page>();
  async function signInOperator(): Promise<Page> {
    const page = await (await newContext(browser, PHONE_375)).newPage();
    openPages.add(page);
    page.on('close', () => openPages.delete(page));
    const problems = watchConsole(page);
    page.on('close', () => problems.length && console.log(problems.join('\n')));
    await page.goto(portal);
    await page.getByRole('radio', { name: 'Stack operator' }).check();
    await page.getByLabel('User name').fill(t.b.operator.admin.userName);
    await page.getByLabel('Password', { exact: true }).fill(t.b.operator.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
    return page;
  }

  /** At phone width the navigation is folded behind the menu button. */
  const nav = async (page: Page, label: string, heading = label) => {
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label }).click();
    await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor(WAIT);
  };

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-07-01T00:00:00Z') });
    portal = `${t.b.hub.portal}/`;
    browser = await launchBrowser();
    operator = await t.appToken('operator', admin());
    const prefix = `op${Math.random().toString(36).slice(2, 8)}`;
    customer = await customerWithSubscription(t, prefix);
    directoryName = `${prefix}.onstackledger.local`;
  });

  afterEach(async (context) => {
    for (const page of openPages) {
      await screenshot(page, SHOTS, `failed-${context.name.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {});
      await page.context().close();
    }
  });

  after(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('onboards a directory and shows its consent once a user of it is admitted', async () => {
    const page = await signInOperator();
    await page.getByRole('heading', { level: 1, name: 'Directories onboarded', exact: true }).waitFor(WAIT);
    const form = page.getByRole('form', { name: 'Onboard a directory' });
    // A directory the cloud does not know is refused with the stack's own message, and nothing is added.
    await form.getByLabel('Directory').fill('nobody.example');
    await form.getByRole('button', { name: 'Onboard' }).click();
    await form
      .getByRole('alert')
      .getByText(/InvalidDirectoryTenant/)
      .waitFor(WAIT);
    const listed = await t.http.call(
      'GET',
      `${provider()}/resourcegroups/system.local/providers/Microsoft.Subscriptions.Admin/directoryTenants?${SUBSCRIPTIONS_API}`,
      { token: operator },
    );
    assert.ok(!JSON.stringify(listed).includes('nobody.example'));
    await form.getByLabel('Directory').fill(directoryName);
    await form.getByRole('button', { name: 'Onboard' }).click();
    const directories = page.getByRole('table', { name: 'Directories' });
    const row = directories.getByRole('row').filter({ hasText: directoryName });
    await row.getByText(/not seen yet/).waitFor(WAIT);
    await row.getByText(t.b.stacks.local.applicationId).waitFor(WAIT);
    await checkPage(page, 'directories, awaiting consent');

    // The directory's administrator consents; its user is admitted on the tenant endpoint.
    const graph = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      t.b.hub.graph,
    );
    await t.http.call('POST', `${t.b.hub.graph}/v1.0/servicePrincipals`, {
      token: graph,
      body: { appId: t.b.stacks.local.applicationId },
    });
    tenantToken = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      t.b.stacks.local.tenantArm,
    );
    const offers = await t.call('GET', `${t.b.stacks.local.tenantArm}/offers?${SUBSCRIPTIONS_API}`, {
      token: tenantToken,
    });
    assert.equal(offers.status, 200, JSON.stringify(offers.body));

    await nav(page, 'Offers');
    await nav(page, 'Directories', 'Directories onboarded');
    await row.getByText(/seen 2026-07-01/).waitFor(WAIT);
    assert.equal(await row.getByText(/not seen yet/).count(), 0);
    await checkPage(page, 'directories, consented');
    await screenshot(page, SHOTS, '01-directories');
    await page.context().close();
  });

  it('creates and edits a quota, a plan of it and an offer of the plan, and makes the offer public for tenants', async () => {
    const page = await signInOperator();
    const computeQuota = `${provider()}/providers/Microsoft.Compute.Admin/locations/local/quotas/portal-compute`;
    const quota = async () =>
      (await t.http.call('GET', `${computeQuota}?api-version=2018-02-09`, { token: operator })).properties;

    await nav(page, 'Quotas');
    await checkPage(page, 'quotas');
    const create = page.getByRole('form', { name: 'Create a quota' });
    await create.getByLabel('Provider').selectOption({ label: 'Compute' });
    await create.getByLabel('Name', { exact: true }).fill('portal-compute');
    await create.getByLabel('Cores limit').fill('8');
    await create.getByRole('button', { name: 'Create quota' }).click();
    const compute = page.getByRole('table', { name: 'Compute quotas' });
    await compute.getByText('portal-compute', { exact: true }).waitFor(WAIT);
    assert.equal((await quota()).coresLimit, 8);
    assert.equal((await quota()).virtualMachineCount, 20, 'limits not given keep their defaults');

    await page.getByText('Edit portal-compute').click();
    const edit = page.getByRole('form', { name: 'Edit quota portal-compute' });
    await edit.getByLabel('Cores limit').fill('12');
    await edit.getByRole('button', { name: 'Save limits' }).click();
    await compute.getByText('Cores limit: 12').waitFor(WAIT);
    assert.equal((await quota()).coresLimit, 12);
    // A limit that is not a whole number is refused by the form itself, and changes nothing.
    await edit.getByLabel('Cores limit').fill('2.5');
    await edit.getByRole('button', { name: 'Save limits' }).click();
    assert.equal(await edit.getByLabel('Cores limit').evaluate((el) => (el as HTMLInputElement).validity.valid), false);
    assert.equal((await quota()).coresLimit, 12);
    await checkPage(page, 'quotas, editing');
    await screenshot(page, SHOTS, '02-quotas');

    await nav(page, 'Plans');
    const newPlan = page.getByRole('form', { name: 'Create a plan' });
    await newPlan.getByLabel('Name', { exact: true }).fill('portal-plan');
    await newPlan.getByLabel('Display name').fill('Portal plan');
    await newPlan.getByLabel('Compute portal-compute').check();
    await newPlan.getByRole('button', { name: 'Create plan' }).click();
    const plans = page.getByRole('table', { name: 'Plans' });
    await plans.getByText('portal-plan', { exact: true }).waitFor(WAIT);
    const planUrl = `${provider()}/resourceGroups/plans/providers/Microsoft.Subscriptions.Admin/plans/portal-plan?${SUBSCRIPTIONS_API}`;
    const plan = async () => (await t.http.call('GET', planUrl, { token: operator })).properties;
    assert.deepEqual(
      (await plan()).quotaIds.map((id: string) => id.toLowerCase()),
      [computeQuota.slice(admin().length).toLowerCase()],
    );
    await page.getByText('Edit portal-plan').click();
    const editPlan = page.getByRole('form', { name: 'Edit plan portal-plan' });
    await editPlan.getByLabel('Display name').fill('Portal plan, edited');
    await editPlan.getByRole('button', { name: 'Save plan' }).click();
    await plans.getByText('Portal plan, edited').waitFor(WAIT);
    assert.equal((await plan()).displayName, 'Portal plan, edited');
    assert.equal((await plan()).quotaIds.length, 1, 'the ticked quota stays');
    await checkPage(page, 'plans');
    await screenshot(page, SHOTS, '03-plans');

    const publicOffers = async () =>
      (
        await t.http.call('GET', `${t.b.stacks.local.tenantArm}/offers?${SUBSCRIPTIONS_API}`, { token: tenantToken })
      ).value.map((o: UndeclaredJson) => o.name);
    await nav(page, 'Offers');
    const newOffer = page.getByRole('form', { name: 'Create an offer' });
    await newOffer.getByLabel('Name', { exact: true }).fill('portal-offer');
    await newOffer.getByLabel('Display name').fill('Portal offer');
    await newOffer.getByLabel('Portal plan, edited (portal-plan)').check();
    await newOffer.getByRole('button', { name: 'Create offer' }).click();
    const offers = page.getByRole('table', { name: 'Offers' });
    await page.getByRole('button', { name: 'Make portal-offer public' }).waitFor(WAIT);
    assert.ok(!(await publicOffers()).includes('portal-offer'), 'a new offer is private');

    await page.getByRole('button', { name: 'Make portal-offer public' }).click();
    await page.getByRole('button', { name: 'Make portal-offer private' }).waitFor(WAIT);
    assert.ok((await publicOffers()).includes('portal-offer'));
    // The tenant takes it: its subscription gets the plan's compute quota and nothing else.
    tenantSub = randomUUID();
    const taken = await t.call('PUT', `${t.b.stacks.local.tenantArm}/subscriptions/${tenantSub}?${SUBSCRIPTIONS_API}`, {
      token: tenantToken,
      body: { displayName: 'Portal offer subscription', offerId: '/delegatedProviders/default/offers/portal-offer' },
    });
    assert.equal(taken.status, 201, JSON.stringify(taken.body));
    await page.getByRole('button', { name: 'Make portal-offer private' }).click();
    await page.getByRole('button', { name: 'Make portal-offer public' }).waitFor(WAIT);
    assert.ok(!(await publicOffers()).includes('portal-offer'));
    await offers.getByText('Portal offer').waitFor(WAIT);
    await checkPage(page, 'offers');
    await screenshot(page, SHOTS, '04-offers');
    await page.context().close();
  });

  it("retries one record the hub refused and drops another with a reason, from the bridge's quarantine", async () => {
    const stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await stackDb.connect();
    try {
      await advance('PT3H');
      // Records with no resource URI, as a broken deployment may hold them: the hub refuses them.
      const poison = [randomUUID(), randomUUID()];
      for (const resourceId of poison)
        await stackDb.query(
          `insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
           values ($1, $2, '2026-07-01T03:00:00Z', 1, 1.25, $3, $4, '', 'local', '{}', '2026-07-01T04:00:00Z')`,
          [resourceId, BASE_METER, tenantSub, customer.customerId],
        );
      await advance('PT1H');
      const bridge = `${admin()}/providers/Stackledger.System/bridge`;
      const quarantine = async () =>
        (await t.http.call('GET', `${bridge}/quarantine?${API}`, { token: operator })).value as UndeclaredJson[];
      const entries = await quarantine();
      const [fixed, dropped] = poison.map((id) => entries.find((e) => e.resourceId === id));
      assert.ok(fixed && dropped, JSON.stringify(entries));

      const page = await signInOperator();
      await nav(page, 'Bridge', 'Usage bridge');
      const held = page.getByRole('table', { name: 'Quarantined records' });
      await held.getByText('InvalidRequestContent').first().waitFor(WAIT);
      assert.equal(await held.getByText('InvalidRequestContent').count(), 2);
      await checkPage(page, 'bridge with two held records');
      await screenshot(page, SHOTS, '05-bridge-quarantine');

      await stackDb.query(`update usage_records set resource_uri = $2 where resource_id = $1`, [
        fixed.resourceId,
        `/subscriptions/${tenantSub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/fixed`,
      ]);
      await page.getByRole('button', { name: `Retry record ${fixed.id}` }).click();
      await page.getByRole('button', { name: `Retry record ${fixed.id}` }).waitFor({ state: 'detached', ...WAIT });
      // A drop needs a reason: the browser refuses an empty one, and nothing changes.
      const drop = page.getByRole('form', { name: `Drop record ${dropped.id}` });
      await drop.getByRole('button', { name: 'Drop' }).click();
      assert.equal((await quarantine()).find((e) => e.id === dropped.id)?.state, 'held');
      await drop.getByLabel('Reason').fill('test meter, never billable');
      await drop.getByRole('button', { name: 'Drop' }).click();
      await held.getByText(/test meter, never billable/).waitFor(WAIT);
      await page.getByTestId('bridge-quarantined').getByText('0 held, 1 dropped').waitFor(WAIT);
      await checkPage(page, 'bridge after retry and drop');

      const after = await quarantine();
      assert.equal(after.find((e) => e.id === fixed.id)?.state, 'released');
      const gone = after.find((e) => e.id === dropped.id);
      assert.equal(gone?.state, 'dropped');
      assert.equal(gone?.dropped.reason, 'test meter, never billable');
      assert.ok(gone?.dropped.by, 'who dropped it is recorded');
      await page.context().close();
    } finally {
      await stackDb.end();
    }
  });
});
