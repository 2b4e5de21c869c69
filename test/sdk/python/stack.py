"""On a stack's tenant endpoint, as a customer's service principal given a role on its tenant
subscription: resource groups (create, list), providers (list) and resources (list) through
azure-mgmt-resource at the 2020-09-01-hybrid profile."""

from azure.mgmt.resource import ResourceManagementClient
from azure.profiles import KnownProfiles

from stackledger_sdk import client_options, cloud, credential, emit, read_input, refusal

given = read_input()
stack = cloud()
client = ResourceManagementClient(
    credential(stack),
    given["subscriptionId"],
    profile=KnownProfiles.v2020_09_01_hybrid,
    **client_options(stack),
)
# The profile picks the operations of 2019-10-01 for resource groups, providers and resources.
seen = {"operations": type(client.resource_groups).__module__}
group = client.resource_groups.create_or_update("python-rg", {"location": given["location"]})
seen["created"] = {"name": group.name, "location": group.location, "state": group.properties.provisioning_state}
seen["groups"] = sorted(g.name for g in client.resource_groups.list())
seen["exists"] = client.resource_groups.check_existence("python-rg")
providers = {p.namespace: p for p in client.providers.list()}
seen["providers"] = sorted(providers)
compute = providers.get("Microsoft.Compute")
seen["compute"] = {
    "registrationState": compute.registration_state if compute else None,
    "types": sorted(t.resource_type for t in compute.resource_types) if compute else [],
}
seen["resources"] = sorted([r.name, r.type, r.id] for r in client.resources.list())
seen["filtered"] = [
    r.name for r in client.resources.list(filter="resourceType eq 'Microsoft.Network/publicIPAddresses'")
]
seen["inGroup"] = [r.name for r in client.resources.list_by_resource_group("python-rg")]
seen["otherSubscription"] = refusal(
    lambda: ResourceManagementClient(
        credential(stack),
        given["otherSubscriptionId"],
        profile=KnownProfiles.v2020_09_01_hybrid,
        **client_options(stack),
    ).resource_groups.get("rg")
)
emit(seen)
