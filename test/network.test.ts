// Microsoft.Network on the stack's tenant endpoint: virtual networks and subnets, security groups
// and rules, network interfaces with their private and public addresses, and VMs that use them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { customerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody, vmUrl } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

/** A resource or child as the provider shows it. */
type Wire = { name: string; id: string; type: string; properties: Record<string, unknown> };

const V = 'api-version=2018-11-01';
const V_NEW = 'api-version=2022-07-01';

describe('network resources on the stack', () => {
  let t: TestSystem;
  let user: string;
  let sub: string;
  let other: string;
  let otherSub: string;
  const base = () => `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network`;
  const id = (path: string) => `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/${path}`;
  const call = (method: string, path: string, body?: unknown, token = user, version = V) =>
    t.call(method, `${base()}/${path}${path.includes('?') ? '&' : '?'}${version}`, { token, body });
  /** A call that must answer `status`; its body. */
  const expect = async (status: number, method: string, path: string, body?: unknown, version = V) => {
    const res = await call(method, path, body, user, version);
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const nic = (subnet: string, extra: Record<string, unknown> = {}, nsg?: string) => ({
    location: 'local',
    properties: {
      ipConfigurations: [{ name: 'ipconfig1', properties: { subnet: { id: id(subnet) }, ...extra } }],
      ...(nsg ? { networkSecurityGroup: { id: id(nsg) } } : {}),
    },
  });

  before(async () => {
    t = await startTestSystem();
    ({ user, sub } = await tenantSubscription(t, await customerWithSubscription(t, 'netA'), 'net'));
    ({ user: other, sub: otherSub } = await tenantSubscription(t, await customerWithSubscription(t, 'netB'), 'other'));
  });
  after(() => t?.stop());

  it('creates a virtual network with subnets inline and as children, and keeps them inside and apart', async () => {
    const created = await call('PUT', 'virtualNetworks/vnet1', {
      location: 'local',
      tags: { env: 'test' },
      properties: {
        addressSpace: { addressPrefixes: ['10.0.0.0/16'] },
        subnets: [{ name: 'default', properties: { addressPrefix: '10.0.0.0/24' } }],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(String(created.headers['azure-asyncoperation']), /Microsoft\.Network\/locations\/local\/operations\//);
    assert.equal(created.body.properties.provisioningState, 'Succeeded');
    assert.match(created.body.etag, /^W\/"[0-9a-f-]{36}"$/);
    assert.deepEqual(
      created.body.properties.subnets.map((s: Wire) => [s.name, s.id, s.properties.addressPrefix]),
      [['default', id('virtualNetworks/vnet1/subnets/default'), '10.0.0.0/24']],
    );
    const status = await t.call('GET', String(created.headers['azure-asyncoperation']), { token: user });
    assert.equal(status.body.status, 'Succeeded');

    const subnet = await expect(
      201,
      'PUT',
      'virtualNetworks/vnet1/subnets/back',
      { properties: { addressPrefix: '10.0.1.0/24' } },
      V_NEW,
    );
    assert.equal(subnet.type, 'Microsoft.Network/virtualNetworks/subnets');
    assert.equal(
      (await expect(200, 'PUT', 'virtualNetworks/vnet1/subnets/back', { properties: { addressPrefix: '10.0.1.0/24' } }))
        .name,
      'back',
    );
    // Children are listed in their key's order (by name), as every paged list is.
    assert.deepEqual(
      (await expect(200, 'GET', 'virtualNetworks/vnet1/subnets')).value.map((s: Wire) => s.name),
      ['back', 'default'],
    );
    assert.equal(
      (await expect(200, 'GET', 'virtualNetworks/vnet1/subnets/BACK')).properties.addressPrefix,
      '10.0.1.0/24',
    );
    assert.deepEqual((await expect(200, 'GET', 'virtualNetworks/vnet1')).tags, { env: 'test' });

    const outside = await expect(400, 'PUT', 'virtualNetworks/vnet1/subnets/far', {
      properties: { addressPrefix: '10.1.0.0/24' },
    });
    assert.equal(outside.error.code, 'NetcfgSubnetRangeOutsideVnet');
    const overlap = await expect(400, 'PUT', 'virtualNetworks/vnet1/subnets/dup', {
      properties: { addressPrefix: '10.0.1.128/25' },
    });
    assert.equal(overlap.error.code, 'NetcfgSubnetRangesOverlap');
    const unaligned = await expect(400, 'PUT', 'virtualNetworks/vnet1/subnets/odd', {
      properties: { addressPrefix: '10.0.2.1/24' },
    });
    assert.equal(unaligned.error.code, 'InvalidCIDRNotation');
    const garbage = await expect(400, 'PUT', 'virtualNetworks/vnet2', {
      location: 'local',
      properties: { addressSpace: { addressPrefixes: ['10.0.0.0/33'] } },
    });
    assert.equal(garbage.error.code, 'InvalidAddressPrefixFormat');
    assert.equal(
      (await expect(400, 'PUT', 'virtualNetworks/-bad', { location: 'local', properties: {} })).error.code,
      'InvalidResourceName',
    );
    assert.equal(
      (
        await expect(400, 'PUT', 'virtualNetworks/vnet3', {
          location: 'elsewhere',
          properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] } },
        })
      ).error.code,
      'LocationNotAvailableForResourceType',
    );
    assert.deepEqual(
      (await expect(200, 'GET', 'virtualNetworks/vnet1/subnets')).value.length,
      2,
      'refused writes changed nothing',
    );

    assert.equal((await expect(404, 'GET', 'virtualNetworks/nothing')).error.code, 'ResourceNotFound');
    assert.equal((await expect(404, 'GET', 'virtualNetworks/vnet1/subnets/nothing')).error.code, 'ResourceNotFound');
  });

  it('creates security groups with rules inline and as children, below the default rules', async () => {
    const nsg = await expect(201, 'PUT', 'networkSecurityGroups/nsg1', {
      location: 'local',
      properties: {
        securityRules: [
          {
            name: 'ssh',
            properties: {
              protocol: 'Tcp',
              access: 'Allow',
              direction: 'Inbound',
              priority: 1000,
              sourcePortRange: '*',
              destinationPortRange: '22',
              sourceAddressPrefix: '*',
              destinationAddressPrefix: '*',
            },
          },
        ],
      },
    });
    assert.deepEqual(
      nsg.properties.securityRules.map((r: Wire) => [r.name, r.properties.priority]),
      [['ssh', 1000]],
    );
    assert.deepEqual(
      nsg.properties.defaultSecurityRules.map((r: Wire) => r.name),
      [
        'AllowVnetInBound',
        'AllowAzureLoadBalancerInBound',
        'DenyAllInBound',
        'AllowVnetOutBound',
        'AllowInternetOutBound',
        'DenyAllOutBound',
      ],
    );
    const rule = {
      protocol: 'Tcp',
      access: 'Allow',
      direction: 'Inbound',
      priority: 1010,
      sourcePortRange: '*',
      destinationPortRange: '443',
      sourceAddressPrefix: '*',
      destinationAddressPrefix: '*',
    };
    assert.equal(
      (await expect(201, 'PUT', 'networkSecurityGroups/nsg1/securityRules/https', { properties: rule })).properties
        .destinationPortRange,
      '443',
    );
    assert.equal(
      (
        await expect(400, 'PUT', 'networkSecurityGroups/nsg1/securityRules/clash', {
          properties: { ...rule, priority: 1000 },
        })
      ).error.code,
      'SecurityRuleConflict',
    );
    assert.equal(
      (
        await expect(400, 'PUT', 'networkSecurityGroups/nsg1/securityRules/low', {
          properties: { ...rule, priority: 10 },
        })
      ).error.code,
      'SecurityRuleInvalidPriority',
    );
    assert.deepEqual(
      (await expect(200, 'GET', 'networkSecurityGroups/nsg1/securityRules')).value.map((r: Wire) => r.name),
      ['https', 'ssh'],
    );
    await expect(202, 'DELETE', 'networkSecurityGroups/nsg1/securityRules/https');
    await expect(204, 'DELETE', 'networkSecurityGroups/nsg1/securityRules/https');
    assert.deepEqual(
      (await expect(200, 'GET', 'networkSecurityGroups')).value.map((n: Wire) => n.name),
      ['nsg1'],
    );
  });

  it('gives a NIC a private address of its subnet and a public IP its address, and keeps what is in use', async () => {
    await expect(201, 'PUT', 'publicIPAddresses/pip1', {
      location: 'local',
      properties: { publicIPAllocationMethod: 'Dynamic' },
    });
    assert.equal(
      (await expect(200, 'GET', 'publicIPAddresses/pip1')).properties.ipAddress,
      undefined,
      'a Dynamic address unused has none',
    );

    const missing = await expect(400, 'PUT', 'networkInterfaces/nic0', nic('virtualNetworks/vnet1/subnets/nothing'));
    assert.equal(missing.error.code, 'InvalidResourceReference');
    const foreign = await call('PUT', 'networkInterfaces/nic0', {
      location: 'local',
      properties: {
        ipConfigurations: [
          {
            name: 'c',
            properties: { subnet: { id: id('virtualNetworks/vnet1/subnets/default').replace(sub, otherSub) } },
          },
        ],
      },
    });
    assert.equal(foreign.body.error.code, 'InvalidResourceReference', "another subscription's subnet is not found");

    const nic1 = await expect(
      201,
      'PUT',
      'networkInterfaces/nic1',
      nic(
        'virtualNetworks/vnet1/subnets/default',
        { publicIPAddress: { id: id('publicIPAddresses/pip1') } },
        'networkSecurityGroups/nsg1',
      ),
    );
    const config = nic1.properties.ipConfigurations[0];
    assert.equal(config.properties.privateIPAddress, '10.0.0.4', 'the first address Azure does not keep');
    assert.equal(config.properties.privateIPAllocationMethod, 'Dynamic');
    assert.equal(config.properties.publicIPAddress.id, id('publicIPAddresses/pip1'));
    assert.equal(nic1.properties.networkSecurityGroup.id, id('networkSecurityGroups/nsg1'));
    const nic2 = await expect(201, 'PUT', 'networkInterfaces/nic2', nic('virtualNetworks/vnet1/subnets/default'));
    assert.equal(nic2.properties.ipConfigurations[0].properties.privateIPAddress, '10.0.0.5');
    // An update keeps the address.
    const again = await expect(
      200,
      'PUT',
      'networkInterfaces/nic2',
      nic('virtualNetworks/vnet1/subnets/default'),
      V_NEW,
    );
    assert.equal(again.properties.ipConfigurations[0].properties.privateIPAddress, '10.0.0.5');
    /** The error code of a refused NIC in subnet `back` with this IP configuration. */
    const refusedNic4 = async (config: Record<string, unknown>) =>
      (await expect(400, 'PUT', 'networkInterfaces/nic4', nic('virtualNetworks/vnet1/subnets/back', config))).error
        .code;
    const fixed = await expect(
      201,
      'PUT',
      'networkInterfaces/nic3',
      nic('virtualNetworks/vnet1/subnets/back', { privateIPAllocationMethod: 'Static', privateIPAddress: '10.0.1.10' }),
    );
    assert.equal(fixed.properties.ipConfigurations[0].properties.privateIPAddress, '10.0.1.10');
    assert.equal(
      await refusedNic4({
        privateIPAllocationMethod: 'Static',
        privateIPAddress: '10.0.1.10',
      }),
      'PrivateIPAddressInUse',
    );
    assert.equal(
      await refusedNic4({
        privateIPAllocationMethod: 'Static',
        privateIPAddress: '10.0.0.10',
      }),
      'PrivateIPAddressNotInSubnet',
    );
    assert.equal(await refusedNic4({ publicIPAddress: { id: id('publicIPAddresses/pip1') } }), 'PublicIPAddressInUse');

    const pip = await expect(200, 'GET', 'publicIPAddresses/pip1');
    assert.match(pip.properties.ipAddress, /^198\.18\.\d+\.\d+$/, 'attached: an address from the pool');
    assert.equal(pip.properties.ipConfiguration.id, `${id('networkInterfaces/nic1')}/ipConfigurations/ipconfig1`);
    const subnet = await expect(200, 'GET', 'virtualNetworks/vnet1/subnets/default');
    assert.deepEqual(subnet.properties.ipConfigurations.map((c: Wire) => c.id).sort(), [
      `${id('networkInterfaces/nic1')}/ipConfigurations/ipconfig1`,
      `${id('networkInterfaces/nic2')}/ipConfigurations/ipconfig1`,
    ]);
    assert.deepEqual((await expect(200, 'GET', 'networkSecurityGroups/nsg1')).properties.networkInterfaces, [
      { id: id('networkInterfaces/nic1') },
    ]);

    assert.equal(
      (await expect(400, 'DELETE', 'virtualNetworks/vnet1/subnets/default')).error.code,
      'InUseSubnetCannotBeDeleted',
    );
    assert.equal((await expect(400, 'DELETE', 'virtualNetworks/vnet1')).error.code, 'InUseSubnetCannotBeDeleted');
    assert.equal((await expect(400, 'DELETE', 'publicIPAddresses/pip1')).error.code, 'PublicIPAddressCannotBeDeleted');
    assert.equal(
      (await expect(400, 'DELETE', 'networkSecurityGroups/nsg1')).error.code,
      'InUseNetworkSecurityGroupCannotBeDeleted',
    );
    assert.equal(
      (
        await expect(400, 'PUT', 'virtualNetworks/vnet1', {
          location: 'local',
          properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] }, subnets: [] },
        })
      ).error.code,
      'InUseSubnetCannotBeDeleted',
    );
    assert.equal(
      (await expect(200, 'GET', 'virtualNetworks/vnet1/subnets')).value.length,
      2,
      'refused: nothing changed',
    );

    // Let go of the public IP: a Dynamic one gives its address back.
    await expect(200, 'PUT', 'networkInterfaces/nic1', nic('virtualNetworks/vnet1/subnets/default'));
    const freed = await expect(200, 'GET', 'publicIPAddresses/pip1');
    assert.equal(freed.properties.ipAddress, undefined);
    assert.equal(freed.properties.ipConfiguration, undefined);
    await expect(202, 'DELETE', 'publicIPAddresses/pip1');
    const listed = await t.call(
      'GET',
      `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/providers/Microsoft.Network/networkInterfaces?${V}`,
      { token: user },
    );
    assert.deepEqual(
      listed.body.value.map((n: Wire) => n.name),
      ['nic1', 'nic2', 'nic3'],
    );
  });

  it('lets a VM use only existing NICs that no other VM uses, and shows it on the NIC while it lives', async () => {
    const withNics = (nics: string[]) => ({
      ...vmBody('Standard_A1_v2'),
      properties: {
        ...vmBody('Standard_A1_v2').properties,
        networkProfile: { networkInterfaces: nics.map((n) => ({ id: id(`networkInterfaces/${n}`) })) },
      },
    });
    const missing = await t.call('PUT', vmUrl(t, sub, 'vm0'), { token: user, body: withNics(['nothing']) });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, 'InvalidResourceReference');
    const foreign = await t.call('PUT', vmUrl(t, otherSub, 'thief'), { token: other, body: withNics(['nic1']) });
    assert.equal(foreign.status, 400, "another subscription's NIC");
    assert.equal(foreign.body.error.code, 'InvalidResourceReference');
    const vm1 = await t.call('PUT', vmUrl(t, sub, 'vm1'), { token: user, body: withNics(['nic1']) });
    assert.equal(vm1.status, 201, JSON.stringify(vm1.body));
    const taken = await t.call('PUT', vmUrl(t, sub, 'vm2'), { token: user, body: withNics(['nic2', 'nic1']) });
    assert.equal(taken.status, 400);
    assert.equal(taken.body.error.code, 'NicInUse');
    assert.equal((await t.call('GET', vmUrl(t, sub, 'vm2'), { token: user })).status, 404, 'refused: no VM');
    assert.equal((await expect(200, 'GET', 'networkInterfaces/nic2')).properties.virtualMachine, undefined);
    const attached = await expect(200, 'GET', 'networkInterfaces/nic1');
    assert.equal(
      attached.properties.virtualMachine.id,
      `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1`,
    );
    assert.match(attached.properties.macAddress, /^00-0D-3A(-[0-9A-F]{2}){3}$/);
    assert.equal((await expect(400, 'DELETE', 'networkInterfaces/nic1')).error.code, 'NicInUse');
    // A VM without a network profile is accepted as before.
    assert.equal(
      (await t.call('PUT', vmUrl(t, sub, 'plain'), { token: user, body: vmBody('Standard_A1_v2') })).status,
      201,
    );

    assert.equal((await t.call('DELETE', vmUrl(t, sub, 'vm1'), { token: user })).status, 202);
    assert.equal(
      (await expect(200, 'GET', 'networkInterfaces/nic1')).properties.virtualMachine,
      undefined,
      'freed with its VM',
    );
    await expect(202, 'DELETE', 'networkInterfaces/nic1');
    await expect(204, 'DELETE', 'networkInterfaces/nic1');
  });

  it("keeps another tenant out of the resources, and lists them in ARM's generic list", async () => {
    const url = `${base()}/virtualNetworks/vnet1?${V}`;
    const read = await t.call('GET', url, { token: other });
    assert.equal(read.status, 403);
    assert.equal(read.body.error.code, 'AuthorizationFailed');
    const write = await t.call('PUT', `${base()}/virtualNetworks/stolen?${V}`, {
      token: other,
      body: { location: 'local', properties: { addressSpace: { addressPrefixes: ['10.9.0.0/16'] } } },
    });
    assert.equal(write.status, 403);
    assert.equal((await t.call('DELETE', `${base()}/networkInterfaces/nic2?${V}`, { token: other })).status, 403);
    assert.equal((await expect(200, 'GET', 'networkInterfaces/nic2')).name, 'nic2', 'still there');

    const all = await t.call(
      'GET',
      `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resources?api-version=2019-10-01`,
      { token: user },
    );
    assert.deepEqual(
      all.body.value.map((r: Wire) => `${r.type} ${r.name}`),
      [
        'Microsoft.Compute/virtualMachines plain',
        'Microsoft.Network/networkInterfaces nic2',
        'Microsoft.Network/networkInterfaces nic3',
        'Microsoft.Network/networkSecurityGroups nsg1',
        'Microsoft.Network/virtualNetworks vnet1',
      ],
    );
  });

  it('lists the VM image catalog: publishers, offers, skus, versions (newest first with $top), one version', async () => {
    const images = `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/providers/Microsoft.Compute/locations/local/publishers`;
    const get = (path: string, token = user) => t.call('GET', `${images}${path}`, { token });
    const publishers = await get('?api-version=2020-06-01');
    assert.equal(publishers.status, 200);
    assert.ok(
      ['Canonical', 'Debian', 'MicrosoftWindowsServer'].every((p) => publishers.body.some((x: Wire) => x.name === p)),
    );
    const offers = await get('/canonical/artifacttypes/vmimage/offers?api-version=2022-11-01');
    assert.deepEqual(
      offers.body.map((o: Wire) => o.name),
      ['UbuntuServer', '0001-com-ubuntu-server-jammy'],
    );
    const skus = await get('/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus?api-version=2020-06-01');
    assert.deepEqual(
      skus.body.map((o: Wire) => o.name),
      ['18.04-LTS'],
    );
    const latest = await get(
      `/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions?api-version=2020-06-01&$top=1&$orderby=${encodeURIComponent('name desc')}`,
    );
    assert.deepEqual(
      latest.body.map((o: Wire) => o.name),
      ['18.04.202109180'],
    );
    const version = await get(
      '/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions/18.04.202109180?api-version=2020-06-01',
    );
    assert.equal(version.status, 200);
    assert.equal(version.body.properties.osDiskImage.operatingSystem, 'Linux');
    assert.deepEqual(version.body.properties.dataDiskImages, []);
    assert.equal(version.body.properties.hyperVGeneration, 'V1');
    assert.equal(version.body.properties.plan, undefined);
    assert.equal((await get('/Nobody/artifacttypes/vmimage/offers?api-version=2020-06-01')).status, 404);
    assert.equal(
      (
        await get(
          '/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions/9?api-version=2020-06-01',
        )
      ).status,
      404,
    );
    assert.equal(
      (
        await get(
          '/Canonical/artifacttypes/vmimage/offers/UbuntuServer/skus/18.04-LTS/versions?api-version=2020-06-01&$top=x',
        )
      ).body.error.code,
      'InvalidParameter',
    );
    assert.equal((await get('?api-version=2020-06-01', other)).status, 403, "another tenant's subscription");
  });

  it('deletes the network with its resource group', async () => {
    const group = `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resourcegroups/rg?api-version=2019-10-01`;
    assert.equal((await t.call('DELETE', group, { token: user })).status, 200);
    await t.call('PUT', group, { token: user, body: { location: 'local' } });
    assert.deepEqual((await expect(200, 'GET', 'virtualNetworks')).value, []);
    // The addresses are free again.
    await expect(201, 'PUT', 'virtualNetworks/vnet1', {
      location: 'local',
      properties: {
        addressSpace: { addressPrefixes: ['10.0.0.0/16'] },
        subnets: [{ name: 'default', properties: { addressPrefix: '10.0.0.0/24' } }],
      },
    });
    const nicAgain = await expect(201, 'PUT', 'networkInterfaces/nic1', nic('virtualNetworks/vnet1/subnets/default'));
    assert.equal(nicAgain.properties.ipConfigurations[0].properties.privateIPAddress, '10.0.0.4');
  });
});
