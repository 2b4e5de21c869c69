// Step 8 of the seed and the meters: a tenant creates resources on the stack; each hour closes into
// one record per resource and meter, computed exactly from the resource's lifecycle.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { withDatabase } from '../src/db/database.ts';
import { hourQuantities } from '../src/stack/metering/rules.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { onboardCustomer } from './helpers/stack.ts';
import { startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const BASE = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
const WINDOWS = '9cd92d4c-bafd-4492-b278-bedc2de8232a';
const VM_HOURS = '6dab500f-a4fd-49c4-956d-229bb9c8c793';
const STATIC_IP = 'f271a8a3-88c4-4d93-956a-063e1d2fa80b';
const BLOB = '09f8879e-87e9-4305-a572-4b7be209f857';
const COMPUTE = 'api-version=2020-06-01';

const windowsVm = (size: string) => ({
  location: 'local',
  properties: {
    hardwareProfile: { vmSize: size },
    storageProfile: {
      imageReference: {
        publisher: 'MicrosoftWindowsServer',
        offer: 'WindowsServer',
        sku: '2019-Datacenter',
        version: 'latest',
      },
    },
    osProfile: { computerName: 'win01', adminUsername: 'azureuser', adminPassword: 'P@ssw0rd-1234!' },
  },
});

/** An SSH wire-format string: its uint32 length, then its bytes. */
function lengthPrefixed(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}
/** An SSH mpint from a big-endian unsigned number: a leading zero when its top bit is set. */
const mpint = (bytes: Buffer) => lengthPrefixed(bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const openSsh = (type: string, ...parts: Buffer[]) =>
  `${type} ${Buffer.concat([lengthPrefixed(Buffer.from(type)), ...parts]).toString('base64')} test@stackledger`;
/** A new Ed25519 public key in OpenSSH's one-line format, as ssh-keygen writes `id_ed25519.pub`. */
function sshEd25519PublicKey(): string {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  return openSsh('ssh-ed25519', lengthPrefixed(Buffer.from(jwk.x!, 'base64url')));
}
function sshRsaPublicKey(bits: number): string {
  const jwk = generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' });
  return openSsh('ssh-rsa', mpint(Buffer.from(jwk.e!, 'base64url')), mpint(Buffer.from(jwk.n!, 'base64url')));
}
const PRIVATE_KEY = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  '-----END OPENSSH PRIVATE KEY-----',
].join('\n');

describe('resources and their meters on the stack', () => {
  let t: TestSystem;
  let tenant: string;
  let customer: CustomerWithSubscription;
  let user: string;
  // The storage service reports used capacity as the operator's side, on the tenant endpoint.
  const storageService = () => t.appToken('operator', t.b.stacks.local.tenantArm);
  let sub: string;
  let stackDb: pg.Client;
  const rg = () => `${tenant}/subscriptions/${sub}/resourceGroups/app`;

  const advance = async (duration: string) => {
    const res = await t.call(
      'POST',
      `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?api-version=2026-11-01`,
      { token: await t.appToken('csp', t.b.hub.arm), body: { duration } },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  /** The records of a resource, as `hour meter quantity` lines (revisions summed per hour and meter). */
  const records = async (name: string) => {
    const { rows } = await stackDb.query(
      `select to_char(hour at time zone 'UTC', 'HH24') as h, meter_id::text as m, sum(quantity)::text as q, count(*)::int as n
       from usage_records where resource_uri like $1 group by hour, meter_id order by hour, meter_id`,
      [`%/${name}`],
    );
    return rows.map((r) => `${r.h} ${r.m} ${r.q}`);
  };

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-04-01T00:00:00Z') });
    tenant = t.b.stacks.local.tenantArm;
    customer = await customerWithSubscription(t, 'vmtenant');
    await onboardCustomer(t, customer);
    user = await t.userToken(customer.customerId, customer.admin.userName, customer.admin.password, tenant);
    sub = randomUUID();
    await t.http.call('PUT', `${tenant}/subscriptions/${sub}?api-version=2015-11-01`, {
      token: user,
      body: { displayName: 'vms', offerId: '/delegatedProviders/default/offers/base-offer' },
    });
    await t.http.call('PUT', `${tenant}/subscriptions/${sub}/resourcegroups/app?api-version=2019-10-01`, {
      token: user,
      body: { location: 'local' },
    });
    stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
    await stackDb.connect();
  });
  after(async () => {
    await stackDb.end();
    await t.stop();
  });

  it('creates a Windows VM as a user of the customer directory, with the long-running operation headers', async () => {
    await advance('PT20M'); // 00:20
    const created = await t.call('PUT', `${rg()}/providers/Microsoft.Compute/virtualMachines/win01?${COMPUTE}`, {
      token: user,
      body: windowsVm('Standard_D2_v2'),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.properties.provisioningState, 'Succeeded');
    assert.equal(
      created.body.properties.storageProfile.imageReference.exactVersion,
      '17763.2183.2109130127',
      'latest resolves to a version',
    );
    assert.equal(created.body.properties.osProfile.adminPassword, undefined, 'the password is never shown');
    const operation = await t.call('GET', String(created.headers['azure-asyncoperation']), { token: user });
    assert.equal(operation.status, 200);
    assert.equal(operation.body.status, 'Succeeded');
    const view = await t.call(
      'GET',
      `${rg()}/providers/Microsoft.Compute/virtualMachines/win01/instanceView?${COMPUTE}`,
      { token: user },
    );
    assert.deepEqual(
      view.body.statuses.map((s: { code: unknown }) => s.code),
      ['ProvisioningState/succeeded', 'PowerState/running'],
    );
    // The hybrid profile 2019-03-01 speaks Compute 2017-12-01: the same VM reads the same.
    assert.equal(
      (
        await t.call('GET', `${rg()}/providers/Microsoft.Compute/virtualMachines/win01?api-version=2017-12-01`, {
          token: user,
        })
      ).status,
      200,
    );
    const listed = await t.call(
      'GET',
      `${tenant}/subscriptions/${sub}/providers/Microsoft.Compute/virtualMachines?${COMPUTE}`,
      { token: user },
    );
    assert.deepEqual(
      listed.body.value.map((v: { name: unknown }) => v.name),
      ['win01'],
    );
    // Also a static public IP and a storage account holding 10 GB of blobs.
    assert.equal(
      (
        await t.call('PUT', `${rg()}/providers/Microsoft.Network/publicIPAddresses/ip01?api-version=2018-11-01`, {
          token: user,
          body: { location: 'local', properties: { publicIPAllocationMethod: 'Static' } },
        })
      ).status,
      201,
    );
    assert.equal(
      (
        await t.call('PUT', `${rg()}/providers/Microsoft.Storage/storageAccounts/data01?api-version=2019-06-01`, {
          token: user,
          body: { location: 'local', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await t.call(
          'POST',
          `${rg()}/providers/Microsoft.Storage/storageAccounts/data01/usedCapacity?api-version=2026-11-01`,
          { token: await storageService(), body: { blobGb: 10 } },
        )
      ).status,
      200,
    );
  });

  it('meters exactly what the lifecycle says: partial hours, resize, stop, deallocate, start, delete', async () => {
    const vm = `${rg()}/providers/Microsoft.Compute/virtualMachines/win01`;
    await advance('PT40M'); // 01:00
    await advance('PT10M'); // 01:10 resize to 4 cores
    const resized = await t.call('PATCH', `${vm}?${COMPUTE}`, {
      token: user,
      body: { properties: { hardwareProfile: { vmSize: 'Standard_D3_v2' } } },
    });
    assert.equal(resized.status, 200, JSON.stringify(resized.body));
    assert.equal(resized.body.properties.hardwareProfile.vmSize, 'Standard_D3_v2');
    await advance('PT20M'); // 01:30 stop: a stopped VM still meters
    assert.equal((await t.call('POST', `${vm}/powerOff?${COMPUTE}`, { token: user })).status, 202);
    assert.equal(
      (
        await t.call(
          'POST',
          `${rg()}/providers/Microsoft.Storage/storageAccounts/data01/usedCapacity?api-version=2026-11-01`,
          { token: await storageService(), body: { blobGb: 20 } },
        )
      ).status,
      200,
    );
    await advance('PT15M'); // 01:45 deallocate: metering stops
    const deallocated = await t.call('POST', `${vm}/deallocate?${COMPUTE}`, { token: user });
    assert.equal(deallocated.status, 202);
    assert.ok(deallocated.headers.location && deallocated.headers['azure-asyncoperation']);
    await advance('PT2H'); // 03:45 start
    assert.equal((await t.call('POST', `${vm}/start?${COMPUTE}`, { token: user })).status, 202);
    await advance('PT30M'); // 04:15 delete
    const deleted = await t.call('DELETE', `${vm}?${COMPUTE}`, { token: user });
    assert.equal(deleted.status, 202);
    assert.equal((await t.call('GET', String(deleted.headers.location), { token: user })).status, 204);
    assert.equal((await t.call('DELETE', `${vm}?${COMPUTE}`, { token: user })).status, 204);
    await advance('PT2H'); // 06:15

    // Hand-computed: 2 vCPUs 00:20-01:10, 4 vCPUs 01:10-01:45 (stopped from 01:30), none to 03:45, 4 to 04:15.
    assert.deepEqual(await records('win01'), [
      `00 ${VM_HOURS} 0.666666667`,
      `00 ${WINDOWS} 1.333333333`,
      `00 ${BASE} 1.333333333`,
      `01 ${VM_HOURS} 0.750000000`,
      `01 ${WINDOWS} 2.666666667`,
      `01 ${BASE} 2.666666667`,
      `03 ${VM_HOURS} 0.250000000`,
      `03 ${WINDOWS} 1.000000000`,
      `03 ${BASE} 1.000000000`,
      `04 ${VM_HOURS} 0.250000000`,
      `04 ${WINDOWS} 1.000000000`,
      `04 ${BASE} 1.000000000`,
    ]);
    const ip = await records('ip01');
    assert.deepEqual(ip.slice(0, 3), [
      `00 ${STATIC_IP} 0.666666667`,
      `01 ${STATIC_IP} 1.000000000`,
      `02 ${STATIC_IP} 1.000000000`,
    ]);
    assert.equal(ip.length, 6, 'hours 00 to 05 are closed');
    // 10 GB for 40 minutes; then 10 GB for 30 minutes and 20 GB for 30.
    assert.deepEqual((await records('data01')).slice(0, 2), [`00 ${BLOB} 6.666666667`, `01 ${BLOB} 15.000000000`]);
  });

  it('closes an hour once: closing again changes nothing', async () => {
    const { rows: before } = await stackDb.query('select count(*)::int as n from usage_records');
    await advance('PT0S');
    await advance('PT0S');
    const { rows: after } = await stackDb.query('select count(*)::int as n from usage_records');
    assert.equal(after[0].n, before[0].n);
    const { rows: revisions } = await stackDb.query('select max(revision)::int as r from usage_records');
    assert.equal(revisions[0].r, 1);
  });

  it('agrees with the reference computation of the meters', async () => {
    const { rows } = await stackDb.query(
      `select s.valid_from, s.valid_to, s.rates from resource_states s join resources r on r.id = s.resource_id where r.name = 'win01' order by s.valid_from, s.id`,
    );
    const intervals = rows.map((r) => ({ from: r.valid_from, to: r.valid_to, rates: r.rates }));
    const h01 = hourQuantities(intervals, new Date('2026-04-01T01:00:00Z'));
    assert.equal(h01.get(BASE), '2.666666667');
    assert.equal(h01.get(VM_HOURS), '0.750000000');
    assert.equal(hourQuantities(intervals, new Date('2026-04-01T02:00:00Z')).size, 0);
  });

  it('enforces the quotas of the offer: over quota, the ARM quota error and nothing created', async () => {
    // The default quota allows 50 cores: ask for 13 VMs of 4 cores.
    for (let i = 0; i < 12; i++) {
      const res = await t.call('PUT', `${rg()}/providers/Microsoft.Compute/virtualMachines/big${i}?${COMPUTE}`, {
        token: user,
        body: windowsVm('Standard_D3_v2'),
      });
      assert.equal(res.status, 201, `big${i}: ${JSON.stringify(res.body)}`);
    }
    const over = await t.call('PUT', `${rg()}/providers/Microsoft.Compute/virtualMachines/big12?${COMPUTE}`, {
      token: user,
      body: windowsVm('Standard_D3_v2'),
    });
    assert.equal(over.status, 409);
    assert.equal(over.body.error.code, 'OperationNotAllowed');
    assert.match(
      over.body.error.message,
      /quota limits of Core\. Maximum allowed: 50, Current in use: 48, Additional requested: 4/,
    );
    assert.equal(
      (await t.call('GET', `${rg()}/providers/Microsoft.Compute/virtualMachines/big12?${COMPUTE}`, { token: user }))
        .status,
      404,
    );
    // Deallocating frees cores.
    assert.equal(
      (
        await t.call('POST', `${rg()}/providers/Microsoft.Compute/virtualMachines/big0/deallocate?${COMPUTE}`, {
          token: user,
        })
      ).status,
      202,
    );
    assert.equal(
      (
        await t.call('PUT', `${rg()}/providers/Microsoft.Compute/virtualMachines/big12?${COMPUTE}`, {
          token: user,
          body: windowsVm('Standard_D3_v2'),
        })
      ).status,
      201,
    );
    const restart = await t.call('POST', `${rg()}/providers/Microsoft.Compute/virtualMachines/big0/start?${COMPUTE}`, {
      token: user,
    });
    assert.equal(restart.status, 409, 'starting it again would exceed the cores');
    // Deleting the resource group deletes its resources, which stop metering.
    assert.equal((await t.call('DELETE', `${rg()}?api-version=2019-10-01`, { token: user })).status, 200);
    const { rows } = await stackDb.query('select count(*)::int as n from resource_states where valid_to is null');
    assert.equal(rows[0].n, 0);
  });

  it('refuses bad resources with their own errors', async () => {
    await t.http.call('PUT', `${tenant}/subscriptions/${sub}/resourcegroups/app2?api-version=2019-10-01`, {
      token: user,
      body: { location: 'local' },
    });
    const base = `${tenant}/subscriptions/${sub}/resourceGroups/app2/providers`;
    const badSize = await t.call('PUT', `${base}/Microsoft.Compute/virtualMachines/x?${COMPUTE}`, {
      token: user,
      body: windowsVm('Standard_Z99'),
    });
    assert.equal(badSize.status, 400);
    assert.equal(badSize.body.error.code, 'InvalidParameter');
    const badImage = await t.call('PUT', `${base}/Microsoft.Compute/virtualMachines/x?${COMPUTE}`, {
      token: user,
      body: {
        ...windowsVm('Standard_A1_v2'),
        properties: {
          ...windowsVm('Standard_A1_v2').properties,
          storageProfile: { imageReference: { publisher: 'Nope', offer: 'Nope', sku: 'x', version: 'latest' } },
        },
      },
    });
    assert.equal(badImage.status, 404);
    assert.equal(badImage.body.error.code, 'PlatformImageNotFound');
    const numericImage = await t.call('PUT', `${base}/Microsoft.Compute/virtualMachines/x?${COMPUTE}`, {
      token: user,
      body: {
        ...windowsVm('Standard_A1_v2'),
        properties: {
          ...windowsVm('Standard_A1_v2').properties,
          storageProfile: { imageReference: { publisher: 5, offer: 'WindowsServer', sku: '2019-Datacenter' } },
        },
      },
    });
    assert.equal(numericImage.status, 400, 'an image reference field that is not a string is refused, not a 500');
    assert.equal(numericImage.body.error.code, 'InvalidRequestContent');
    const badLocation = await t.call('PUT', `${base}/Microsoft.Network/publicIPAddresses/x?api-version=2018-11-01`, {
      token: user,
      body: { location: 'westeurope' },
    });
    assert.equal(badLocation.status, 400);
    assert.equal(badLocation.body.error.code, 'LocationNotAvailableForResourceType');
    const badName = await t.call('PUT', `${base}/Microsoft.Storage/storageAccounts/Bad_Name?api-version=2019-06-01`, {
      token: user,
      body: { location: 'local', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
    });
    assert.equal(badName.status, 400);
    assert.equal(badName.body.error.code, 'AccountNameInvalid');
    const taken = await t.call('PUT', `${base}/Microsoft.Storage/storageAccounts/data01?api-version=2019-06-01`, {
      token: user,
      body: { location: 'local', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
    });
    // The Storage RP answers a create with 200: done when answered.
    assert.equal(taken.status, 200, 'the name is free again once its account went with its group');
    const noGroup = await t.call(
      'PUT',
      `${tenant}/subscriptions/${sub}/resourceGroups/none/providers/Microsoft.Network/publicIPAddresses/x?api-version=2018-11-01`,
      { token: user, body: { location: 'local' } },
    );
    assert.equal(noGroup.status, 404);
    assert.equal(noGroup.body.error.code, 'ResourceGroupNotFound');
    const wrongVersion = await t.call('GET', `${base}/Microsoft.Compute/virtualMachines?api-version=2015-01-01`, {
      token: user,
    });
    assert.equal(
      wrongVersion.body.error.code,
      'NoRegisteredProviderFound',
      "a provider's type answers as ARM's providers do",
    );
    assert.match(wrongVersion.body.error.message, /2020-06-01/);
  });

  it("keeps a Linux VM's SSH public keys and refuses private, weak or misplaced ones", async () => {
    const base = `${tenant}/subscriptions/${sub}/resourceGroups/app2/providers/Microsoft.Compute/virtualMachines`;
    const publicKey = sshEd25519PublicKey();
    const linuxVm = (linuxConfiguration: unknown, password?: string) => ({
      location: 'local',
      properties: {
        hardwareProfile: { vmSize: 'Standard_A1_v2' },
        storageProfile: {
          imageReference: { publisher: 'Canonical', offer: 'UbuntuServer', sku: '18.04-LTS', version: 'latest' },
        },
        osProfile: {
          computerName: 'lx',
          adminUsername: 'azureuser',
          ...(password ? { adminPassword: password } : {}),
          linuxConfiguration,
        },
      },
    });
    const ssh = (keyData: string, path = '/home/azureuser/.ssh/authorized_keys') => ({
      disablePasswordAuthentication: true,
      ssh: { publicKeys: [{ path, keyData }] },
    });
    const refused: [string, unknown, string?][] = [
      ['a private key', ssh(PRIVATE_KEY), 'keyData'],
      ['an RSA key of 1024 bits', ssh(sshRsaPublicKey(1024)), 'keyData'],
      ['a key whose blob names another type', ssh(publicKey.replace('ssh-ed25519', 'ssh-rsa')), 'keyData'],
      ['another path', ssh(publicKey, '/root/.ssh/authorized_keys'), 'path'],
      ['no key with passwords disabled', { disablePasswordAuthentication: true }],
      ['neither a password nor keys', {}],
    ];
    for (const [what, config, target] of refused) {
      const res = await t.call('PUT', `${base}/lx?${COMPUTE}`, { token: user, body: linuxVm(config) });
      assert.equal(res.status, 400, what);
      assert.equal(res.body.error.code, 'InvalidParameter', what);
      if (target) assert.ok(res.body.error.target.endsWith(target), `${what}: ${res.body.error.target}`);
      assert.ok(!JSON.stringify(res.body).includes('PRIVATE'), 'a key is never repeated');
    }
    const notObject = await t.call('PUT', `${base}/lx?${COMPUTE}`, { token: user, body: linuxVm('ssh') });
    assert.equal(notObject.status, 400);
    assert.equal(notObject.body.error.code, 'InvalidRequestContent');
    assert.equal((await t.call('GET', `${base}/lx?${COMPUTE}`, { token: user })).status, 404, 'nothing was made');

    const made = await t.call('PUT', `${base}/lx?${COMPUTE}`, { token: user, body: linuxVm(ssh(publicKey)) });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const shown = await t.call('GET', `${base}/lx?${COMPUTE}`, { token: user });
    assert.deepEqual(shown.body.properties.osProfile.linuxConfiguration, {
      disablePasswordAuthentication: true,
      provisionVMAgent: true,
      ssh: { publicKeys: [{ path: '/home/azureuser/.ssh/authorized_keys', keyData: publicKey }] },
    });
    const withPassword = await t.call('PUT', `${base}/lx2?${COMPUTE}`, {
      token: user,
      body: linuxVm(undefined, 'P@ssw0rd-1234!'),
    });
    assert.equal(withPassword.status, 201);
    assert.deepEqual(withPassword.body.properties.osProfile, {
      computerName: 'lx',
      adminUsername: 'azureuser',
      linuxConfiguration: { disablePasswordAuthentication: false, provisionVMAgent: true },
    });
    for (const name of ['lx', 'lx2'])
      assert.equal((await t.call('DELETE', `${base}/${name}?${COMPUTE}`, { token: user })).status, 202);
  });

  it('stops metering while the subscription is suspended', async () => {
    await t.http.call('PUT', `${tenant}/subscriptions/${sub}/resourcegroups/susp?api-version=2019-10-01`, {
      token: user,
      body: { location: 'local' },
    });
    await t.call(
      'PUT',
      `${tenant}/subscriptions/${sub}/resourceGroups/susp/providers/Microsoft.Network/publicIPAddresses/ip-s?api-version=2018-11-01`,
      { token: user, body: { location: 'local', properties: { publicIPAllocationMethod: 'Static' } } },
    );
    const now = new Date(
      (
        await t.call('GET', `${t.b.hub.arm}/providers/Stackledger.System/clock?api-version=2026-11-01`, {
          token: await t.appToken('csp', t.b.hub.arm),
        })
      ).body.now,
    );
    assert.equal(now.getUTCMinutes(), 15);
    await advance('PT45M'); // to the next hour
    const operator = await t.appToken('operator', t.b.stacks.local.adminArm);
    const adminUrl = `${t.b.stacks.local.adminArm}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Microsoft.Subscriptions.Admin/subscriptions/${sub}?api-version=2015-11-01`;
    await advance('PT30M');
    assert.equal(
      (await t.call('PUT', adminUrl, { token: operator, body: { properties: { state: 'Disabled' } } })).status,
      200,
    );
    await advance('PT2H');
    assert.equal(
      (await t.call('PUT', adminUrl, { token: operator, body: { properties: { state: 'Enabled' } } })).status,
      200,
    );
    await advance('PT1H30M');
    const lines = await records('ip-s');
    // 45 minutes, half an hour before the suspension, nothing for two hours, then whole hours again.
    assert.deepEqual(
      lines.map((l) => l.split(' ')[2]),
      ['0.750000000', '0.500000000', '0.500000000', '1.000000000'],
    );
  });

  it('turns a late lifecycle event into correcting records, never a silent rewrite', async () => {
    await t.http.call('PUT', `${tenant}/subscriptions/${sub}/resourcegroups/late?api-version=2019-10-01`, {
      token: user,
      body: { location: 'local' },
    });
    const vmId = `/subscriptions/${sub}/resourceGroups/late/providers/Microsoft.Compute/virtualMachines/late01`;
    const created = await t.call('PUT', `${tenant}${vmId}?${COMPUTE}`, {
      token: user,
      body: windowsVm('Standard_A2_v2'),
    });
    assert.equal(created.status, 201);
    const clock = async () =>
      new Date(
        (
          await t.call('GET', `${t.b.hub.arm}/providers/Stackledger.System/clock?api-version=2026-11-01`, {
            token: await t.appToken('csp', t.b.hub.arm),
          })
        ).body.now,
      );
    const start = await clock(); // on the hour
    assert.equal(start.getUTCMinutes(), 0);
    await advance('PT3H'); // three whole hours closed: 2 vCPUs each
    const hour = (k: number) => new Date(start.getTime() + k * 3_600_000).toISOString().slice(11, 13);
    const base = async () => (await records('late01')).filter((l) => l.includes(BASE));
    assert.deepEqual(
      await base(),
      [0, 1, 2].map((k) => `${hour(k)} ${BASE} 2.000000000`),
    );

    // The fabric reports now that the VM was deallocated 30 minutes into the second hour.
    const operator = await t.appToken('operator', t.b.stacks.local.adminArm);
    const at = new Date(start.getTime() + 90 * 60_000).toISOString();
    const report = await t.call(
      'POST',
      `${t.b.stacks.local.adminArm}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Stackledger.System/lateStateReports?api-version=2026-11-01`,
      {
        token: operator,
        body: { resourceId: vmId, at, powerState: 'deallocated' },
      },
    );
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.equal(report.body.reopenedHours, 2);
    await advance('PT1H');
    // Hour 1 now holds 1 vCPU hour, hour 2 none, hour 3 none: written as corrections (revision 2).
    assert.deepEqual(await base(), [
      `${hour(0)} ${BASE} 2.000000000`,
      `${hour(1)} ${BASE} 1.000000000`,
      `${hour(2)} ${BASE} 0.000000000`,
    ]);
    const { rows } = await stackDb.query(
      `select to_char(hour at time zone 'UTC', 'HH24') as h, revision, quantity::text as q from usage_records where resource_uri like '%/late01' and meter_id = $1 order by hour, revision`,
      [BASE],
    );
    assert.deepEqual(
      rows.map((r) => `${r.h} r${r.revision} ${r.q}`),
      [
        `${hour(0)} r1 2.000000000`,
        `${hour(1)} r1 2.000000000`,
        `${hour(1)} r2 -1.000000000`,
        `${hour(2)} r1 2.000000000`,
        `${hour(2)} r2 -2.000000000`,
      ],
    );
    const vm = await t.call('GET', `${tenant}${vmId}/instanceView?${COMPUTE}`, { token: user });
    assert.equal(vm.body.statuses[1].code, 'PowerState/deallocated');
    // Reports from a tenant, or for the future, are refused.
    const tenantOnAdmin = await t.userToken(
      customer.customerId,
      customer.admin.userName,
      customer.admin.password,
      t.b.stacks.local.adminArm,
    );
    const refused = await t.call(
      'POST',
      `${t.b.stacks.local.adminArm}/subscriptions/${sub}/providers/Stackledger.System/lateStateReports?api-version=2026-11-01`,
      {
        token: tenantOnAdmin,
        body: { resourceId: vmId, at, powerState: 'running' },
      },
    );
    assert.ok([400, 403].includes(refused.status));
    const future = await t.call(
      'POST',
      `${t.b.stacks.local.adminArm}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Stackledger.System/lateStateReports?api-version=2026-11-01`,
      {
        token: operator,
        body: { resourceId: vmId, at: '2099-01-01T00:00:00Z', powerState: 'running' },
      },
    );
    assert.equal(future.status, 400);
  });
});
