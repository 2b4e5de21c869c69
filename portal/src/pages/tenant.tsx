import { api, armList } from '../api.ts';
import { UsageChart, type UsagePoint, type UsageRange } from '../chart.tsx';
import { ActionButton, ActionForm, Field, Loading, Panel, StatusBadge, Table, useLoad } from '../ui.tsx';
import type { StackPageProps } from './operator.tsx';
import { tenantApi, WithSubscription, type TenantSubscription } from './tenant-subscriptions.tsx';

// A tenant user's pages, on one stack's tenant endpoint: its resources, creating a virtual machine,
// and its usage, each in the subscription chosen in the frame (tenant-subscriptions.tsx).

const COMPUTE_API = 'api-version=2017-03-30';
const RESOURCE_TYPES = [
  { type: 'Microsoft.Compute/virtualMachines', api: COMPUTE_API, label: 'Virtual machine' },
  { type: 'Microsoft.Storage/storageAccounts', api: 'api-version=2019-06-01', label: 'Storage account' },
  { type: 'Microsoft.Network/publicIPAddresses', api: 'api-version=2018-11-01', label: 'Public IP address' },
];
const IMAGES = [
  {
    label: 'Windows Server 2019 Datacenter',
    publisher: 'MicrosoftWindowsServer',
    offer: 'WindowsServer',
    sku: '2019-Datacenter',
  },
  {
    label: 'Windows Server 2016 Datacenter',
    publisher: 'MicrosoftWindowsServer',
    offer: 'WindowsServer',
    sku: '2016-Datacenter',
  },
  { label: 'Ubuntu Server 18.04 LTS', publisher: 'Canonical', offer: 'UbuntuServer', sku: '18.04-LTS' },
];

interface Resource {
  id: string;
  name: string;
  type: string;
  location: string;
  sku?: { name?: string };
  properties?: { hardwareProfile?: { vmSize?: string }; provisioningState?: string };
  powerState?: string;
}

export function TenantResourcesPage(p: StackPageProps) {
  return (
    <>
      <h1>Resources</h1>
      <WithSubscription {...p}>{(sub) => <Resources {...p} sub={sub} />}</WithSubscription>
    </>
  );
}

function Resources(p: StackPageProps & { sub: TenantSubscription }) {
  const { base, token } = tenantApi(p);
  const subPath = `${base}/subscriptions/${p.sub.subscriptionId}`;
  const resources = useLoad(async () => {
    const all: Resource[] = [];
    for (const t of RESOURCE_TYPES)
      all.push(...(await armList<Resource>(`${subPath}/providers/${t.type}?${t.api}`, token)));
    // The list leaves out a VM's power state; its instance view has it.
    for (const r of all.filter((r) => r.type === RESOURCE_TYPES[0].type)) {
      const view = await api<{ statuses: { code: string; displayStatus: string }[] }>(
        'GET',
        `${base}${r.id}/instanceView?${COMPUTE_API}`,
        { token },
      );
      r.powerState = view.statuses.find((s) => s.code.startsWith('PowerState/'))?.displayStatus;
    }
    return all;
  }, [subPath]);
  const vmAction = async (r: Resource, action: string) => {
    await api('POST', `${base}${r.id}/${action}?${COMPUTE_API}`, { token });
    resources.reload();
  };
  const remove = async (r: Resource) => {
    const t = RESOURCE_TYPES.find((t) => t.type.toLowerCase() === r.type.toLowerCase())!;
    await api('DELETE', `${base}${r.id}?${t.api}`, { token });
    resources.reload();
  };
  return (
    <>
      <Panel
        title="Your resources"
        actions={
          <button type="button" class="secondary" onClick={resources.reload}>
            Refresh
          </button>
        }
      >
        <Loading state={resources} what="resources">
          {(rows) => (
            <Table
              label="Resources"
              rows={rows}
              empty="No resources yet: create a virtual machine below."
              columns={[
                { header: 'Name', cell: (r) => r.name },
                {
                  header: 'Type',
                  cell: (r) =>
                    RESOURCE_TYPES.find((t) => t.type.toLowerCase() === r.type.toLowerCase())?.label ?? r.type,
                },
                { header: 'Resource group', cell: (r) => r.id.split('/')[4] },
                { header: 'Size', cell: (r) => r.properties?.hardwareProfile?.vmSize ?? r.sku?.name ?? '—' },
                {
                  header: 'State',
                  cell: (r) => <StatusBadge status={r.powerState ?? r.properties?.provisioningState ?? '—'} />,
                },
                {
                  header: 'Actions',
                  cell: (r) => (
                    <div class="row-actions">
                      {r.type === RESOURCE_TYPES[0].type && r.powerState !== 'VM running' && (
                        <ActionButton kind="secondary" label={`Start ${r.name}`} onClick={() => vmAction(r, 'start')}>
                          Start
                        </ActionButton>
                      )}
                      {r.type === RESOURCE_TYPES[0].type && r.powerState === 'VM running' && (
                        <ActionButton kind="secondary" label={`Stop ${r.name}`} onClick={() => vmAction(r, 'powerOff')}>
                          Stop
                        </ActionButton>
                      )}
                      {r.type === RESOURCE_TYPES[0].type && r.powerState !== 'VM deallocated' && (
                        <ActionButton
                          kind="secondary"
                          label={`Deallocate ${r.name}`}
                          onClick={() => vmAction(r, 'deallocate')}
                        >
                          Deallocate
                        </ActionButton>
                      )}
                      <ActionButton kind="danger" label={`Delete ${r.name}`} onClick={() => remove(r)}>
                        Delete
                      </ActionButton>
                    </div>
                  ),
                },
              ]}
            />
          )}
        </Loading>
      </Panel>
      <Panel title="Create a virtual machine">
        <CreateVm {...p} created={resources.reload} />
      </Panel>
    </>
  );
}

