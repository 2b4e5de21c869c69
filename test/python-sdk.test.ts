// The official Python SDKs as Debian packages them (`python3-azure`, which `azure-cli` depends on:
// azure-identity 1.13, azure-mgmt-azurestack 2.0.0b1, azure-mgmt-commerce 6.0.0, azure-mgmt-resource
// 22.0.0), driven as child processes (test/sdk/python/*.py) the way the vendor documents them for an
// AD FS deployment of Azure Stack Hub: the cloud read from the metadata endpoint,
// ClientSecretCredential with the tenant `adfs` and the login endpoint without `/adfs` as authority,
// no instance-discovery switch, our CA added to the system's in REQUESTS_CA_BUNDLE.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';
import { REPO } from './helpers/repo.ts';

const run = promisify(execFile);
// Debian's interpreter: the packaged SDKs live in its dist-packages, not in another Python's.
const PYTHON = process.env.PYTHON_SDK_INTERPRETER ?? '/usr/bin/python3';
const MODULES = 'azure.identity, azure.mgmt.azurestack, azure.mgmt.commerce, azure.mgmt.resource, msrestazure';
const SYSTEM_CAS = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];
const SCRIPTS = path.join(REPO, 'test', 'sdk', 'python');
const V = 'api-version=2026-11-01';
const BASE_VM = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';

