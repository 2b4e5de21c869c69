// The Azure CLI as it is: Debian's `azure-cli` (installed by .ci/run), driven as a child process
// through the vendor's procedure for Azure Stack Hub ("Use Azure CLI with Azure Stack Hub"): register
// the cloud from its Resource Manager endpoint, the 2020-09-01-hybrid profile, sign in. No proxy, no
// patched configuration: only its own config folder and our CA added to the system's (REQUESTS_CA_BUNDLE).
// az 2.45 needed no workaround here: each call is its own command, but usage, which has none (az rest).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { azureCli, type AzureCli } from './helpers/azure-cli.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';
import { REPO } from './helpers/repo.ts';

const STORAGE_SUFFIX = 'local.azurestack.external';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const VM_PASSWORD = 'Az-Vm-P@ssw0rd-2045';
const HOUR = 3_600_000;
/** Where the simulated clock starts: this hour, so that the usage API's ranges read as today's. */
const START = new Date(Math.floor(Date.now() / HOUR) * HOUR);

describe('the Azure CLI (az), unchanged', () => {
  let t: TestSystem;
  let cli: AzureCli;
  const az: AzureCli['az'] = (...a) => cli.az(...a);
  const ok: AzureCli['ok'] = (...a) => cli.ok(...a);
  const newConfigDir = () => mkdtemp(path.join(t.dataDir, 'az-'));
  /** Registers an endpoint as a cloud with the hybrid profile, and makes it the config's current one. */
  const useCloud = async (dir: string, name: string, endpoint: string) => {
    await ok(dir, [
      'cloud',
      'register',
      '-n',
      name,
      '--endpoint-resource-manager',
      endpoint,
      '--suffix-storage-endpoint',
      STORAGE_SUFFIX,
      '--profile',
      '2020-09-01-hybrid',
    ]);
    await ok(dir, ['cloud', 'set', '-n', name]);
  };
  const loginAsApp = (dir: string, appId: string, secret: string, tenant: string) =>
    ok(dir, ['login', '--service-principal', '-u', appId, '-p', secret, '--tenant', tenant]);

  before(async () => {
    // A simulated clock, so that a VM's usage can be closed into hours and read back (tokens keep real time).
    t = await startTestSystem({ clock: START });
    cli = await azureCli(t.dataDir, t.b.caFile!);
  });
  after(async () => {
    process.stdout.write(`azure-cli test: ${cli?.count() ?? 0} az commands\n`);
    await t?.stop();
  });

  it('signs the operator in to the admin endpoint as a service principal and as a user, and manages resource groups', async () => {
    const dir = await newConfigDir();
    const admin = t.b.stacks.local.adminArm;
    const provider = t.b.stacks.local.providerSubscriptionId;
    const op = t.b.operator;
    await useCloud(dir, 'AzureStackAdmin', admin);

    const asApp = await loginAsApp(dir, op.clientId, op.clientSecret, op.tenantId);
    assert.deepEqual(
      asApp.map((s: { id: unknown; tenantId: unknown; user: { type: unknown } }) => [s.id, s.tenantId, s.user.type]),
      [[provider, op.tenantId, 'servicePrincipal']],
    );
    await ok(dir, ['group', 'create', '-n', 'ops', '-l', 'local']);
    assert.ok((await ok(dir, ['group', 'list'])).some((g: { name: unknown }) => g.name === 'ops'));
    await ok(dir, ['group', 'delete', '-n', 'ops', '--yes']);
    assert.ok(!(await ok(dir, ['group', 'list'])).some((g: { name: unknown }) => g.name === 'ops'));
    const providers = (await ok(dir, ['provider', 'list'])).map((p: { namespace: unknown }) => p.namespace);
    assert.ok(
      providers.includes('Microsoft.Subscriptions.Admin') && providers.includes('Microsoft.Compute.Admin'),
      providers.join(', '),
    );

    const asUser = await ok(dir, ['login', '-u', op.admin.userName, '-p', op.admin.password]);
    assert.deepEqual(
      asUser.map((s: { id: unknown; user: { name: unknown; type: unknown } }) => [s.id, s.user.name, s.user.type]),
      [[provider, op.admin.userName, 'user']],
    );
    const accounts = await ok(dir, ['account', 'list']);
    assert.ok(
      accounts.some((s: { user: { type: unknown }; isDefault: unknown }) => s.user.type === 'user' && s.isDefault),
    );
    // Another resource from the same sign-in: the refresh grant, no password.
    const graph = await ok(dir, ['account', 'get-access-token', '--resource', t.b.hub.graph]);
    assert.equal(graph.tenant, op.tenantId);
    const me = await t.call('GET', `${t.b.hub.graph}/v1.0/users/${encodeURIComponent(op.admin.userName)}`, {
      token: graph.accessToken,
    });
    assert.equal(me.status, 200);
  });

  describe("a customer's administrator on the tenant endpoint", () => {
    let customer: CustomerWithSubscription;
    let sub: string;
    let dir: string;
    before(async () => {
      customer = await customerWithSubscription(t, 'azcli');
      ({ sub } = await tenantSubscription(t, customer, 'az'));
      dir = await newConfigDir();
    });

    it('registers the cloud, then the profile, and signs in with user and password', async () => {
      await ok(dir, [
        'cloud',
        'register',
        '-n',
        'AzureStackUser',
        '--endpoint-resource-manager',
        t.b.stacks.local.tenantArm,
        '--suffix-storage-endpoint',
        STORAGE_SUFFIX,
      ]);
      await ok(dir, ['cloud', 'update', '-n', 'AzureStackUser', '--profile', '2020-09-01-hybrid']);
      await ok(dir, ['cloud', 'set', '-n', 'AzureStackUser']);
      const login = await ok(dir, ['login', '-u', customer.admin.userName, '-p', customer.admin.password]);
      assert.deepEqual(
        login.map((s: { id: unknown; tenantId: unknown }) => [s.id, s.tenantId]),
        [[sub, customer.customerId]],
      );
      assert.deepEqual(
        (await ok(dir, ['account', 'list'])).map((s: { id: unknown }) => s.id),
        [sub],
      );
    });

    it('creates a service principal (az ad sp create-for-rbac), gives it a role and signs in as it', async () => {
      // az 2.45 reads the directory API's address only from the cloud's configuration: the metadata
      // endpoint's `graphEndpoint` fills the old AD Graph's setting, never `microsoftGraphResourceId`,
      // so it is given as the documented cloud-config JSON.
      await ok(dir, [
        'cloud',
        'update',
        '-n',
        'AzureStackUser',
        '--cloud-config',
        JSON.stringify({ endpoints: { microsoftGraphResourceId: t.b.hub.graph } }),
      ]);
      // Without --role: az 2.45 as Debian packages it crashes making any role assignment
      // ('RoleAssignmentsOperations' object has no attribute 'config': its code expects the track-1
      // azure-mgmt-authorization, the package ships track 2), here as in `az role assignment create|list`.
      // The same PUT is sent with az rest.
      const made = await ok(dir, ['ad', 'sp', 'create-for-rbac', '-n', 'az-deployer']);
      assert.equal(made.displayName, 'az-deployer');
      assert.equal(made.tenant, customer.customerId);
      const shown = await ok(dir, ['ad', 'sp', 'show', '--id', made.appId]);
      assert.equal(shown.appId, made.appId);
      assert.notEqual(shown.id, made.appId, 'the service principal is its own object');
      const assignment = `/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`;
      const assigned = await ok(dir, [
        'rest',
        '--method',
        'put',
        '--url',
        assignment,
        '--body',
        JSON.stringify({
          properties: {
            roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${CONTRIBUTOR}`,
            principalId: shown.id,
          },
        }),
      ]);
      assert.equal(assigned.properties.principalType, 'ServicePrincipal', 'read from the directory, not claimed');

      const asSp = await newConfigDir();
      await useCloud(asSp, 'AzureStackUser', t.b.stacks.local.tenantArm);
      const login = await loginAsApp(asSp, made.appId, made.password, customer.customerId);
      assert.deepEqual(
        login.map((s: { id: string; user: { type: string } }) => [s.id, s.user.type]),
        [[sub, 'servicePrincipal']],
      );
      assert.ok((await ok(asSp, ['group', 'list'])).some((g: { name: string }) => g.name === 'rg'));
    });

    it('creates, lists and deletes resource groups, and lists providers and resources', async () => {
      await ok(dir, ['group', 'create', '-n', 'web', '-l', 'local']);
      assert.deepEqual((await ok(dir, ['group', 'list'])).map((g: { name: unknown }) => g.name).sort(), ['rg', 'web']);
      const ip = await t.call(
        'PUT',
        `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resourceGroups/web/providers/Microsoft.Network/publicIPAddresses/ip01?api-version=2018-11-01`,
        {
          token: await t.userToken(
            customer.customerId,
            customer.admin.userName,
            customer.admin.password,
            t.b.stacks.local.tenantArm,
          ),
          body: { location: 'local' },
        },
      );
      assert.equal(ip.status, 201);

      const providers = (await ok(dir, ['provider', 'list'])).map((p: { namespace: unknown }) => p.namespace);
      for (const ns of ['Microsoft.Compute', 'Microsoft.Storage', 'Microsoft.Network'])
        assert.ok(providers.includes(ns), ns);
      const compute = await ok(dir, ['provider', 'show', '-n', 'Microsoft.Compute']);
      assert.equal(compute.registrationState, 'Registered');
      assert.ok(
        compute.resourceTypes.some(
          (r: { resourceType: unknown; locations: string[] }) =>
            r.resourceType === 'virtualMachines' && r.locations.includes('local'),
        ),
      );

      const resources = await ok(dir, ['resource', 'list']);
      assert.deepEqual(
        resources.map((r: { name: unknown; type: unknown; resourceGroup: unknown }) => [
          r.name,
          r.type,
          r.resourceGroup,
        ]),
        [['ip01', 'Microsoft.Network/publicIPAddresses', 'web']],
      );
      assert.equal(
        (await ok(dir, ['resource', 'list', '-g', 'web', '--resource-type', 'Microsoft.Network/publicIPAddresses']))
          .length,
        1,
      );
      assert.equal(
        (await ok(dir, ['resource', 'list', '--resource-type', 'Microsoft.Compute/virtualMachines'])).length,
        0,
      );

      await ok(dir, ['group', 'delete', '-n', 'web', '--yes']);
      assert.deepEqual(
        (await ok(dir, ['group', 'list'])).map((g: { name: unknown }) => g.name),
        ['rg'],
      );
      assert.deepEqual(await ok(dir, ['resource', 'list']), [], 'the group took its resources along');
    });

    it('creates and lists networks, reads the image catalog, and shows a VM with its addresses', async () => {
      await ok(dir, ['group', 'create', '-n', 'net', '-l', 'local']);
      const vnet = await ok(dir, [
        'network',
        'vnet',
        'create',
        '-g',
        'net',
        '-n',
        'vnet1',
        '--address-prefix',
        '10.0.0.0/16',
        '--subnet-name',
        'default',
        '--subnet-prefix',
        '10.0.0.0/24',
      ]);
      assert.equal(vnet.newVNet.subnets[0].addressPrefix, '10.0.0.0/24');
      await ok(dir, [
        'network',
        'vnet',
        'subnet',
        'create',
        '-g',
        'net',
        '--vnet-name',
        'vnet1',
        '-n',
        'back',
        '--address-prefixes',
        '10.0.1.0/24',
      ]);
      await ok(dir, ['network', 'nsg', 'create', '-g', 'net', '-n', 'nsg1']);
      await ok(dir, [
        'network',
        'nsg',
        'rule',
        'create',
        '-g',
        'net',
        '--nsg-name',
        'nsg1',
        '-n',
        'ssh',
        '--priority',
        '1000',
        '--destination-port-ranges',
        '22',
        '--protocol',
        'Tcp',
      ]);
      const ip = await ok(dir, [
        'network',
        'public-ip',
        'create',
        '-g',
        'net',
        '-n',
        'pip1',
        '--allocation-method',
        'Static',
      ]);
      assert.match(ip.publicIp.ipAddress, /^198\.18\./);
      const nic = await ok(dir, [
        'network',
        'nic',
        'create',
        '-g',
        'net',
        '-n',
        'nic1',
        '--vnet-name',
        'vnet1',
        '--subnet',
        'default',
        '--public-ip-address',
        'pip1',
        '--network-security-group',
        'nsg1',
      ]);
      assert.equal(nic.NewNIC.ipConfigurations[0].privateIpAddress, '10.0.0.4');
      assert.deepEqual(
        (await ok(dir, ['network', 'vnet', 'list', '-g', 'net'])).map((v: { name: string }) => v.name),
        ['vnet1'],
      );
      assert.deepEqual(
        (await ok(dir, ['network', 'vnet', 'subnet', 'list', '-g', 'net', '--vnet-name', 'vnet1'])).length,
        2,
      );
      assert.deepEqual(
        (await ok(dir, ['network', 'nsg', 'list', '-g', 'net'])).map((v: { name: string }) => v.name),
        ['nsg1'],
      );
      assert.deepEqual(
        (await ok(dir, ['network', 'public-ip', 'list', '-g', 'net'])).map((v: { name: string }) => v.name),
        ['pip1'],
      );
      assert.deepEqual(
        (await ok(dir, ['network', 'nic', 'list', '-g', 'net'])).map((v: { name: string }) => v.name),
        ['nic1'],
      );

      const images = await ok(dir, ['vm', 'image', 'list', '--all', '-l', 'local']);
      assert.ok(
        images.some((i: { urn: string }) => i.urn === 'Canonical:UbuntuServer:18.04-LTS:18.04.202109180'),
        JSON.stringify(images),
      );
      const image = await ok(dir, [
        'vm',
        'image',
        'show',
        '--urn',
        'Canonical:UbuntuServer:18.04-LTS:latest',
        '-l',
        'local',
      ]);
      assert.equal(image.name, '18.04.202109180');
      assert.equal(image.osDiskImage.operatingSystem, 'Linux');

      // `--nics`: az's template then holds the VM alone, on the NIC made above; a password, said so.
      const made = await ok(dir, [
        'vm',
        'create',
        '-g',
        'net',
        '-n',
        'vm1',
        '--image',
        'UbuntuLTS',
        '--nics',
        'nic1',
        '--size',
        'Standard_A1_v2',
        '--admin-username',
        'azureuser',
        '--admin-password',
        VM_PASSWORD,
        '--authentication-type',
        'password',
      ]);
      assert.deepEqual([made.privateIpAddress, made.publicIpAddress], ['10.0.0.4', ip.publicIp.ipAddress]);
      const deployed = await ok(dir, ['deployment', 'group', 'list', '-g', 'net']);
      assert.deepEqual(
        deployed[0].properties.outputResources.map((r: { id: string }) => r.id.split('/').slice(-2).join('/')),
        ['virtualMachines/vm1'],
      );
      const shown = await ok(dir, ['vm', 'show', '-d', '-g', 'net', '-n', 'vm1']);
      assert.equal(shown.privateIps, '10.0.0.4');
      assert.equal(shown.publicIps, ip.publicIp.ipAddress);
      assert.equal(shown.powerState, 'VM running');
      await ok(dir, ['group', 'delete', '-n', 'net', '--yes']);
    });

    it('creates a VM with az vm create and its defaults, runs it through its life, and meters it', async () => {
      await ok(dir, ['group', 'create', '-n', 'vms', '-l', 'local']);
      // az looks up the group's networks, resolves the image's latest version, deploys its own
      // template (VNet and subnet, NSG, public IP, NIC, VM; the password a secure parameter) and
      // reads the VM, its NIC and public IP back for the addresses it prints.
      const created = await ok(dir, [
        'vm',
        'create',
        '-g',
        'vms',
        '-n',
        'vm1',
        '--image',
        'UbuntuLTS',
        '--admin-username',
        'azureuser',
        '--admin-password',
        VM_PASSWORD,
        '--size',
        'Standard_A1_v2',
      ]);
      assert.equal(created.powerState, 'VM running');
      assert.equal(created.privateIpAddress, '10.0.0.4');
      assert.match(created.publicIpAddress, /^198\.18\./);
      const vmId = created.id as string;

      const [deployment] = await ok(dir, ['deployment', 'group', 'list', '-g', 'vms']);
      assert.match(deployment.name, /^vm_deploy_\w{32}$/);
      const shown = await ok(dir, ['deployment', 'group', 'show', '-g', 'vms', '-n', deployment.name]);
      assert.equal(shown.properties.provisioningState, 'Succeeded');
      assert.deepEqual(shown.properties.parameters.adminPassword, { type: 'SecureString' }, 'never its value');
      const operations = await ok(dir, [
        'deployment',
        'operation',
        'group',
        'list',
        '-g',
        'vms',
        '-n',
        deployment.name,
      ]);
      assert.deepEqual(
        operations
          .map(
            (o: { properties: { targetResource: { resourceName: string } } }) =>
              o.properties.targetResource.resourceName,
          )
          .sort(),
        ['vm1', 'vm1NSG', 'vm1PublicIP', 'vm1VMNic', 'vm1VNET'],
      );
      const names = async (kind: string) =>
        (await ok(dir, ['network', kind, 'list', '-g', 'vms'])).map((r: { name: string }) => r.name);
      assert.deepEqual(await names('vnet'), ['vm1VNET']);
      assert.deepEqual(await names('nic'), ['vm1VMNic']);
      assert.deepEqual(await names('nsg'), ['vm1NSG']);
      assert.deepEqual(await names('public-ip'), ['vm1PublicIP']);
      const nsg = await ok(dir, ['network', 'nsg', 'show', '-g', 'vms', '-n', 'vm1NSG']);
      assert.deepEqual(
        nsg.securityRules.map((r: { name: string; destinationPortRange: string }) => [r.name, r.destinationPortRange]),
        [['default-allow-ssh', '22']],
      );

      const details = await ok(dir, ['vm', 'show', '-d', '-g', 'vms', '-n', 'vm1']);
      assert.deepEqual(
        [details.powerState, details.privateIps, details.publicIps],
        ['VM running', '10.0.0.4', created.publicIpAddress],
      );
      assert.equal(details.storageProfile.imageReference.exactVersion, '18.04.202109180');
      assert.equal(details.osProfile.adminPassword, null, 'the password is never shown');
      const listed = await ok(dir, ['vm', 'list', '-d', '-g', 'vms']);
      assert.deepEqual(
        listed.map((v: { name: string; publicIps: string }) => [v.name, v.publicIps]),
        [['vm1', created.publicIpAddress]],
      );

      const power = async () => (await ok(dir, ['vm', 'show', '-d', '-g', 'vms', '-n', 'vm1'])).powerState;
      await ok(dir, ['vm', 'stop', '-g', 'vms', '-n', 'vm1']);
      const view = await ok(dir, ['vm', 'get-instance-view', '-g', 'vms', '-n', 'vm1']);
      assert.ok(
        view.instanceView.statuses.some((s: { code: string }) => s.code === 'PowerState/stopped'),
        JSON.stringify(view.instanceView),
      );
      await ok(dir, ['vm', 'deallocate', '-g', 'vms', '-n', 'vm1']);
      assert.equal(await power(), 'VM deallocated');
      await ok(dir, ['vm', 'start', '-g', 'vms', '-n', 'vm1']);
      assert.equal(await power(), 'VM running');
      const resized = await ok(dir, ['vm', 'resize', '-g', 'vms', '-n', 'vm1', '--size', 'Standard_A2_v2']);
      assert.equal(resized.hardwareProfile.vmSize, 'Standard_A2_v2');
      const sizes = (await ok(dir, ['vm', 'list-sizes', '-l', 'local'])).map((z: { name: string }) => z.name);
      assert.ok(sizes.includes('Standard_A2_v2') && sizes.includes('Standard_DS1_v2'), sizes.join(', '));

      // Its usage, like any VM's: two hours later, the tenant's usage API names it.
      const advanced = await t.call(
        'POST',
        `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`,
        { token: await t.appToken('csp', t.b.hub.arm), body: { duration: 'PT2H' } },
      );
      assert.equal(advanced.status, 200, JSON.stringify(advanced.body));
      const end = new Date(START.getTime() + 2 * HOUR).toISOString();
      const usage = await ok(dir, [
        'rest',
        '--method',
        'get',
        '--url',
        `/subscriptions/${sub}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=${START.toISOString()}&reportedEndTime=${end}&aggregationGranularity=Hourly`,
      ]);
      const metered = usage.value.map(
        (u: { properties: { instanceData: string } }) =>
          JSON.parse(u.properties.instanceData)['Microsoft.Resources'].resourceUri,
      );
      assert.ok(
        metered.some((uri: string) => uri.toLowerCase() === vmId.toLowerCase()),
        `${vmId} in ${JSON.stringify(metered)}`,
      );

      // SSH keys instead of a password, and az's default size (Standard_DS1_v2): az makes the key
      // pair in HOME/.ssh and sends the public key alone.
      const home = await mkdtemp(path.join(t.dataDir, 'home-'));
      const withKeys = await ok(
        dir,
        [
          'vm',
          'create',
          '-g',
          'vms',
          '-n',
          'vm2',
          '--image',
          'UbuntuLTS',
          '--admin-username',
          'azureuser',
          '--generate-ssh-keys',
        ],
        { HOME: home },
      );
      assert.equal(withKeys.powerState, 'VM running');
      const vm2 = await az(dir, ['vm', 'show', '-g', 'vms', '-n', 'vm2']);
      assert.equal(vm2.json.hardwareProfile.vmSize, 'Standard_DS1_v2');
      assert.deepEqual(vm2.json.osProfile.linuxConfiguration.ssh.publicKeys, [
        {
          keyData: readFileSync(path.join(home, '.ssh', 'id_rsa.pub'), 'utf8'),
          path: '/home/azureuser/.ssh/authorized_keys',
        },
      ]);
      assert.equal(vm2.json.osProfile.linuxConfiguration.disablePasswordAuthentication, true);
      assert.ok(!vm2.stdout.includes('PRIVATE'), 'nothing private is shown');

      const types = (await ok(dir, ['resource', 'list', '-g', 'vms'])).map((r: { type: string }) => r.type);
      for (const type of [
        'Microsoft.Compute/virtualMachines',
        'Microsoft.Network/virtualNetworks',
        'Microsoft.Network/networkSecurityGroups',
        'Microsoft.Network/publicIPAddresses',
        'Microsoft.Network/networkInterfaces',
      ])
        assert.ok(types.includes(type), type);
      // The VMs' OS disks are managed disks of their own, each managed by its VM.
      const disks = await ok(dir, ['disk', 'list', '-g', 'vms']);
      const osDiskOf = (vm: string) =>
        disks.find((d: { managedBy?: string }) => d.managedBy?.toLowerCase().endsWith(`/virtualmachines/${vm}`));
      assert.ok(osDiskOf('vm1'), JSON.stringify(disks));
      assert.ok(osDiskOf('vm2'), JSON.stringify(disks));
      assert.equal((await ok(dir, ['disk', 'show', '-g', 'vms', '-n', osDiskOf('vm1').name])).diskState, 'Attached');

      // A storage account as the Storage RP answers: created, its keys listed, its name taken, deleted.
      const account = `azcli${Date.now().toString(36)}`;
      const made = await ok(dir, [
        'storage',
        'account',
        'create',
        '-g',
        'vms',
        '-n',
        account,
        '-l',
        'local',
        '--sku',
        'Standard_LRS',
      ]);
      assert.equal(made.provisioningState, 'Succeeded');
      const keys = await ok(dir, ['storage', 'account', 'keys', 'list', '-g', 'vms', '-n', account]);
      assert.deepEqual(
        keys.map((k: { keyName: string }) => k.keyName),
        ['key1', 'key2'],
      );
      assert.equal((await ok(dir, ['storage', 'account', 'check-name', '-n', account])).nameAvailable, false);
      await ok(dir, ['storage', 'account', 'delete', '-g', 'vms', '-n', account, '--yes']);
      assert.equal((await ok(dir, ['storage', 'account', 'check-name', '-n', account])).nameAvailable, true);

      await ok(dir, ['vm', 'delete', '-g', 'vms', '-n', 'vm1', '--yes']);
      assert.deepEqual(
        (await ok(dir, ['vm', 'list', '-g', 'vms'])).map((v: { name: string }) => v.name),
        ['vm2'],
      );
      await ok(dir, ['group', 'delete', '-n', 'vms', '--yes']);
    });

    it('deploys a template with az deployment group create, then lists and shows it', async () => {
      const template = path.join(REPO, 'test', 'fixtures', '101-vm-storage.json');
      const created = await ok(dir, [
        'deployment',
        'group',
        'create',
        '-g',
        'rg',
        '-n',
        'azdeploy',
        '--template-file',
        template,
        '--parameters',
        'adminPassword=Az-Deploy-P@ss-2045',
        'vmCount=1',
      ]);
      assert.equal(created.properties.provisioningState, 'Succeeded');
      assert.equal(created.properties.outputs.firstVmSize.value, 'Standard_A1_v2');
      assert.deepEqual(
        (await ok(dir, ['deployment', 'group', 'list', '-g', 'rg'])).map((d: { name: string }) => d.name),
        ['azdeploy'],
      );
      const shown = await ok(dir, ['deployment', 'group', 'show', '-g', 'rg', '-n', 'azdeploy']);
      assert.equal(shown.properties.parameters.adminPassword.value, undefined, 'a secure value is never shown');
      const operations = await ok(dir, ['deployment', 'operation', 'group', 'list', '-g', 'rg', '-n', 'azdeploy']);
      assert.equal(operations.length, 2);
      assert.ok((await ok(dir, ['vm', 'list', '-g', 'rg'])).some((v: { name: string }) => v.name === 'vm-1804-lts-0'));
    });

    it('reads its usage through az rest', async () => {
      const now = new Date();
      const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
      const start = new Date(end.getTime() - 7 * 86_400_000);
      const url = `/subscriptions/${sub}/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&reportedStartTime=${start.toISOString()}&reportedEndTime=${end.toISOString()}&aggregationGranularity=Daily`;
      const usage = await ok(dir, ['rest', '--method', 'get', '--url', url]);
      assert.ok(Array.isArray(usage.value));
      const refused = await az(dir, [
        'rest',
        '--method',
        'get',
        '--url',
        url.replace(sub, t.b.stacks.local.providerSubscriptionId),
      ]);
      assert.notEqual(refused.code, 0, "another's subscription is refused");
    });
  });
});
