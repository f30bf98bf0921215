"""The grants each function's role needs, derived from the recorded calls.

``infra/platform_infra/function_access.json`` lists, per Lambda function, the grants
(named groups of statements, built by infra/platform_infra/function_roles.py) that the
calls recorded in that function's code path need. It is generated, never edited:

    make test   # records the whole suite's calls in build/contract/calls.json.gw0, ...
    .venv/bin/python -m tests.infra.function_access TEMPLATE build/contract/calls.json*

tests/infra/test_contract.py fails when a recorded call needs a grant the file does not
give its function (and, after a run of all recorded suites, when the file gives one that
no call needs), so the roles follow the code.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.conftest import local_stage_env
from tests.infra.deployment import REGION
from tests.infra.iam_requests import Authorization

MANIFEST = Path(__file__).resolve().parents[2] / "infra" / "platform_infra" / "function_access.json"
DYNAMODB_READS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")


def grant_of(authorization: Authorization, call: dict[str, Any]) -> str | None:
    """The grant an authorization of a function's own role belongs to (None: implied by another)."""
    env = local_stage_env()
    r = authorization.request
    action, resource = r.action, r.resource
    if "kms:ViaService" in r.context:
        return None  # the table's, queue's or bucket's key: part of that resource's grant
    if action.startswith("dynamodb:"):
        if f"table/{env['REGISTRY_TABLE']}" in resource:
            return "registry-read" if action in DYNAMODB_READS else "registry-write"
        if f"table/{env['DATA_TABLE']}" in resource and action == "dynamodb:PutItem":
            return "platform-partitions-write"
    if action in ("sts:AssumeRole", "sts:TagSession"):
        return "assume-tenant-role"
    if action in ("sqs:SendMessage", "sqs:GetQueueUrl"):
        return "send:" + resource.rsplit(":", 1)[-1]
    if action.startswith("ses:Send"):
        sender = local_stage_env()["PLATFORM_SENDER_EMAIL"].split("@", 1)[1]
        platform = resource.endswith(f"identity/{sender}") or r.context.get("ses:FromAddress", "").endswith(sender)
        # A tenant's own email integration may send through SES from the tenant's domain.
        return "send-platform-mail" if platform else "send-tenant-mail"
    if action == "sns:Publish" and resource == "*":
        return "send-platform-sms"
    if action in ("kms:CreateKey", "kms:TagResource") and resource == "*":
        return "create-tenant-keys"
    if action == "kms:ReplicateKey":
        return "replicate-tenant-keys"
    if action.startswith("kms:") and resource.startswith("arn:") and resource.split(":")[3] != REGION:
        return "manage-tenant-key-replicas"  # the replicas (and their aliases) in the DR region
    if action.startswith("kms:"):
        return "manage-tenant-keys"
    if action.startswith("acm:") or (action.startswith("apigateway:") and (
            "::/domainnames" in resource or resource.endswith("::/restapis"))):
        return "custom-domains"
    if action == "apigateway:GET" and resource.endswith("::/apikeys"):
        return "read-api-keys"
    if action.startswith("apigateway:"):
        return "usage-plans"
    return f"unclassified {action} {resource}"


def grants(mapper: Any, calls: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for call in calls:
        if call["bound_tenant"] is not None:
            # Tenant-bound work starts by reading the tenant from the registry (the request
            # pipeline, @tenant_handler); a warm cache of the tests' one process may hide it.
            found.setdefault(call["function"], set()).add("registry-read")
        if call["signer"][0] != "function":
            # Signed by the tenant role: in its own Lambda container the function assumes it
            # itself (the tests' process shares one credential cache between functions).
            found.setdefault(call["function"], set()).add("assume-tenant-role")
            continue
        for authorization in mapper.authorizations(call):
            grant = grant_of(authorization, call)
            if grant is not None:
                found.setdefault(call["function"], set()).add(grant)
    return found


def manifest() -> dict[str, list[str]]:
    return json.loads(MANIFEST.read_text())


def write(found: dict[str, set[str]], functions: Iterable[str]) -> None:
    body = {name: sorted(found.get(name, set())) for name in sorted(functions)}
    MANIFEST.write_text(json.dumps(body, indent=2) + "\n")


if __name__ == "__main__":
    import os

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from tests.infra.deployment import Deployment
    from tests.infra.iam_requests import CallMapper

    # python -m tests.infra.function_access TEMPLATE RECORDING [RECORDING ...]: one recording per
    # xdist worker (CONTRACT_CALLS_OUT=<file> under -n writes <file>.gw0, <file>.gw1, ...).
    template = json.loads(Path(sys.argv[1]).read_text())
    calls = [call for path in sys.argv[2:] for call in json.loads(Path(path).read_text())["calls"]]
    deployment = Deployment(template, local_stage_env())
    mapper = CallMapper(deployment, deployment.role_for_arn(local_stage_env()["TENANT_DATA_ROLE_ARN"]))
    write(grants(mapper, calls), deployment.function_logical_ids())