describe('the official Python SDKs (Debian python3-azure)', () => {
  let t: TestSystem;
  let bundle: string;
  let customer: CustomerWithSubscription;

  /** Runs one script as a service principal against one Resource Manager endpoint; its JSON output. */
  const python = async (
    script: string,
    arm: string,
    principal: { clientId: string; clientSecret: string },
    input: Record<string, unknown>,
  ) => {
    try {
      const { stdout } = await run(PYTHON, [path.join(SCRIPTS, script)], {
        env: {
          PATH: process.env.PATH,
          HOME: t.dataDir,
          PYTHONDONTWRITEBYTECODE: '1',
          REQUESTS_CA_BUNDLE: bundle,
          STACKLEDGER_ARM: arm,
          AZURE_CLIENT_ID: principal.clientId,
          AZURE_CLIENT_SECRET: principal.clientSecret,
          STACKLEDGER_INPUT: JSON.stringify(input),
        },
        timeout: 120_000,
      });
      return JSON.parse(stdout);
    } catch (e) {
      const failed = e as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${script}: ${failed.message}\n${failed.stderr ?? ''}${failed.stdout ?? ''}`);
    }
  };

  before(async () => {
    try {
      await run(PYTHON, ['-c', `import ${MODULES}`]);
    } catch {
      throw new Error(
        `${PYTHON} cannot import ${MODULES}: install Debian's python3-azure (it comes with azure-cli) or set PYTHON_SDK_INTERPRETER.`,
      );
    }
    t = await startTestSystem({ clock: new Date('2026-01-01T00:00:00Z') });
    const system = SYSTEM_CAS.find((f) => existsSync(f));
    bundle = path.join(t.dataDir, 'ca-bundle.pem');
    await writeFile(bundle, [system ? readFileSync(system, 'utf8') : '', readFileSync(t.b.caFile!, 'utf8')].join('\n'));
    customer = await customerWithSubscription(t, 'pysdk');
  });
  after(async () => t?.stop());

  it("registers a customer subscription (the seed's step 4) and reads its usage aggregates on the hub", async () => {
    const csp = await t.appToken('csp', t.b.hub.arm);
    // Usage is reported once it has happened: the clock first passes it.
    await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
      token: csp,
      body: { to: '2026-01-10T09:00:00Z' },
    });
    const event = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?${V}`, {
      token: csp,
      body: [
        {
          specversion: '1.0',
          id: randomUUID(),
          source: 'urn:python-sdk-test',
          type: 'usage',
          subject: customer.subscriptionId,
          time: '2026-01-10T08:00:00Z',
          data: { meterId: BASE_VM, quantity: '250', resourceUri: '/vm/python' },
        },
      ],
    });
    assert.equal(event.status, 200, JSON.stringify(event.body));
    // Aggregates are by the hour usage was reported (received, here at 09:00), and only up to now.
    await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
      token: csp,
      body: { to: '2026-01-10T10:00:00Z' },
    });

    const seen = await python('hub.py', t.b.hub.arm, t.b.csp, {
      registrationSubscriptionId: t.b.csp.registrationSubscriptionId,
      resourceGroup: t.b.csp.resourceGroup,
      registrationName: t.b.csp.registrationName,
      customerSubscriptionId: customer.subscriptionId,
      customerTenantId: customer.customerId,
      usageFrom: '2026-01-10T00:00:00+00:00',
      usageTo: '2026-01-10T10:00:00+00:00',
    });
    assert.match(seen.authority, /\/adfs$/, 'the metadata names the AD FS-style authority');
    // A nested resource's name, as ARM gives it: the registration's, then the customer subscription's.
    const name = `${t.b.csp.registrationName}/${customer.subscriptionId}`;
    assert.deepEqual(seen.created, {
      name,
      tenantId: customer.customerId,
      type: 'Microsoft.AzureStack/registrations/customerSubscriptions',
    });
    assert.deepEqual(seen.listed, [name]);
    assert.equal(seen.got, customer.customerId);
    assert.equal(seen.unknown.status, 404);
    assert.deepEqual(seen.usage, [{ meterId: BASE_VM, quantity: 250, start: '2026-01-10T08:00:00+00:00' }]);

    // What the SDK did is what the hub holds.
    const link = await t.call(
      'GET',
      `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/${t.b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${t.b.csp.registrationName}/customerSubscriptions/${customer.subscriptionId}?api-version=2017-06-01`,
      { token: csp },
    );
    assert.equal(link.status, 200);
    assert.equal(link.body.properties.tenantId, customer.customerId);
  });

  it("manages resource groups and lists providers and resources on the stack's tenant endpoint (2020-09-01-hybrid)", async () => {
    const tenantArm = t.b.stacks.local.tenantArm;
    const { user, sub } = await tenantSubscription(t, customer, 'python');
    const ip = await t.call(
      'PUT',
      `${tenantArm}/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip01?api-version=2018-11-01`,
      { token: user, body: { location: 'local' } },
    );
    assert.equal(ip.status, 201, JSON.stringify(ip.body));

    // The customer's administrator registers an application, makes its service principal (Graph:
    // a separate object) and gives that principal Contributor on the tenant subscription.
    const graph = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      t.b.hub.graph,
    );
    const app = await t.http.call('POST', `${t.b.hub.graph}/v1.0/applications`, {
      token: graph,
      body: { displayName: 'python automation' },
    });
    const sp = await t.http.call('POST', `${t.b.hub.graph}/v1.0/servicePrincipals`, {
      token: graph,
      body: { appId: app.appId },
    });
    const secret = await t.http.call('POST', `${t.b.hub.graph}/v1.0/applications/${app.id}/addPassword`, {
      token: graph,
      body: {},
    });
    const assigned = await t.call(
      'PUT',
      `${tenantArm}/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`,
      {
        token: user,
        body: {
          properties: {
            roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${CONTRIBUTOR}`,
            principalId: sp.id,
            // A wrong claim: the stack records what the directory says.
            principalType: 'User',
          },
        },
      },
    );
    assert.equal(assigned.status, 201, JSON.stringify(assigned.body));
    assert.equal(assigned.body.properties.principalType, 'ServicePrincipal');

    const seen = await python(
      'stack.py',
      tenantArm,
      { clientId: app.appId, clientSecret: secret.secretText },
      { subscriptionId: sub, location: 'local', otherSubscriptionId: t.b.stacks.local.providerSubscriptionId },
    );
    assert.match(seen.operations, /v2019_10_01/, 'the hybrid profile picks Resource Manager 2019-10-01');
    assert.deepEqual(seen.created, { name: 'python-rg', location: 'local', state: 'Succeeded' });
    assert.deepEqual(seen.groups, ['python-rg', 'rg']);
    assert.equal(seen.exists, true);
    for (const ns of ['Microsoft.Compute', 'Microsoft.Network', 'Microsoft.Storage'])
      assert.ok(seen.providers.includes(ns), ns);
    assert.equal(seen.compute.registrationState, 'Registered');
    assert.ok(seen.compute.types.includes('virtualMachines'));
    assert.deepEqual(seen.resources, [
      [
        'ip01',
        'Microsoft.Network/publicIPAddresses',
        `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip01`,
      ],
    ]);
    assert.deepEqual(seen.filtered, ['ip01']);
    assert.deepEqual(seen.inGroup, []);
    assert.deepEqual(seen.otherSubscription, { status: 403, code: 'AuthorizationFailed' });

    // The group the SDK made is on the stack, made by that principal.
    const group = await t.call(
      'GET',
      `${tenantArm}/subscriptions/${sub}/resourcegroups/python-rg?api-version=2019-10-01`,
      {
        token: user,
      },
    );
    assert.equal(group.status, 200);
  });
});
