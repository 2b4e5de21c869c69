import { randomBytes, randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import { consentToStack, onboardDirectory } from '../system/register.ts';
import { actorOptions, whoActs, type ActorFlags } from './actor.ts';
import { armList, CliError, resolveCustomer, runClient, type Connection, type Identity } from './client.ts';
import { dataOption, jsonOption, print, table, tableOrNone } from './output.ts';

// A deployment's side of the flow: the operator onboards a customer's directory and the customer
// consents (seed step 7); the tenant takes an offer and creates resources (step 8).

const SUBSCRIPTIONS_API = 'api-version=2015-11-01';
const GROUPS_API = 'api-version=2019-10-01';
const VM_API = 'api-version=2020-06-01';

/** The operator onboards a directory (by tenant id or domain) as a guest directory of the stack. */
export async function onboard(
  c: Connection,
  stack: string,
  directory: string,
): Promise<{ stack: string; tenantId: string }> {
  const s = c.stack(stack);
  const { tenantId } = await onboardDirectory({
    http: c.http,
    hub: c.bootstrap.hub,
    stackAdminArm: s.adminArm,
    providerSubscriptionId: s.providerSubscriptionId,
    location: s.location,
    operator: c.bootstrap.operator,
    directory,
    stackApplicationId: s.applicationId,
  });
  return { stack, tenantId };
}

/** An administrator of a guest directory consents to the stack's application there. */
export async function consent(
  c: Connection,
  stack: string,
  who: Identity,
): Promise<{ stack: string; alreadyThere: boolean }> {
  const { graph } = c.bootstrap.hub;
  return { stack, ...(await consentToStack(c.http, graph, await c.tokenAs(who, graph), c.stack(stack).applicationId)) };
}

export interface TenantSubscription {
  subscriptionId: string;
  displayName: string;
  tenantId: string;
  offerId?: string;
  state: string;
}

const tenantSubscriptionOf = (s: TenantSubscription): TenantSubscription => ({
  subscriptionId: s.subscriptionId,
  displayName: s.displayName,
  tenantId: s.tenantId,
  offerId: s.offerId,
  state: s.state,
});

/** The tenant takes one of the stack's public offers: a subscription of its own directory on the stack. */
export async function createTenantSubscription(
  c: Connection,
  stack: string,
  who: Identity,
  input: { offer: string; displayName: string; subscriptionId?: string },
): Promise<TenantSubscription> {
  const arm = c.stack(stack).tenantArm;
  const id = input.subscriptionId ?? randomUUID();
  const created = await c.http.call('PUT', `${arm}/subscriptions/${id}?${SUBSCRIPTIONS_API}`, {
    token: await c.tokenAs(who, arm),
    body: {
      displayName: input.displayName,
      offerId: input.offer.includes('/') ? input.offer : `/delegatedProviders/default/offers/${input.offer}`,
    },
  });
  return tenantSubscriptionOf(created);
}

// Image aliases, as `az vm create` has them; anything else is publisher:offer:sku[:version].
const IMAGE_ALIASES: Record<string, string> = {
  UbuntuLTS: 'Canonical:UbuntuServer:18.04-LTS:latest',
  Win2019Datacenter: 'MicrosoftWindowsServer:WindowsServer:2019-Datacenter:latest',
  Win2016Datacenter: 'MicrosoftWindowsServer:WindowsServer:2016-Datacenter:latest',
};

function imageReference(image: string) {
  const urn = IMAGE_ALIASES[image] ?? image;
  const [publisher, offer, sku, version = 'latest', ...rest] = urn.split(':');
  if (!publisher || !offer || !sku || rest.length > 0) {
    throw new CliError(
      `'${image}' is not an image: use ${Object.keys(IMAGE_ALIASES).join(', ')} or publisher:offer:sku[:version].`,
      2,
    );
  }
  return { publisher, offer, sku, version };
}

export interface VirtualMachine {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  size: string;
  osType: string;
  provisioningState: string;
}

/** A VM as the tenant ARM endpoint answers it (the fields the CLI shows). */
interface VmWire {
  id: string;
  name: string;
  location: string;
  properties: {
    hardwareProfile: { vmSize: string };
    storageProfile?: { osDisk?: { osType?: string } };
    provisioningState: string;
  };
}

const vmOf = (v: VmWire): VirtualMachine => ({
  id: v.id,
  name: v.name,
  resourceGroup: v.id.split('/')[4],
  location: v.location,
  size: v.properties.hardwareProfile.vmSize,
  osType: v.properties.storageProfile?.osDisk?.osType ?? '',
  provisioningState: v.properties.provisioningState,
});

export interface NewVm {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  size: string;
  image: string;
}

/** Creates (or updates) a VM in a tenant subscription of the stack, with its resource group. */
export async function createVm(c: Connection, stack: string, who: Identity, vm: NewVm): Promise<VirtualMachine> {
  const s = c.stack(stack);
  const token = await c.tokenAs(who, s.tenantArm);
  const group = `${s.tenantArm}/subscriptions/${vm.subscriptionId}/resourcegroups/${vm.resourceGroup}`;
  await c.http.call('PUT', `${group}?${GROUPS_API}`, { token, body: { location: s.location } });
  const created = await c.http.call(
    'PUT',
    `${group}/providers/Microsoft.Compute/virtualMachines/${vm.name}?${VM_API}`,
    {
      token,
      body: {
        location: s.location,
        properties: {
          hardwareProfile: { vmSize: vm.size },
          storageProfile: { imageReference: imageReference(vm.image) },
          osProfile: {
            computerName: vm.name.slice(0, 15),
            adminUsername: 'azureuser',
            adminPassword: `Vm-${randomBytes(12).toString('base64url')}1!`,
          },
        },
      },
    },
  );
  return vmOf(created);
}

interface StackActorFlags extends ActorFlags {
  stack: string;
  customer?: string;
  data: string;
  json?: boolean;
}

/** --stack, --customer, the actor's options, --data and --json. */
const onStack = (cmd: Command) =>
  actorOptions(
    cmd
      .requiredOption('--stack <name>', 'the deployment')
      .option('--customer <customer>', 'the customer (id or domain) whose tenant acts'),
  )
    .addOption(dataOption())
    .addOption(jsonOption());

const vmTable = (vms: VirtualMachine[]) =>
  tableOrNone(
    ['VM', 'resource group', 'location', 'size', 'OS', 'state'],
    vms.map((v) => [v.name, v.resourceGroup, v.location, v.size, v.osType, v.provisioningState]),
    'no virtual machines',
  );

export function registerStackCommands(program: Command): void {
  const directories = program
    .command('directories')
    .description(
      'Guest directories of a deployment (multi-tenancy, seed step 7): onboarded by the operator, consented by the directory.',
    );

  directories
    .command('onboard')
    .description("The operator onboards a customer's directory as a guest directory of the deployment.")
    .requiredOption('--stack <name>', 'the deployment')
    .option('--customer <customer>', 'the customer (id or domain) whose directory is onboarded')
    .option('--directory <tenant>', 'or any directory, by tenant id or domain')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { stack: string; customer?: string; directory?: string; data: string; json?: boolean }) => {
      if (!o.customer === !o.directory) throw new CliError('Give --customer or --directory (one of them).', 2);
      const done = await runClient(o.data, async (c) =>
        onboard(c, o.stack, o.directory ?? (await resolveCustomer(c, o.customer!)).id),
      );
      print(o.json, done, () => `${done.tenantId} onboarded to ${done.stack}`);
    });

  onStack(
    directories
      .command('consent')
      .description(
        "An administrator of a guest directory (default: the customer's first administrator) consents to the deployment's application.",
      ),
  ).action(async (o: StackActorFlags) => {
    const done = await runClient(o.data, async (c) => consent(c, o.stack, await whoActs(c, o)));
    print(o.json, done, () => `consented to ${done.stack}${done.alreadyThere ? ' (already)' : ''}`);
  });

  directories
    .command('list')
    .description('List the guest directories onboarded to a deployment.')
    .requiredOption('--stack <name>', 'the deployment')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { stack: string; data: string; json?: boolean }) => {
      const list = await runClient(o.data, async (c) => {
        const s = c.stack(o.stack);
        const url = `${s.adminArm}/subscriptions/${s.providerSubscriptionId}/resourcegroups/system.${s.location}/providers/Microsoft.Subscriptions.Admin/directoryTenants?${SUBSCRIPTIONS_API}`;
        return (await armList(c, url, await c.token(s.adminArm, 'operator'))).map((d) => ({
          name: d.name,
          tenantId: d.properties.tenantId,
        }));
      });
      print(o.json, list, () =>
        tableOrNone(
          ['directory', 'tenant id'],
          list.map((d) => [d.name, d.tenantId]),
          'no guest directories',
        ),
      );
    });

  onStack(
    program
      .command('offers')
      .description(
        "The deployment's public offers, as a tenant sees them (default: the CSP; with --customer, its administrator).",
      ),
  ).action(async (o: StackActorFlags) => {
    const list = await runClient(o.data, async (c) => {
      const arm = c.stack(o.stack).tenantArm;
      const { value } = await c.http.call('GET', `${arm}/delegatedProviders/default/offers?${SUBSCRIPTIONS_API}`, {
        token: await c.tokenAs(await whoActs(c, o), arm),
      });
      return value as Array<{ name: string; displayName: string; description?: string }>;
    });
    print(o.json, list, () =>
      tableOrNone(
        ['offer', 'name', 'description'],
        list.map((x) => [x.name, x.displayName, x.description]),
        'no public offers',
      ),
    );
  });

  const tenantSubs = program
    .command('tenant-subscriptions')
    .description(
      "Subscriptions on a deployment, taken by its tenants from its public offers (default: the customer's administrator with --customer).",
    );

  onStack(
    tenantSubs
      .command('create')
      .description("Take a public offer: a subscription of the tenant's directory on the deployment.")
      .option('--offer <name>', 'the offer', 'base-offer')
      .option('--name <displayName>', 'the display name', 'Production'),
  ).action(async (o: StackActorFlags & { offer: string; name: string }) => {
    const sub = await runClient(o.data, async (c) =>
      createTenantSubscription(c, o.stack, await whoActs(c, o), { offer: o.offer, displayName: o.name }),
    );
    print(o.json, sub, () =>
      table(
        ['subscription', 'name', 'tenant', 'offer', 'state'],
        [[sub.subscriptionId, sub.displayName, sub.tenantId, sub.offerId, sub.state]],
      ),
    );
  });

  onStack(
    tenantSubs.command('list').description('List the subscriptions on the deployment that the caller may read.'),
  ).action(async (o: StackActorFlags) => {
    const list = await runClient(o.data, async (c) => {
      const arm = c.stack(o.stack).tenantArm;
      return (
        await armList(c, `${arm}/subscriptions?api-version=2022-12-01`, await c.tokenAs(await whoActs(c, o), arm))
      ).map(tenantSubscriptionOf);
    });
    print(o.json, list, () =>
      tableOrNone(
        ['subscription', 'name', 'tenant', 'state'],
        list.map((s) => [s.subscriptionId, s.displayName, s.tenantId, s.state]),
        'no subscriptions',
      ),
    );
  });

  const vms = program
    .command('vms')
    .description('Virtual machines in a tenant subscription on a deployment (seed step 8).');

  onStack(
    vms
      .command('create')
      .description('Create a VM (and its resource group): it meters from now on.')
      .requiredOption('--subscription <id>', 'the tenant subscription on the deployment')
      .requiredOption('--name <name>', 'the VM name')
      .option('--resource-group <name>', 'the resource group', 'rg')
      .option(
        '--size <size>',
        'the VM size (Standard_A1_v2 1 vCPU, Standard_A2_v2 2, Standard_D3_v2 4, ...)',
        'Standard_A1_v2',
      )
      .addOption(
        new Option(
          '--image <image>',
          `${Object.keys(IMAGE_ALIASES).join(', ')} or publisher:offer:sku[:version]`,
        ).default('UbuntuLTS'),
      ),
  ).action(
    async (
      o: StackActorFlags & { subscription: string; name: string; resourceGroup: string; size: string; image: string },
    ) => {
      const vm = await runClient(o.data, async (c) =>
        createVm(c, o.stack, await whoActs(c, o), {
          subscriptionId: o.subscription,
          resourceGroup: o.resourceGroup,
          name: o.name,
          size: o.size,
          image: o.image,
        }),
      );
      print(o.json, vm, () => vmTable([vm]));
    },
  );

  onStack(
    vms
      .command('list')
      .description("List a tenant subscription's VMs.")
      .requiredOption('--subscription <id>', 'the tenant subscription on the deployment'),
  ).action(async (o: StackActorFlags & { subscription: string }) => {
    const list = await runClient(o.data, async (c) => {
      const arm = c.stack(o.stack).tenantArm;
      const url = `${arm}/subscriptions/${o.subscription}/providers/Microsoft.Compute/virtualMachines?${VM_API}`;
      return (await armList(c, url, await c.tokenAs(await whoActs(c, o), arm))).map(vmOf);
    });
    print(o.json, list, () => vmTable(list));
  });

  // Power actions and deletion: the VM meters while allocated (running or stopped), not once deallocated.
  const actions = {
    start: 'start',
    stop: 'powerOff',
    deallocate: 'deallocate',
    restart: 'restart',
    delete: undefined,
  } as const;
  for (const [name, action] of Object.entries(actions)) {
    onStack(
      vms
        .command(name)
        .description(action ? `${name[0].toUpperCase()}${name.slice(1)} a VM.` : 'Delete a VM.')
        .argument('<vm>', 'the VM name')
        .requiredOption('--subscription <id>', 'the tenant subscription on the deployment')
        .option('--resource-group <name>', 'the resource group', 'rg'),
    ).action(async (vm: string, o: StackActorFlags & { subscription: string; resourceGroup: string }) => {
      await runClient(o.data, async (c) => {
        const arm = c.stack(o.stack).tenantArm;
        const url = `${arm}/subscriptions/${o.subscription}/resourceGroups/${o.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${vm}`;
        const token = await c.tokenAs(await whoActs(c, o), arm);
        await c.http.call(action ? 'POST' : 'DELETE', action ? `${url}/${action}?${VM_API}` : `${url}?${VM_API}`, {
          token,
        });
      });
      print(o.json, { vm, action: name, stack: o.stack }, () => `${vm}: ${name} done`);
    });
  }
}
