// Every step of the seed's flow through the real `stackledger` commands (child processes), against a
// running hub and stack `local` on a simulated clock: tables for people, JSON for scripts, and the
// server's error codes with a non-zero exit on failure.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { armList, connect, saveCustomer, savedCustomers, type Identity } from '../src/cli/client.ts';
import { createCustomer } from '../src/cli/partner.ts';
import { cli, cliJson } from './helpers/cli.ts';
import { AZURE_POWERSHELL, startTestSystem, type TestSystem } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('stackledger commands for the seed flow', () => {
  let t: TestSystem;
  let data: string[];
  const state: { customerId?: string; subscriptionId?: string; stackSubscriptionId?: string; guestId?: string } = {};

  /** The customer's administrator, in its subscription on stack `local` (once it is taken). */
  const inTenantSubscription = () => [
    '--stack',
    'local',
    '--customer',
    'clia',
    '--subscription',
    state.stackSubscriptionId!,
  ];

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-01-01T00:00:00Z') });
    data = ['--data', t.dataDir];
  });
  after(async () => {
    await t?.stop();
  });

  it("creates a customer, prints it as a table, keeps its administrator for later steps, and refuses a taken domain with the server's code", async () => {
    const human = await cli(['customers', 'create', '--domain', 'clia', '--company', 'Clia Ltd', ...data]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /clia\.onstackledger\.local/);
    assert.match(human.stdout, /admin@clia\.onstackledger\.local/);
    assert.match(human.stdout, /password \(shown once\)/);
    const saved = JSON.parse(readFileSync(path.join(t.dataDir, 'customers.json'), 'utf8'));
    assert.equal(saved.length, 1);
    assert.equal(saved[0].domain, 'clia.onstackledger.local');
    assert.equal(statSync(path.join(t.dataDir, 'customers.json')).mode & 0o077, 0, 'readable by its owner only');
    state.customerId = saved[0].id;

    const taken = await cli(['customers', 'create', '--domain', 'clia', ...data]);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /DomainAlreadyExists/);
    assert.match(taken.stderr, /clia\.onstackledger\.local/);

    const list = await cliJson(['customers', 'list', ...data]);
    assert.deepEqual(
      list.map((c: { domain: unknown }) => c.domain),
      ['clia.onstackledger.local'],
    );
    const shown = await cliJson(['customers', 'show', 'clia', ...data]);
    assert.equal(shown.id, state.customerId);
    assert.equal(shown.companyProfile.companyName, 'Clia Ltd');
  });

  it('sells the customer a CSP subscription, suspends and reactivates it', async () => {
    const sub = await cliJson(['subscriptions', 'create', '--customer', 'clia', ...data]);
    assert.match(sub.id, GUID);
    assert.equal(sub.offerId, 'MS-AZR-0145P');
    assert.equal(sub.status, 'active');
    state.subscriptionId = sub.id;
    assert.equal(
      (await cliJson(['subscriptions', 'suspend', sub.id, '--customer', 'clia', ...data])).status,
      'suspended',
    );
    assert.equal(
      (await cliJson(['subscriptions', 'activate', sub.id, '--customer', state.customerId!, ...data])).status,
      'active',
    );
    const list = await cli(['subscriptions', 'list', '--customer', 'clia', ...data]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${sub.id}.*MS-AZR-0145P.*active`));
    const unknown = await cli(['subscriptions', 'list', '--customer', 'nobody', ...data]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No customer 'nobody'/);
  });

  it("registers the customer subscription with the deployment's registration, and shows the vendor's error for the wrong one", async () => {
    const link = await cliJson([
      'customer-subscriptions',
      'add',
      '--stack',
      'local',
      '--subscription',
      state.subscriptionId!,
      ...data,
    ]);
    assert.equal(link.subscriptionId, state.subscriptionId);
    assert.equal(link.tenantId, state.customerId);
    assert.equal(link.registration, t.b.csp.registrationName);
    const list = await cliJson(['customer-subscriptions', 'list', '--stack', 'local', ...data]);
    assert.deepEqual(
      list.map((l: { subscriptionId: unknown }) => l.subscriptionId),
      [state.subscriptionId],
    );
    const own = await cli([
      'customer-subscriptions',
      'add',
      '--stack',
      'local',
      '--subscription',
      t.b.csp.registrationSubscriptionId,
      ...data,
    ]);
    assert.equal(own.code, 1);
    assert.match(own.stderr, /InvalidCSPSubscription/);
    const registrations = await cliJson(['registrations', 'list', ...data]);
    assert.deepEqual(
      registrations.map((r: { name: unknown; cloudId: unknown }) => [r.name, r.cloudId]),
      [[t.b.csp.registrationName, t.b.stacks.local.cloudId]],
    );
    const nowhere = await cli(['customer-subscriptions', 'list', '--stack', 'nowhere', ...data]);
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.stderr, /No stack 'nowhere'.*'local'/);
  });

  it("onboards the customer's directory to the stack, which it consents to; then the tenant takes an offer", async () => {
    const before = await cli(['offers', '--stack', 'local', '--customer', 'clia', ...data]);
    assert.equal(before.code, 1);
    assert.match(before.stderr, /DirectoryTenantNotOnboarded/);
    const onboarded = await cliJson(['directories', 'onboard', '--stack', 'local', '--customer', 'clia', ...data]);
    assert.equal(onboarded.tenantId, state.customerId);
    const unconsented = await cli(['offers', '--stack', 'local', '--customer', 'clia', ...data]);
    assert.equal(unconsented.code, 1);
    assert.match(unconsented.stderr, /DirectoryTenantConsentMissing/);
    assert.equal(
      (await cliJson(['directories', 'consent', '--stack', 'local', '--customer', 'clia', ...data])).alreadyThere,
      false,
    );
    const directories = await cliJson(['directories', 'list', '--stack', 'local', ...data]);
    assert.ok(directories.some((d: { tenantId: unknown }) => d.tenantId === state.customerId));

    const offers = await cliJson(['offers', '--stack', 'local', '--customer', 'clia', ...data]);
    assert.ok(offers.some((o: { name: unknown }) => o.name === 'base-offer'));
    const sub = await cliJson([
      'tenant-subscriptions',
      'create',
      '--stack',
      'local',
      '--customer',
      'clia',
      '--name',
      'Clia production',
      ...data,
    ]);
    assert.equal(sub.tenantId, state.customerId);
    assert.equal(sub.displayName, 'Clia production');
    state.stackSubscriptionId = sub.subscriptionId;
    const mine = await cliJson(['tenant-subscriptions', 'list', '--stack', 'local', '--customer', 'clia', ...data]);
    assert.deepEqual(
      mine.map((s: { subscriptionId: unknown }) => s.subscriptionId),
      [sub.subscriptionId],
    );
  });

  it("makes the CSP a guest of the customer's directory and Owner of the customer's stack subscription", async () => {
    const invitation = await cliJson(['invitations', 'create', '--customer', 'clia', ...data]);
    assert.equal(invitation.invitedUserEmailAddress, t.b.csp.admin.userName);
    assert.equal(invitation.status, 'PendingAcceptance');
    state.guestId = invitation.guestId;
    assert.equal((await cliJson(['invitations', 'accept', '--customer', 'clia', ...data])).tenantId, state.customerId);
    const users = await cliJson(['users', 'list', '--customer', 'clia', ...data]);
    const guest = users.find((u: { id: unknown }) => u.id === state.guestId);
    assert.equal(guest.userType, 'Guest');
    assert.equal(guest.externalUserState, 'Accepted');

    // As the guest, before the role and after it.
    const asGuest = [
      'vms',
      'list',
      '--stack',
      'local',
      '--customer',
      'clia',
      '--as',
      'csp-admin',
      '--subscription',
      state.stackSubscriptionId!,
      ...data,
    ];
    const denied = await cli(asGuest);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /AuthorizationFailed/);
    const role = await cliJson([
      'role-assignments',
      'create',
      ...inTenantSubscription(),
      '--principal',
      state.guestId!,
      ...data,
    ]);
    assert.equal(role.role, 'Owner');
    assert.equal(role.principalId, state.guestId);
    assert.equal(role.scope, `/subscriptions/${state.stackSubscriptionId}`);
    assert.deepEqual(await cliJson(asGuest), []);
    const roles = await cliJson(['role-assignments', 'list', ...inTenantSubscription(), ...data]);
    assert.ok(
      roles.some((r: { principalId: unknown; role: unknown }) => r.principalId === state.guestId && r.role === 'Owner'),
    );
    const badRole = await cli([
      'role-assignments',
      'create',
      '--subscription',
      state.subscriptionId!,
      '--principal',
      state.guestId!,
      '--role',
      'Janitor',
      ...data,
    ]);
    assert.equal(badRole.code, 1);
    assert.match(badRole.stderr, /Allowed choices are Owner, Contributor, Reader/);
  });

  it('creates a VM as the tenant, moves the clock a day, and shows the same usage on the stack and on the hub', async () => {
    const vm = await cliJson([
      'vms',
      'create',
      ...inTenantSubscription(),
      '--name',
      'web',
      '--size',
      'Standard_A2_v2',
      ...data,
    ]);
    assert.equal(vm.size, 'Standard_A2_v2');
    assert.equal(vm.osType, 'Linux');
    const table = await cli(['vms', 'list', ...inTenantSubscription(), ...data]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /│ web +│ rg +│ local +│ Standard_A2_v2 +│ Linux/);
    const badImage = await cli([
      'vms',
      'create',
      ...inTenantSubscription(),
      '--name',
      'x',
      '--image',
      'Plan9',
      ...data,
    ]);
    assert.equal(badImage.code, 2);
    assert.match(badImage.stderr, /'Plan9' is not an image/);

    const moved = await cliJson(['clock', 'advance', 'P1DT1H', ...data]);
    assert.deepEqual(moved, { from: '2026-01-01T00:00:00.000Z', now: '2026-01-02T01:00:00.000Z' });

    // The hours of January 1st, reported before 01:00 on the 2nd: 24 hours of 2 vCPUs.
    const window = ['--granularity', 'Hourly', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T01:00:00Z'];
    const baseOf = (lines: { meterId: string; quantity: number }[]) =>
      lines.filter((l) => l.meterId === BASE).reduce((n, l) => n + l.quantity, 0);
    const tenantView = await cliJson(['usage', 'stack', ...inTenantSubscription(), ...window, ...data]);
    assert.equal(baseOf(tenantView), 2 * 24);
    const operatorView = await cliJson(['usage', 'stack', '--stack', 'local', ...window, ...data]);
    assert.equal(
      baseOf(operatorView.filter((l: { resource: string }) => l.resource.includes(state.stackSubscriptionId!))),
      2 * 24,
    );
    const hubView = await cliJson(['usage', 'show', '--subscription', state.subscriptionId!, ...window, ...data]);
    assert.equal(baseOf(hubView), 2 * 24);
    const summary = await cliJson([
      'usage',
      'summary',
      '--subscription',
      state.subscriptionId!,
      '--period',
      '2026-01',
      ...data,
    ]);
    assert.deepEqual(
      summary
        .filter((s: { meterId: unknown; stack: unknown; quantity: unknown }) => s.meterId === BASE)
        .map((s: { stack: unknown; quantity: unknown }) => [s.stack, s.quantity]),
      [['local', 2 * 24]],
    );
    assert.deepEqual(
      await cliJson([
        'usage',
        'summary',
        '--subscription',
        t.b.csp.registrationSubscriptionId,
        '--period',
        '2026-01',
        ...data,
      ]),
      [],
      'nothing unregistered ran',
    );
    const badPeriod = await cli([
      'usage',
      'summary',
      '--subscription',
      state.subscriptionId!,
      '--period',
      '2026-13',
      ...data,
    ]);
    assert.equal(badPeriod.code, 2);
    assert.match(badPeriod.stderr, /'2026-13' is not a period/);
  });

  it('reports the status of the hub and the stack, and proves the ledger', async () => {
    const status = await cliJson(['status', ...data]);
    assert.equal(status.hub.health, 'ok');
    assert.equal(status.hub.now, '2026-01-02T01:00:00.000Z');
    assert.equal(status.hub.simulated, true);
    assert.deepEqual(
      status.stacks.map((s: { name: unknown; health: unknown; lastClosedHour: unknown; outbox: unknown }) => [
        s.name,
        s.health,
        s.lastClosedHour,
        s.outbox,
      ]),
      [['local', 'ok', '2026-01-02T00:00:00.000Z', 0]],
    );
    const human = await cli(['status', ...data]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /clock 2026-01-02T01:00:00.000Z \(simulated\)/);
    const ledger = await cliJson(['usage', 'verify', ...data]);
    assert.equal(ledger.balanced, true);
  });

  it('says what is missing: credentials of a customer made elsewhere, a password, a stack, a running system', async () => {
    const pc = t.b.hub.partnerCenter;
    const elsewhere = await t.http.call('POST', `${pc}/v1/customers`, {
      token: await t.appToken('csp', pc),
      body: { companyProfile: { domain: 'clib' } },
    });
    const noCredentials = await cli(['invitations', 'create', '--customer', elsewhere.id, ...data]);
    assert.equal(noCredentials.code, 2);
    assert.match(noCredentials.stderr, /No saved credentials for clib\.onstackledger\.local's first administrator/);
    // With the administrator's credentials given, the same step works.
    const withUser = await cli(
      ['invitations', 'create', '--customer', 'clib', '--user', elsewhere.userCredentials.userName, '--json', ...data],
      { STACKLEDGER_PASSWORD: elsewhere.userCredentials.password },
    );
    assert.equal(withUser.code, 0, withUser.stderr);
    const wrongPassword = await cli([
      'invitations',
      'create',
      '--customer',
      'clib',
      '--user',
      elsewhere.userCredentials.userName,
      '--password',
      'wrong',
      ...data,
    ]);
    assert.equal(wrongPassword.code, 1);
    assert.match(wrongPassword.stderr, /invalid_grant/);
    const noPassword = await cli(
      ['users', 'list', '--customer', 'clib', '--user', 'someone@clib.onstackledger.local', ...data],
      { STACKLEDGER_PASSWORD: undefined },
    );
    assert.equal(noPassword.code, 2);
    assert.match(noPassword.stderr, /--user needs --password/);
    const missing = await cli(['customers', 'list', '--data', path.join(t.dataDir, 'nothing')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /bootstrap\.json is missing/);
  });

  it('has --help on every command', async () => {
    const groups = [
      'customers',
      'subscriptions',
      'invitations',
      'users',
      'role-assignments',
      'registrations',
      'customer-subscriptions',
      'directories',
      'offers',
      'tenant-subscriptions',
      'vms',
      'usage',
      'clock',
      'status',
      'demo',
    ];
    const [top, vms, create] = await Promise.all([
      cli(['--help']),
      cli(['vms', '--help']),
      cli(['vms', 'create', '--help']),
    ]);
    for (const r of [top, vms, create]) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: stackledger/);
    }
    for (const g of groups) assert.match(top.stdout, new RegExp(`\\n  ${g} `), g);
    for (const action of ['create', 'list', 'start', 'stop', 'deallocate', 'delete'])
      assert.match(vms.stdout, new RegExp(`\\n  ${action} `), action);
    assert.match(create.stdout, /--size <size>/);
    assert.match(create.stdout, /--json/);
    const unknown = await cli(['customers', 'frobnicate']);
    assert.notEqual(unknown.code, 0);
  });

  it("signs a user in once and takes its other resources' tokens with the refresh token, as Azure's clients do", async () => {
    const c = await connect(t.dataDir);
    try {
      const customer = await createCustomer(c, { domain: 'clirefresh', companyName: 'Refresh Ltd' });
      const admin: Identity = { kind: 'user', name: 'admin', tenantId: customer.id, ...customer.admin };
      const audience = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).aud;
      assert.equal(audience(await c.tokenAs(admin, t.b.hub.arm)), t.b.hub.arm);
      // Wrong passwords lock the account: a password grant is refused from now on.
      const url = `${t.b.hub.login}/${customer.id}/oauth2/token`;
      const passwordGrant = (password: string) =>
        t.call('POST', url, {
          form: {
            grant_type: 'password',
            client_id: AZURE_POWERSHELL,
            username: customer.admin.userName,
            password,
            resource: t.b.hub.arm,
          },
        });
      for (let i = 0; i < 10; i++) await passwordGrant('not-the-password');
      const locked = await passwordGrant(customer.admin.password);
      assert.equal(locked.status, 400);
      assert.match(JSON.stringify(locked.body), /AADSTS50053/);
      // The connection that signed in still gets a token for another resource: it did not send the password again.
      const stack = c.stack('local').tenantArm;
      assert.equal(audience(await c.tokenAs(admin, stack)), stack);
      // A connection without the refresh token has only the password, which the locked account refuses.
      const fresh = await connect(t.dataDir);
      try {
        await assert.rejects(fresh.tokenAs(admin, stack), /AADSTS50053/);
      } finally {
        await fresh.close();
      }
    } finally {
      await c.close();
    }
  });

  it("follows a list's nextLink to its last page, as the CLI's lists do (armList)", async () => {
    // The CSP's administrator is a guest of the customers' directories made above: /tenants a
    // directory a page is a walk of several pages, which must give what one page of all gives.
    const c = await connect(t.dataDir);
    try {
      const csp: Identity = { kind: 'user', name: 'admin', tenantId: t.b.csp.tenantId, ...t.b.csp.admin };
      const token = await c.tokenAs(csp, t.b.hub.arm);
      const url = `${t.b.hub.arm}/tenants?api-version=2022-12-01`;
      const whole = await t.call<{ value: { tenantId: string }[]; nextLink?: string }>('GET', url, { token });
      assert.equal(whole.body.nextLink, undefined);
      assert.ok(whole.body.value.length >= 2, 'a home directory and a guest one at least');
      const walked = await armList<{ tenantId: string }>(c, `${url}&$top=1`, token);
      assert.deepEqual(
        walked.map((x) => x.tenantId),
        whole.body.value.map((x) => x.tenantId),
      );
    } finally {
      await c.close();
    }
  });

  it('keeps every customer saved side by side, and a reader never finds a file half written', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'stackledger-saved-'));
    try {
      const customers = Array.from({ length: 20 }, (_, i) => ({
        id: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
        domain: `c${i}.onstackledger.local`,
        companyName: `C${i}`,
        admin: { userName: `admin@c${i}.onstackledger.local`, password: 'p' },
      }));
      const reads: Promise<unknown>[] = [];
      await Promise.all(
        customers.map(async (c) => {
          await saveCustomer(dir, c);
          reads.push(savedCustomers(dir));
        }),
      );
      await Promise.all(reads);
      assert.deepEqual((await savedCustomers(dir)).map((c) => c.id).sort(), customers.map((c) => c.id).sort());
      assert.deepEqual(readdirSync(dir), ['customers.json'], 'no file left beside it');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
