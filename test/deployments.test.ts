// Template deployments on the stack's tenant endpoint, over real HTTPS: a quick-start style template
// deploys its resources through the stack's own routes, in order; operations, outputs and the
// long-running operation read as ARM's; bad templates and failing resources fail in ARM's shape and
// change nothing they should not; a deployment cut off by a stop is Failed after the restart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { newGuid } from '../src/core/ids.ts';
import { withDatabase } from '../src/db/database.ts';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { dropDatabases, startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';
import { REPO } from './helpers/repo.ts';

const API = 'api-version=2019-10-01';
const fixture = (name: string) =>
  JSON.parse(readFileSync(path.join(REPO, 'test', 'fixtures', name), 'utf8')) as Record<string, unknown>;
const PASSWORD = 'Deploy-P@ssw0rd-7391';

/** A deployment operation as ARM lists it. */
interface Operation {
  operationId: string;
  properties: {
    provisioningState: string;
    provisioningOperation: string;
    statusCode: string;
    statusMessage?: { status: string; error: { code: string } };
    targetResource: { id: string; resourceType: string; resourceName: string };
  };
}

const storage = (name: string, dependsOn: string[] = []) => ({
  type: 'Microsoft.Storage/storageAccounts',
  apiVersion: '2019-06-01',
  name,
  location: '[resourceGroup().location]',
  sku: { name: 'Standard_LRS' },
  kind: 'Storage',
  dependsOn,
});
const vm = (name: string, size: string, dependsOn: string[] = []) => ({
  type: 'Microsoft.Compute/virtualMachines',
  apiVersion: '2020-06-01',
  name,
  location: '[resourceGroup().location]',
  dependsOn,
  properties: {
    hardwareProfile: { vmSize: size },
    storageProfile: {
      imageReference: { publisher: 'Canonical', offer: 'UbuntuServer', sku: '18.04-LTS', version: 'latest' },
    },
  },
});

describe('template deployments on the tenant endpoint', () => {
  let t: TestSystem;
  let user: string;
  let sub: string;
  let stackDb: pg.Client;
  const group = () => `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resourcegroups/rg`;
  const deployment = (name: string, suffix = '') =>
    `${group()}/providers/Microsoft.Resources/deployments/${name}${suffix}?${API}`;
  const put = (name: string, template: unknown, parameters: unknown = {}, token = user, mode = 'Incremental') =>
    t.call('PUT', deployment(name), { token, body: { properties: { template, parameters, mode } } });
  const liveResources = async () =>
    (
      await stackDb.query(
        'select type, name from resources where subscription_id = $1 and deleted_at is null order by type, name',
        [sub],
      )
    ).rows.map((r) => `${r.type}/${r.name}`);

  /** Polls the Azure-AsyncOperation URL, as the SDKs do, until the run ends. */
  const settle = async (statusUrl: string) => {
    for (let i = 0; i < 200; i++) {
      const status = await t.call('GET', statusUrl, { token: user });
      assert.equal(status.status, 200, JSON.stringify(status.body));
      if (!['Accepted', 'Running'].includes(status.body.status)) return status.body;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the deployment did not finish');
  };

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-05-01T00:00:00Z') });
    const customer = await customerWithSubscription(t, 'deployer');
    ({ user, sub } = await tenantSubscription(t, customer, 'templates'));
    stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await stackDb.connect();
  });
  after(async () => {
    await stackDb.end();
    await t.stop();
  });

  it('validates a template without deploying anything', async () => {
    const res = await t.call('POST', deployment('quick', '/validate'), {
      token: user,
      body: {
        properties: {
          template: fixture('101-vm-storage.json'),
          parameters: { adminPassword: { value: PASSWORD }, vmCount: { value: 2 } },
          mode: 'Incremental',
        },
      },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.properties.provisioningState, 'Succeeded');
    assert.equal(res.body.properties.validatedResources.length, 3);
    assert.deepEqual(res.body.properties.parameters.adminPassword, { type: 'SecureString' });
    assert.deepEqual(await liveResources(), []);
    assert.equal((await t.call('GET', deployment('quick'), { token: user })).status, 404);
  });

  it('deploys the quick-start template in dependency order, with operations, outputs and the LRO headers', async () => {
    const res = await put('quick', fixture('101-vm-storage.json'), {
      adminPassword: { value: PASSWORD },
      vmCount: { value: 2 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.properties.provisioningState, 'Accepted');
    assert.equal(res.body.type, 'Microsoft.Resources/deployments');
    const statusUrl = String(res.headers['azure-asyncoperation']);
    assert.match(
      statusUrl,
      /\/providers\/Microsoft\.Resources\/deployments\/quick\/operationStatuses\/[0-9a-f-]{36}\?api-version=2019-10-01$/,
    );
    assert.deepEqual(await settle(statusUrl), { status: 'Succeeded' });

    const got = await t.call('GET', deployment('quick'), { token: user });
    assert.equal(got.status, 200);
    const p = got.body.properties;
    assert.equal(p.provisioningState, 'Succeeded');
    assert.equal(p.mode, 'Incremental');
    assert.match(p.templateHash, /^\d+$/);
    assert.match(p.duration, /^PT[\d.]+S$/);
    assert.ok(p.correlationId);
    assert.deepEqual(p.parameters.adminPassword, { type: 'SecureString' }, 'a secure value is never shown');
    assert.deepEqual(p.parameters.vmCount, { type: 'Int', value: 2 });
    assert.deepEqual(p.parameters.vmSize, { type: 'String', value: 'Standard_A1_v2' });
    const account = `${p.outputs.storageAccountId.value}`.split('/').pop();
    assert.match(String(account), /^[a-z2-7]{13}salinuxvm$/);
    assert.deepEqual(p.outputs.firstVmSize, { type: 'String', value: 'Standard_A1_v2' });
    assert.deepEqual(p.outputs.dataDiskCount, { type: 'Int', value: 2 });
    assert.equal(p.outputResources.length, 3);

    // The resources exist, as the stack's own routes made them (the VM's tag names the deployment).
    // The VMs' empty data disks are managed disks of their own (two each), as Azure makes them.
    const all = await liveResources();
    assert.deepEqual(
      all.filter((r) => r.startsWith('Microsoft.Compute/disks/')).map((r) => r.replace(/_[0-9a-f]{32}$/, '')),
      [0, 1].flatMap((vm) => [0, 1].map((lun) => `Microsoft.Compute/disks/vm-1804-lts-${vm}_DataDisk_${lun}`)),
    );
    assert.deepEqual(
      all.filter((r) => !r.startsWith('Microsoft.Compute/disks/')),
      [
        'Microsoft.Compute/virtualMachines/vm-1804-lts-0',
        'Microsoft.Compute/virtualMachines/vm-1804-lts-1',
        `Microsoft.Storage/storageAccounts/${account}`,
      ],
    );
    const vm0 = await t.call(
      'GET',
      `${group()}/providers/Microsoft.Compute/virtualMachines/vm-1804-lts-0?api-version=2020-06-01`,
      { token: user },
    );
    assert.equal(vm0.status, 200);
    assert.equal(vm0.body.tags.deployedBy, 'quick');
    assert.equal(vm0.body.properties.osProfile.computerName, 'vm-1804-lts0');

    const ops = await t.call('GET', deployment('quick', '/operations'), { token: user });
    assert.equal(ops.status, 200);
    const targets = ops.body.value.map((o: Operation) => o.properties.targetResource.resourceName);
    assert.deepEqual(
      targets,
      [account, 'vm-1804-lts-0', 'vm-1804-lts-1'],
      'the storage account first: the VMs depend on it',
    );
    for (const o of ops.body.value) {
      assert.equal(o.properties.provisioningState, 'Succeeded');
      // The Storage RP answers a create with 200 (done), the Compute RP with 201.
      const storage = o.properties.targetResource.resourceType === 'Microsoft.Storage/storageAccounts';
      assert.equal(o.properties.statusCode, storage ? 'OK' : 'Created');
      assert.equal(o.properties.provisioningOperation, 'Create');
    }
    // The older path without /providers/Microsoft.Resources (az's operation list) answers the same.
    const older = await t.call('GET', `${group()}/deployments/quick/operations?${API}`, { token: user });
    assert.deepEqual(older.body, ops.body);
    const one = await t.call(
      'GET',
      `${group()}/providers/Microsoft.Resources/deployments/quick/operations/${ops.body.value[0].operationId}?${API}`,
      { token: user },
    );
    assert.equal(one.status, 200);
    assert.equal(one.body.properties.targetResource.resourceType, 'Microsoft.Storage/storageAccounts');

    const list = await t.call('GET', `${group()}/providers/Microsoft.Resources/deployments?api-version=2021-04-01`, {
      token: user,
    });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.value.map((d: { name: string }) => d.name),
      ['quick'],
    );

    // Neither the template nor the password is kept anywhere in the stack's database.
    const stored = await stackDb.query(
      `select (select coalesce(string_agg(d::text, ''), '') from deployments d) || (select coalesce(string_agg(o::text, ''), '') from deployment_operations o) || (select coalesce(string_agg(r.properties::text, ''), '') from resources r) as all_text`,
    );
    assert.ok(!stored.rows[0].all_text.includes(PASSWORD));
  });

  it('deploys the same template again as an update (200), with a new run', async () => {
    const res = await put('quick', fixture('101-vm-storage.json'), {
      adminPassword: { value: PASSWORD },
      vmCount: { value: 2 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(await settle(String(res.headers['azure-asyncoperation'])), { status: 'Succeeded' });
    assert.equal(
      (await liveResources()).length,
      7,
      'incremental: the same resources (and the same data disks), updated',
    );
  });

  it('refuses a dependency cycle and an unknown function with 400 InvalidTemplate, before anything is written', async () => {
    const before = await liveResources();
    const cyclic = {
      resources: [
        storage('cyclea', ['cycleb']),
        storage('cycleb', ["[resourceId('Microsoft.Storage/storageAccounts', 'cyclea')]"]),
      ],
    };
    const cycle = await put('cycle', cyclic);
    assert.equal(cycle.status, 400);
    assert.equal(cycle.body.error.code, 'InvalidTemplate');
    assert.match(cycle.body.error.message, /Circular dependency detected on resource: .*cyclea.* and .*cycleb/);

    const unknown = await put('unknown', {
      resources: [{ ...storage('unknownfn'), properties: { x: "[concat('a', noSuchFunction(1))]" } }],
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, 'InvalidTemplate');
    assert.match(
      unknown.body.error.message,
      /'resources\[0\]\.properties\.x'.*'noSuchFunction' is not valid \(at character 14/,
    );

    const missing = await put('missing', fixture('101-vm-storage.json'));
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /'adminPassword' is not provided/);

    const complete = await put('complete', { resources: [] }, {}, user, 'Complete');
    assert.equal(complete.status, 400);
    assert.equal(complete.body.error.code, 'InvalidDeploymentMode');

    const badName = await put('bad%20name!', { resources: [] });
    assert.equal(badName.status, 400);
    assert.equal(badName.body.error.code, 'InvalidDeploymentName');

    for (const name of ['cycle', 'unknown', 'missing', 'complete'])
      assert.equal((await t.call('GET', deployment(name), { token: user })).body.error.code, 'DeploymentNotFound');
    assert.deepEqual(await liveResources(), before);
  });

  it('fails a deployment whose resource fails: DeploymentFailed with details, and operations with the error', async () => {
    const res = await put('broken', {
      resources: [
        storage('brokenstore'),
        vm('badsize', 'Standard_Nope', ['brokenstore']),
        vm('afterbad', 'Standard_A1_v2', ['badsize']),
      ],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const status = await settle(String(res.headers['azure-asyncoperation']));
    assert.equal(status.status, 'Failed');
    assert.equal(status.error.code, 'DeploymentFailed');
    assert.deepEqual(
      status.error.details.map((d: { code: string; target: string }) => [d.code, d.target.split('/').pop()]),
      [['InvalidParameter', 'badsize']],
    );
    const got = await t.call('GET', deployment('broken'), { token: user });
    assert.equal(got.body.properties.provisioningState, 'Failed');
    assert.equal(got.body.properties.error.code, 'DeploymentFailed');
    const ops = (await t.call('GET', deployment('broken', '/operations'), { token: user })).body.value;
    assert.deepEqual(
      ops.map((o: Operation) => [
        o.properties.targetResource.resourceName,
        o.properties.provisioningState,
        o.properties.statusCode,
      ]),
      [
        ['brokenstore', 'Succeeded', 'OK'],
        ['badsize', 'Failed', 'BadRequest'],
      ],
      'what depends on the failed VM is not tried',
    );
    assert.equal(ops[1].properties.statusMessage.status, 'Failed');
    assert.equal(ops[1].properties.statusMessage.error.code, 'InvalidParameter');
    const live = await liveResources();
    assert.ok(live.includes('Microsoft.Storage/storageAccounts/brokenstore'));
    assert.ok(!live.some((r) => r.endsWith('/badsize') || r.endsWith('/afterbad')));
  });

  it('answers a caller without rights on the subscription with 403, and changes nothing', async () => {
    const other = await customerWithSubscription(t, 'outsider');
    const { user: outsider } = await tenantSubscription(t, other, 'elsewhere');
    const before = await liveResources();
    const template = { resources: [storage('outsiderstore')] };
    for (const [method, suffix] of [
      ['PUT', ''],
      ['GET', ''],
      ['GET', '/operations'],
      ['POST', '/validate'],
      ['DELETE', ''],
    ] as const) {
      const res = await t.call(method, deployment('quick', suffix), {
        token: outsider,
        body: method === 'PUT' || method === 'POST' ? { properties: { template, mode: 'Incremental' } } : undefined,
      });
      assert.equal(res.status, 403, `${method} ${suffix}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'AuthorizationFailed');
    }
    assert.deepEqual(await liveResources(), before);
    assert.equal(
      (await t.call('GET', deployment('quick'), { token: user })).body.properties.provisioningState,
      'Succeeded',
    );
  });

  it('deletes the deployment record but not its resources', async () => {
    const res = await t.call('DELETE', deployment('broken'), { token: user });
    assert.equal(res.status, 204);
    assert.equal((await t.call('GET', deployment('broken'), { token: user })).status, 404);
    assert.ok((await liveResources()).includes('Microsoft.Storage/storageAccounts/brokenstore'));
  });

  it('deploys a VM with its network (virtual network, subnet, NSG, public IP, NIC)', async () => {
    const res = await put('network', fixture('101-vm-network.json'), { adminPassword: { value: PASSWORD } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(await settle(String(res.headers['azure-asyncoperation'])), { status: 'Succeeded' });
  });
});

describe('a deployment cut off by a stop', () => {
  const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
  let dataDir: string;
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await dropDatabases(prefix);
  });

  it('is marked Failed at the next start, with its running operation', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'stackledger-deploy-'));
    const start = () => startTestSystem({ dataDir, databaseUrl: withDatabase(testServerUrl(), prefix) });
    let t = await start();
    const customer = await customerWithSubscription(t, 'crashy');
    const { user, sub } = await tenantSubscription(t, customer, 'crash');
    const url = `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resourcegroups/rg/providers/Microsoft.Resources/deployments/cut?${API}`;
    const res = await t.call('PUT', url, {
      token: user,
      body: { properties: { template: { resources: [storage('cutstore')] }, mode: 'Incremental' } },
    });
    assert.equal(res.status, 201);
    for (
      let i = 0;
      i < 100 && (await t.call('GET', url, { token: user })).body.properties.provisioningState !== 'Succeeded';
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    await t.stop();

    // What a process killed mid-run leaves: the run Running, an operation Running, and no lock (its connection died).
    const db = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${prefix}_stack_local`) });
    await db.connect();
    try {
      await db.query(`update deployments set state = 'Running', ended_at = null where name = 'cut'`);
      await db.query(`update deployment_operations set state = 'Running', status_code = null`);
    } finally {
      await db.end();
    }

    t = await start();
    try {
      const url = `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resourcegroups/rg/providers/Microsoft.Resources/deployments/cut?${API}`;
      const token = await t.userToken(
        customer.customerId,
        customer.admin.userName,
        customer.admin.password,
        t.b.stacks.local.tenantArm,
      );
      const got = await t.call('GET', url, { token });
      assert.equal(got.body.properties.provisioningState, 'Failed');
      assert.equal(got.body.properties.error.code, 'DeploymentFailed');
      assert.equal(got.body.properties.error.details[0].code, 'DeploymentInterrupted');
      const ops = await t.call('GET', url.replace('?', '/operations?'), { token });
      assert.equal(ops.body.value[0].properties.provisioningState, 'Failed');
      // A new PUT runs it again to the end.
      const again = await t.call('PUT', url, {
        token,
        body: { properties: { template: { resources: [storage('cutstore')] }, mode: 'Incremental' } },
      });
      assert.equal(again.status, 200);
    } finally {
      await t.stop();
    }
  });
});
