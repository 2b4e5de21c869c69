"""On the hub, as the CSP's service principal: the seed's step 4 (a customer subscription
registered on the deployment's registration, azure-mgmt-azurestack) and the usage aggregates of
that subscription (azure-mgmt-commerce)."""

from datetime import datetime

from azure.mgmt.azurestack import AzureStackManagementClient
from azure.mgmt.azurestack.models import CustomerSubscription
from azure.mgmt.commerce import UsageManagementClient

from stackledger_sdk import client_options, cloud, credential, emit, read_input, refusal

given = read_input()
hub = cloud()
cred = credential(hub)
options = client_options(hub)
seen = {"authority": hub.endpoints.active_directory}

stack = AzureStackManagementClient(cred, given["registrationSubscriptionId"], **options)
rg, name, sub = given["resourceGroup"], given["registrationName"], given["customerSubscriptionId"]
created = stack.customer_subscriptions.create(rg, name, sub, CustomerSubscription(tenant_id=given["customerTenantId"]))
seen["created"] = {"name": created.name, "tenantId": created.tenant_id, "type": created.type}
seen["listed"] = [c.name for c in stack.customer_subscriptions.list(rg, name)]
seen["got"] = stack.customer_subscriptions.get(rg, name, sub).tenant_id
seen["unknown"] = refusal(lambda: stack.customer_subscriptions.get(rg, name, "00000000-0000-0000-0000-0000000000ff"))

usage = UsageManagementClient(cred, sub, **options)
aggregates = usage.usage_aggregates.list(
    datetime.fromisoformat(given["usageFrom"]),
    datetime.fromisoformat(given["usageTo"]),
    show_details=True,
    aggregation_granularity="Hourly",
)
seen["usage"] = [
    {"meterId": u.meter_id, "quantity": u.quantity, "start": u.usage_start_time.isoformat()} for u in aggregates
]
emit(seen)
