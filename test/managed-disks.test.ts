// Managed disks on the stack's tenant endpoint, against disk-months computed by hand, over a
// simulated April (30 days: 720 hours) and May (31 days: 744 hours) 2026:
//   data1  Standard_LRS 100 GB (S10), from 10 April 00:00 to 20 April 00:00: 240/720 of a disk-month
//   prem1  Premium_LRS 32 GB (P4) from 10 April 00:00, grown to 200 GB (P15) on 15 April 00:00,
//          alive through May: May's hours sum to exactly 1 disk-month and 200 GB-months
// and a VM's managed OS and data disks, the Compute RP's refusals, the quota in GB (also under
// concurrent creates), another tenant kept out, and the usage in the provider usage API and on
// the invoice like any other.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Decimal } from 'decimal.js';
import type { JsonResponse } from '../src/core/http-client.ts';
import { hourQuantities } from '../src/stack/metering/rules.ts';
import { customerWithSubscription, type CustomerWithSubscription } from './helpers/partner.ts';
import { tenantSubscription, vmBody, withStorageProfile } from './helpers/stack.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const S10 = 'd5f7731b-f639-404a-89d0-e46186e22c8d';
const P4 = '7660b45b-b29d-49cb-b816-59f30fbab011';
const P15 = 'cdc0f53a-62a9-4472-a06c-e99a23b02907';
const ACTUAL_STANDARD = '7ba084ec-ef9c-4d64-a179-7732c6cb5e28';
const ACTUAL_PREMIUM = 'daef389a-06e5-4684-a7f7-8813d9f792d5';
const DISKS = 'api-version=2019-07-01';
const COMPUTE = 'api-version=2020-06-01';
const V = 'api-version=2026-11-01';

interface AggregatePage {
  value: { properties: { usageStartTime: string; instanceData: string; meterId: string; quantity: number } }[];
  nextLink?: string;
}