function CreateVm(p: StackPageProps & { sub: TenantSubscription; created: () => void }) {
  const { base, token } = tenantApi(p);
  const subPath = `${base}/subscriptions/${p.sub.subscriptionId}`;
  const setup = useLoad(async () => {
    const locations = await armList<{ name: string }>(`${subPath}/locations?api-version=2022-12-01`, token);
    const location = locations[0]?.name ?? 'local';
    const sizes = await armList<{ name: string; numberOfCores: number; memoryInMB: number }>(
      `${subPath}/providers/Microsoft.Compute/locations/${location}/vmSizes?${COMPUTE_API}`,
      token,
    );
    return { location, sizes };
  }, [subPath]);
  const create = async (form: FormData) => {
    const { location } = setup.data!;
    const name = String(form.get('name')).trim();
    const group = String(form.get('resourceGroup')).trim();
    const image = IMAGES[Number(form.get('image'))];
    await api('PUT', `${subPath}/resourcegroups/${encodeURIComponent(group)}?api-version=2019-10-01`, {
      token,
      body: { location },
    });
    await api(
      'PUT',
      `${subPath}/resourceGroups/${encodeURIComponent(group)}/providers/Microsoft.Compute/virtualMachines/${encodeURIComponent(name)}?${COMPUTE_API}`,
      {
        token,
        body: {
          location,
          properties: {
            hardwareProfile: { vmSize: String(form.get('size')) },
            storageProfile: {
              imageReference: { publisher: image.publisher, offer: image.offer, sku: image.sku, version: 'latest' },
            },
            osProfile: {
              computerName: name.slice(0, 15),
              adminUsername: String(form.get('adminUsername')),
              adminPassword: String(form.get('adminPassword')),
            },
          },
        },
      },
    );
    p.created();
  };
  return (
    <Loading state={setup} what="sizes">
      {({ sizes, location }) => (
        <ActionForm label="Create a virtual machine" submit="Create virtual machine" onSubmit={create}>
          <p class="muted">
            Location {location}. The VM is metered from the moment it is created until it is deallocated or deleted.
          </p>
          <div class="grid">
            <Field label="Name">
              <input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9\-]{0,62}" autocapitalize="none" />
            </Field>
            <Field label="Resource group" hint="Created if it does not exist">
              <input name="resourceGroup" required defaultValue="vms" autocapitalize="none" />
            </Field>
            <Field label="Size">
              <select name="size">
                {sizes.map((s) => (
                  <option value={s.name} selected={s.name === 'Standard_A2_v2'}>
                    {s.name} ({s.numberOfCores} vCPU, {s.memoryInMB / 1024} GB)
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Image">
              <select name="image">
                {IMAGES.map((img, i) => (
                  <option value={i}>{img.label}</option>
                ))}
              </select>
            </Field>
            <Field label="Administrator user name">
              <input name="adminUsername" required defaultValue="azureuser" autocomplete="off" autocapitalize="none" />
            </Field>
            <Field label="Administrator password">
              <input name="adminPassword" type="password" required minLength={12} autocomplete="new-password" />
            </Field>
          </div>
        </ActionForm>
      )}
    </Loading>
  );
}

export function TenantUsagePage(p: StackPageProps) {
  const { base, token } = tenantApi(p);
  const usageOf = (sub: TenantSubscription) => async (range: UsageRange) => {
    const query = new URLSearchParams({
      'api-version': '2015-06-01-preview',
      reportedStartTime: range.start.toISOString(),
      reportedEndTime: range.end.toISOString(),
      aggregationGranularity: range.granularity,
      showDetails: 'false',
    });
    const aggregates = await armList<{ properties: { usageStartTime: string; meterId: string; quantity: number } }>(
      `${base}/subscriptions/${sub.subscriptionId}/providers/Microsoft.Commerce/UsageAggregates?${query}`,
      token,
    );
    return aggregates.map<UsagePoint>((a) => ({
      start: Date.parse(a.properties.usageStartTime),
      meterId: a.properties.meterId,
      quantity: a.properties.quantity,
    }));
  };
  return (
    <>
      <h1>Usage</h1>
      <WithSubscription {...p}>
        {(sub) => (
          <Panel title="Usage">
            <UsageChart
              title={`Usage of ${sub.displayName}, by the time it was reported`}
              load={usageOf(sub)}
              deps={[sub.subscriptionId]}
            />
          </Panel>
        )}
      </WithSubscription>
    </>
  );
}
