"""What the Python scripts share: the cloud read from its metadata endpoint and a service
principal's credential, as the vendor documents them for an AD FS deployment of Azure Stack Hub
("Use API version profiles with Python in Azure Stack Hub"): the tenant is `adfs`, the authority
is the metadata's login endpoint without its `/adfs`, and no instance-discovery switch is set
(MSAL skips that look-up for an authority whose first path segment is `adfs`). TLS trusts
REQUESTS_CA_BUNDLE, as the Azure CLI does.

Input comes from the environment: STACKLEDGER_ARM (the Resource Manager endpoint),
AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (the service principal), STACKLEDGER_INPUT (a JSON
document of what the script works on). Output: one JSON document on stdout."""

import json
import os
import re
import sys

from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from msrestazure.azure_cloud import get_cloud_from_metadata_endpoint


def cloud():
    """The deployment's endpoints, from {arm}/metadata/endpoints."""
    return get_cloud_from_metadata_endpoint(os.environ["STACKLEDGER_ARM"])


def credential(stack_cloud):
    authority = re.sub(r"/adfs/?$", "", stack_cloud.endpoints.active_directory)
    return ClientSecretCredential(
        tenant_id="adfs",
        client_id=os.environ["AZURE_CLIENT_ID"],
        client_secret=os.environ["AZURE_CLIENT_SECRET"],
        authority=authority,
    )


def client_options(stack_cloud):
    """Where a management client sends its requests, and the token scope it asks for."""
    audience = stack_cloud.endpoints.active_directory_resource_id.rstrip("/")
    return {
        "base_url": stack_cloud.endpoints.resource_manager,
        "credential_scopes": [audience + "/.default"],
    }


def read_input():
    return json.loads(os.environ.get("STACKLEDGER_INPUT", "{}"))


def refusal(call):
    """The status and ARM error code of a call that must fail."""
    try:
        call()
    except HttpResponseError as e:
        return {"status": e.status_code, "code": e.error.code if e.error else None}
    return {"status": None, "code": None}


def emit(seen):
    json.dump(seen, sys.stdout, default=str)