describe('managed disks: the Compute RP, monthly meters, quotas and billing', () => {
  let t: TestSystem;
  let csp: string;
  let operator: string;
  let c: CustomerWithSubscription;
  let user: string;
  let sub: string;
  const rg = () => `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/resourceGroups/rg/providers`;
  const disk = (name: string) => `${rg()}/Microsoft.Compute/disks/${name}?${DISKS}`;
  /** Moves the clock, a week per request (each hour closes, is delivered and attributed on the way). */
  const advanceTo = async (to: string) => {
    const clock = await t.call('GET', `${t.b.hub.arm}/providers/Stackledger.System/clock?${V}`, { token: csp });
    for (let at = Date.parse(clock.body.now); at < Date.parse(to);) {
      at = Math.min(at + 7 * 24 * 3600_000, Date.parse(to));
      const res = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.System/clock/advance?${V}`, {
        token: csp,
        body: { to: new Date(at).toISOString() },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  };
  const putDisk = (name: string, body: object, token = user) =>
    t.call('PUT', disk(name), { token, body: { location: 'local', ...body } });
  const emptyDisk = (sku: string, diskSizeGB: number) => ({
    sku: { name: sku },
    properties: { creationData: { createOption: 'Empty' }, diskSizeGB },
  });
  const setQuota = async (properties: Record<string, number>) => {
    const url = `${t.b.stacks.local.adminArm}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Microsoft.Compute.Admin/locations/local/quotas/default?api-version=2018-02-09`;
    const res = await t.call('PUT', url, { token: operator, body: { properties } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  /** The provider usage API's hourly aggregates (by usage hour) for a range of reported time, summed per disk and meter. */
  const usageByDisk = async (from: string, to: string, monthPrefix: string) => {
    const sums = new Map<string, Decimal>();
    let url: string | undefined =
      `${t.b.stacks.local.adminArm}/subscriptions/${t.b.stacks.local.providerSubscriptionId}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates?api-version=2015-06-01-preview&reportedStartTime=${from}&reportedEndTime=${to}&aggregationGranularity=Hourly&showDetails=true&subscriberId=${sub}`;
    while (url) {
      const res: JsonResponse<AggregatePage> = await t.call('GET', url, { token: operator });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      for (const a of res.body.value) {
        if (!a.properties.usageStartTime.startsWith(monthPrefix)) continue;
        const uri: string = JSON.parse(a.properties.instanceData)['Microsoft.Resources'].resourceUri;
        if (!uri.includes('/Microsoft.Compute/disks/')) continue;
        const key = `${uri.split('/').pop()} ${a.properties.meterId}`;
        sums.set(key, (sums.get(key) ?? new Decimal(0)).plus(String(a.properties.quantity)));
      }
      url = res.body.nextLink;
    }
    return Object.fromEntries([...sums].map(([k, v]) => [k, v.toFixed(9)]));
  };

  before(async () => {
    t = await startTestSystem({ clock: new Date('2026-04-10T00:00:00Z') });
    csp = await t.appToken('csp', t.b.hub.arm);
    operator = await t.appToken('operator', t.b.stacks.local.adminArm);
    c = await customerWithSubscription(t, 'disks');
    ({ user, sub } = await tenantSubscription(t, c, 'disks'));
    // The customer's subscription is linked to the deployment's registration: its usage is billed to it.
    const reg = `${t.b.hub.arm}/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/${t.b.csp.resourceGroup}/providers/Microsoft.AzureStack/registrations/${t.b.csp.registrationName}`;
    const link = await t.call('PUT', `${reg}/customerSubscriptions/${c.subscriptionId}?api-version=2017-06-01`, {
      token: csp,
      body: { properties: {} },
    });
    assert.equal(link.status, 200, JSON.stringify(link.body));

    const data1 = await putDisk('data1', emptyDisk('Standard_LRS', 100));
    assert.equal(data1.status, 201, JSON.stringify(data1.body));
    assert.ok(data1.headers['azure-asyncoperation'], 'the long-running operation header');
    assert.equal((await putDisk('prem1', emptyDisk('Premium_LRS', 32))).status, 201);
    await advanceTo('2026-04-15T00:00:00Z');
    // az disk update: GET, then PUT with the new size.
    const grown = await t.call('PATCH', disk('prem1'), { token: user, body: { properties: { diskSizeGB: 200 } } });
    assert.equal(grown.status, 200, JSON.stringify(grown.body));
    assert.equal(grown.body.properties.diskSizeGB, 200);
    await advanceTo('2026-04-20T00:00:00Z');
    const deleted = await t.call('DELETE', disk('data1'), { token: user });
    assert.equal(deleted.status, 202);
    assert.ok(deleted.headers.location);
    assert.equal((await t.call('DELETE', disk('data1'), { token: user })).status, 204);
  });
  after(() => t.stop());

  it('creates, reads and lists a disk in the shape of the Compute RP', async () => {
    const one = await t.call('GET', disk('prem1'), { token: user });
    assert.equal(one.status, 200);
    assert.equal(one.body.type, 'Microsoft.Compute/disks');
    assert.deepEqual(one.body.sku, { name: 'Premium_LRS', tier: 'Premium' });
    assert.equal(one.body.properties.creationData.createOption, 'Empty');
    assert.equal(one.body.properties.diskState, 'Unattached');
    assert.equal(one.body.properties.diskSizeBytes, 200 * 1024 ** 3);
    assert.equal(one.body.managedBy, undefined);
    const inGroup = await t.call('GET', `${rg()}/Microsoft.Compute/disks?${DISKS}`, { token: user });
    assert.deepEqual(
      inGroup.body.value.map((d: { name: string }) => d.name),
      ['prem1'],
    );
    const inSub = await t.call(
      'GET',
      `${t.b.stacks.local.tenantArm}/subscriptions/${sub}/providers/Microsoft.Compute/disks?api-version=2017-03-30`,
      { token: user },
    );
    assert.equal(inSub.status, 200);
    assert.equal(inSub.body.value.length, 1);
  });

  it("refuses with the Compute RP's codes: shrinking, beyond 1023 GB, another sku, another create option", async () => {
    const shrink = await t.call('PATCH', disk('prem1'), { token: user, body: { properties: { diskSizeGB: 100 } } });
    assert.equal(shrink.status, 400);
    assert.equal(shrink.body.error.code, 'BadRequest');
    assert.match(shrink.body.error.message, /cannot be resized down/);
    for (const [body, code] of [
      [emptyDisk('Standard_LRS', 1024), 'InvalidParameter'],
      [emptyDisk('StandardSSD_LRS', 64), 'InvalidParameter'],
      [emptyDisk('Standard_LRS', 0), 'InvalidParameter'],
      [{ sku: { name: 'Standard_LRS' }, properties: { creationData: { createOption: 'Empty' } } }, 'InvalidParameter'],
      [{ properties: { creationData: { createOption: 'Copy' }, diskSizeGB: 10 } }, 'InvalidParameter'],
      [
        { properties: { creationData: { createOption: 'FromImage', imageReference: { id: '/x' } } } },
        'InvalidParameter',
      ],
    ] as const) {
      const res = await putDisk('bad', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code);
    }
    assert.equal((await t.call('GET', disk('bad'), { token: user })).status, 404, 'nothing was created');
  });

  it('meters disk-months by hand: 240/720 for ten days of April, a resize at its hour, exactly 1 for a whole May', async () => {
    await advanceTo('2026-06-01T01:00:00Z');
    const april = await usageByDisk('2026-04-10T00:00:00Z', '2026-05-01T01:00:00Z', '2026-04');
    assert.deepEqual(april, {
      // 240 hours of 720: round(456/720, 9) - round(216/720, 9) = 0.633333333 - 0.3.
      [`data1 ${S10}`]: '0.333333333',
      [`data1 ${ACTUAL_STANDARD}`]: '33.333333333',
      // P4 for 120 hours (10-15 April), then P15 for the remaining 384 hours of April.
      [`prem1 ${P4}`]: '0.166666667',
      [`prem1 ${P15}`]: '0.533333333',
      [`prem1 ${ACTUAL_PREMIUM}`]: '112.000000000', // 32 GB × 120/720 + 200 GB × 384/720 = 5.333333333 + 106.666666667
    });
    const may = await usageByDisk('2026-05-01T00:00:00Z', '2026-06-01T01:00:00Z', '2026-05');
    assert.deepEqual(may, { [`prem1 ${P15}`]: '1.000000000', [`prem1 ${ACTUAL_PREMIUM}`]: '200.000000000' });
  });

  it("computes by the reference rule: a month's hours sum to the monthly rate exactly, even split mid-hour", () => {
    const may = Date.parse('2026-05-01T00:00:00Z');
    const split = new Date(may + 100.5 * 3600_000); // a resize half-way through an hour
    const intervals = [
      { from: new Date(may - 3600_000), to: split, rates: { [P15]: 1, [ACTUAL_PREMIUM]: 200 } },
      { from: split, to: null, rates: { [P15]: 1, [ACTUAL_PREMIUM]: 300 } },
    ];
    const sums = new Map<string, Decimal>();
    for (let h = 0; h < 744; h++)
      for (const [meter, q] of hourQuantities(intervals, new Date(may + h * 3600_000)))
        sums.set(meter, (sums.get(meter) ?? new Decimal(0)).plus(q));
    assert.equal(sums.get(P15)?.toFixed(9), '1.000000000');
    // 200 GB for 100.5 of 744 hours, then 300 GB: each part rounded once, at the split.
    const before = new Decimal(200).times(100.5).dividedBy(744).toDecimalPlaces(9);
    const after = new Decimal(300).minus(new Decimal(300).times(100.5).dividedBy(744).toDecimalPlaces(9));
    assert.equal(sums.get(ACTUAL_PREMIUM)?.toFixed(9), before.plus(after).toFixed(9));
  });

  it('puts the disks on the invoice like any other usage, at the list prices of their tiers', async () => {
    const list = await t.call(
      'GET',
      `${t.b.hub.arm}/providers/Stackledger.Billing/invoices?${V}&period=2026-04&customerId=${c.customerId}`,
      { token: csp },
    );
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const invoice = list.body.value.find((i: { properties: { kind: string } }) => i.properties.kind === 'invoice');
    const one = await t.call('GET', `${t.b.hub.arm}/providers/Stackledger.Billing/invoices/${invoice.name}?${V}`, {
      token: csp,
    });
    const lines: { meterId: string; quantity: string; unitPrice: string; resourceUri: string }[] =
      one.body.properties.lines;
    const s10 = lines.filter((l) => l.meterId === S10);
    assert.equal(
      s10.reduce((n, l) => n.plus(l.quantity), new Decimal(0)).toFixed(9),
      '0.333333333',
      JSON.stringify(s10),
    );
    assert.ok(s10.every((l) => l.resourceUri.endsWith('/Microsoft.Compute/disks/data1')));
    assert.equal(Number(s10[0].unitPrice), 1.28, 'S10: US$0.01 per GB of its 128 GB tier, per month');
    assert.ok(lines.some((l) => l.meterId === P15));
  });

  it('creates the managed OS disk and data disks of a VM, named as Azure names them, held by the VM', async () => {
    assert.equal((await putDisk('spare', emptyDisk('Standard_LRS', 10))).status, 201);
    const spareId = `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/disks/spare`;
    const body = vmBody('Standard_A2_v2');
    const vm = await t.call('PUT', `${rg()}/Microsoft.Compute/virtualMachines/web?${COMPUTE}`, {
      token: user,
      body: withStorageProfile(body, {
        osDisk: {
          createOption: 'fromImage',
          caching: 'ReadWrite',
          managedDisk: { storageAccountType: 'Premium_LRS' },
        },
        dataDisks: [
          { lun: 0, createOption: 'Empty', diskSizeGb: 64 },
          { lun: 1, createOption: 'attach', managedDisk: { id: spareId } },
        ],
      }),
    });
    assert.equal(vm.status, 201, JSON.stringify(vm.body));
    const vmId = `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web`;
    const os = vm.body.properties.storageProfile.osDisk;
    assert.match(os.name, /^web_OsDisk_1_[0-9a-f]{32}$/);
    assert.equal(os.managedDisk.storageAccountType, 'Premium_LRS');
    const osDisk = await t.call('GET', disk(os.name), { token: user });
    assert.equal(osDisk.status, 200);
    assert.equal(osDisk.body.managedBy, vmId);
    assert.equal(osDisk.body.properties.diskSizeGB, 30, "the Ubuntu image's 30 GB");
    assert.equal(osDisk.body.properties.osType, 'Linux');
    assert.equal(osDisk.body.properties.creationData.createOption, 'FromImage');
    const data = vm.body.properties.storageProfile.dataDisks;
    assert.deepEqual(
      data.map((d: { lun: number; createOption: string; diskSizeGB: number }) => [d.lun, d.createOption, d.diskSizeGB]),
      [
        [0, 'Empty', 64],
        [1, 'Attach', 10],
      ],
    );
    const spare = await t.call('GET', disk('spare'), { token: user });
    assert.equal(spare.body.managedBy, vmId);
    assert.equal(spare.body.properties.diskState, 'Attached');

    // An attached disk cannot be deleted, nor attached to another VM.
    const refused = await t.call('DELETE', disk('spare'), { token: user });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'OperationNotAllowed');
    assert.match(refused.body.error.message, /is attached to VM/);
    const twice = await t.call('PUT', `${rg()}/Microsoft.Compute/virtualMachines/other?${COMPUTE}`, {
      token: user,
      body: withStorageProfile(body, { dataDisks: [{ lun: 0, createOption: 'Attach', managedDisk: { id: spareId } }] }),
    });
    assert.equal(twice.status, 409, JSON.stringify(twice.body));
    assert.equal(
      (await t.call('GET', `${rg()}/Microsoft.Compute/virtualMachines/other?${COMPUTE}`, { token: user })).status,
      404,
    );

    // Detaching (a PUT without the disk) frees it; deleting the VM leaves its disks, detached.
    const detached = await t.call('PATCH', `${rg()}/Microsoft.Compute/virtualMachines/web?${COMPUTE}`, {
      token: user,
      body: { properties: { storageProfile: { dataDisks: [data[0]] } } },
    });
    assert.equal(detached.status, 200, JSON.stringify(detached.body));
    assert.equal((await t.call('GET', disk('spare'), { token: user })).body.managedBy, undefined);
    assert.equal((await t.call('DELETE', disk('spare'), { token: user })).status, 202);
    assert.equal(
      (await t.call('DELETE', `${rg()}/Microsoft.Compute/virtualMachines/web?${COMPUTE}`, { token: user })).status,
      202,
    );
    const left = await t.call('GET', disk(os.name), { token: user });
    assert.equal(left.status, 200, 'the OS disk stays, as in Azure by default');
    assert.equal(left.body.managedBy, undefined);
    assert.equal(left.body.properties.diskState, 'Unattached');
  });

  it("deletes a VM's OS disk with it when its deleteOption says Delete", async () => {
    const body = vmBody('Standard_A1_v2', true);
    const vm = await t.call('PUT', `${rg()}/Microsoft.Compute/virtualMachines/temp?${COMPUTE}`, {
      token: user,
      body: withStorageProfile(body, {
        osDisk: { name: 'temp-os', createOption: 'FromImage', managedDisk: {}, deleteOption: 'Delete' },
      }),
    });
    assert.equal(vm.status, 201, JSON.stringify(vm.body));
    const os = await t.call('GET', disk('temp-os'), { token: user });
    assert.equal(os.body.properties.diskSizeGB, 127, "the Windows image's 127 GB");
    assert.equal(os.body.sku.name, 'Standard_LRS');
    assert.equal(
      (await t.call('DELETE', `${rg()}/Microsoft.Compute/virtualMachines/temp?${COMPUTE}`, { token: user })).status,
      202,
    );
    assert.equal((await t.call('GET', disk('temp-os'), { token: user })).status, 404);
  });

  it("deletes a group's VM and its attached disks together", async () => {
    const tenant = `${t.b.stacks.local.tenantArm}/subscriptions/${sub}`;
    assert.equal(
      (
        await t.call('PUT', `${tenant}/resourcegroups/g2?api-version=2019-10-01`, {
          token: user,
          body: { location: 'local' },
        })
      ).status,
      201,
    );
    const body = vmBody('Standard_A1_v2');
    const vm = await t.call(
      'PUT',
      `${tenant}/resourceGroups/g2/providers/Microsoft.Compute/virtualMachines/gvm?${COMPUTE}`,
      {
        token: user,
        body: withStorageProfile(body, { osDisk: { createOption: 'FromImage', managedDisk: {} } }),
      },
    );
    assert.equal(vm.status, 201, JSON.stringify(vm.body));
    assert.equal(
      (await t.call('DELETE', `${tenant}/resourcegroups/g2?api-version=2019-10-01`, { token: user })).status,
      200,
    );
    const left = await t.call('GET', `${tenant}/providers/Microsoft.Compute/disks?${DISKS}`, { token: user });
    assert.equal(
      left.body.value.some((d: { id: string }) => d.id.includes('/resourceGroups/g2/')),
      false,
      JSON.stringify(left.body),
    );
  });

  it('keeps another tenant out: it can neither see nor delete the disk', async () => {
    const other = await tenantSubscription(t, await customerWithSubscription(t, 'disks-other'), 'other');
    for (const method of ['GET', 'DELETE', 'PATCH']) {
      const res = await t.call(method, disk('prem1'), { token: other.user, body: { properties: { diskSizeGB: 300 } } });
      assert.equal(res.status, 403, `${method}: ${JSON.stringify(res.body)}`);
    }
    const listed = await t.call('GET', `${rg()}/Microsoft.Compute/disks?${DISKS}`, { token: other.user });
    assert.equal(listed.status, 403);
    const still = await t.call('GET', disk('prem1'), { token: user });
    assert.equal(still.body.properties.diskSizeGB, 200, 'nothing changed');
  });

  it('holds the quota in GB per sku, also under concurrent creates', async () => {
    // In use: Standard, the 64 GB data disk `web` left; Premium, prem1's 200 GB and web's 30 GB OS disk.
    await setQuota({
      maxAllocationStandardManagedDisksAndSnapshots: 144,
      maxAllocationPremiumManagedDisksAndSnapshots: 250,
    });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => putDisk(`q${i}`, emptyDisk('Standard_LRS', 40))),
    );
    const codes = results.map((r) => r.status).sort();
    assert.deepEqual(codes, [201, 201, 409, 409, 409, 409, 409, 409], JSON.stringify(results.map((r) => r.body)));
    const over = results.find((r) => r.status === 409);
    assert.equal(over?.body.error.code, 'OperationNotAllowed');
    assert.match(over?.body.error.message, /maxAllocationStandardManagedDisksAndSnapshots.*Maximum allowed: 144/);
    // Growing a premium disk beyond its quota is refused too; within it, fine.
    const grow = await t.call('PATCH', disk('prem1'), { token: user, body: { properties: { diskSizeGB: 260 } } });
    assert.equal(grow.status, 409, JSON.stringify(grow.body));
    assert.equal((await t.call('GET', disk('prem1'), { token: user })).body.properties.diskSizeGB, 200);
    assert.equal(
      (await t.call('PATCH', disk('prem1'), { token: user, body: { properties: { diskSizeGB: 220 } } })).status,
      200,
    );
  });
});
