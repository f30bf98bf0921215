"""A tenant's API key over its life: reclaimed when the tenant is deleted, a shared key past
the account's key quota, and never a change to the usage plans CloudFormation owns.

The failures this prevents: keys never deleted (API Gateway allows 10,000 per account and
Region, so deleted tenants used up the quota), and the app editing the stack's usage
plans (drift: the next deploy undoes the edits, or fails).
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.ratelimit import authorizer, key_records, usage_plans
from tests.conftest import body_of

ADMIN = "platform_admin"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/GET/api/tenant"
# API Gateway's calls that make, change or delete a usage plan (the stack's resources).
USAGE_PLAN_WRITES = frozenset({"CreateUsagePlan", "UpdateUsagePlan", "DeleteUsagePlan"})


class Calls:
    """API Gateway operations the app sent, by name; optionally refusing one with an error code."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.refuse: dict[str, str] = {}

    def __call__(self, model: Any = None, **_: Any) -> None:
        self.names.append(model.name)
        if model.name in self.refuse:
            raise ClientError({"Error": {"Code": self.refuse[model.name], "Message": "refused"}}, model.name)


@pytest.fixture
def apigateway_calls(aws_mock: None) -> Any:
    calls = Calls()
    events = aws.client("apigateway").meta.events
    events.register("before-call.apigateway", calls)
    yield calls
    events.unregister("before-call.apigateway", calls)


def apigw() -> Any:
    return aws.client("apigateway")


def provision(client: Any, slug: str = "rapid", plan: str = "free") -> dict[str, Any]:
    response = client.request("POST", "/api/admin/tenants", role=ADMIN, body={
        "slug": slug, "name": slug.title(), "display_name": slug.title(), "admin_email": f"owner@{slug}.example",
        "plan": plan})
    assert response.status_code == 201, response.body
    return dict(body_of(response))


def plans_holding(key_id: str) -> set[str]:
    return {p["name"] for p in apigw().get_usage_plans(keyId=key_id)["items"]}


def test_deleting_a_tenant_reclaims_its_key_and_its_usage_plan_attachment(client):
    # Given a provisioned tenant: a key in its plan's usage plan, recorded for the authorizer
    created = provision(client)
    name = usage_plans.tenant_key_name(UUID(created["id"]))
    key = usage_plans.find_key(name)
    assert plans_holding(key["id"]) == {usage_plans.usage_plan_name("free")}
    # When a super-admin deletes the tenant
    assert client.request("DELETE", f"/api/admin/tenants/{created['id']}", role=ADMIN).status_code == 204
    # Then the key is gone from API Gateway, from every usage plan, and from the registry
    assert usage_plans.find_key(name) is None
    assert all(key["id"] not in {k["id"] for k in apigw().get_usage_plan_keys(usagePlanId=p["id"])["items"]}
               for p in usage_plans.managed_usage_plans().values())
    assert key_records.get(name) is None
    # And another tenant's key is untouched
    other = provision(client, "swift")
    assert usage_plans.find_key(usage_plans.tenant_key_name(UUID(other["id"]))) is not None


def test_a_delete_whose_reclaim_failed_is_finished_by_repeating_it(client, apigateway_calls):
    created = provision(client)
    name = usage_plans.tenant_key_name(UUID(created["id"]))
    apigateway_calls.refuse["DeleteApiKey"] = "TooManyRequestsException"
    failed = client.request("DELETE", f"/api/admin/tenants/{created['id']}", role=ADMIN)
    assert failed.status_code == 500 and usage_plans.find_key(name) is not None
    apigateway_calls.refuse.clear()
    # The tenant is inactive already; the repeat finishes the reclaim (from API Gateway, by name)
    assert client.request("DELETE", f"/api/admin/tenants/{created['id']}", role=ADMIN).status_code == 204
    assert usage_plans.find_key(name) is None
    assert client.request("DELETE", f"/api/admin/tenants/{created['id']}", role=ADMIN).status_code == 204


def test_no_call_of_the_app_changes_a_usage_plan(client, tokens, apigateway_calls):
    # Through a tenant's whole life: provisioning, plan change, overrides set and cleared,
    # a plan edit, the authorizer, the delete
    created = provision(client)
    tenant = f"/api/admin/tenants/{created['id']}"
    moved = client.request("PUT", tenant, role=ADMIN, body={"plan": "premium"},
                           headers={"If-Match": f'"{created["version"]}"'})
    assert moved.status_code == 200
    for overrides in ({"burst": 5_000}, {"burst": None}):
        assert client.request("PUT", f"{tenant}/limits", role=ADMIN, body=overrides).status_code == 200
    [plan] = [p for p in body_of(client.get("/api/admin/plans", role=ADMIN))["items"] if p["name"] == "standard"]
    edited = {k: v for k, v in plan.items() if k not in ("name", "version", "updated_at")}
    assert client.request("PUT", "/api/admin/plans/standard", role=ADMIN,
                          body={**edited, "rate_per_second": 7}).status_code == 200
    authorizer.key_values.clear()
    authorizer.usage_key_response(f"Bearer {tokens.token(tenant=created['id'])}", METHOD_ARN)
    assert client.request("DELETE", tenant, role=ADMIN).status_code == 204
    # Then keys were made, attached, detached and deleted, and no usage plan was touched
    assert {"CreateApiKey", "CreateUsagePlanKey", "DeleteUsagePlanKey", "DeleteApiKey"} <= set(apigateway_calls.names)
    assert USAGE_PLAN_WRITES.isdisjoint(apigateway_calls.names)


def test_past_the_key_quota_a_tenant_shares_the_overflow_key(client, tokens, apigateway_calls):
    # Given API Gateway refuses a new key (the account's quota is reached)
    apigateway_calls.refuse["CreateApiKey"] = "LimitExceededException"
    created = provision(client)
    apigateway_calls.refuse.clear()
    # Then the tenant is provisioned, recorded with the shared overflow key (metered in the
    # overflow usage plan, limited by the distributed limiter alone)
    overflow = usage_plans.find_key(usage_plans.overflow_key_name())
    record = key_records.get(usage_plans.tenant_key_name(UUID(created["id"])))
    assert record.shared and record.key_id == overflow["id"]
    assert plans_holding(overflow["id"]) == {usage_plans.usage_plan_name("overflow")}
    authorizer.key_values.clear()
    answer = authorizer.usage_key_response(f"Bearer {tokens.token(tenant=created['id'])}", METHOD_ARN)
    assert answer["usageIdentifierKey"] == overflow["value"]
    # And deleting it removes its record, never the shared key
    assert client.request("DELETE", f"/api/admin/tenants/{created['id']}", role=ADMIN).status_code == 204
    assert key_records.get(record.name) is None
    assert usage_plans.find_key(usage_plans.overflow_key_name())["id"] == overflow["id"]


def test_a_recorded_key_deleted_outside_the_app_is_replaced_at_the_next_wiring(client):
    created = provision(client)
    name = usage_plans.tenant_key_name(UUID(created["id"]))
    lost = key_records.get(name)
    apigw().delete_api_key(apiKey=lost.key_id)
    moved = client.request("PUT", f"/api/admin/tenants/{created['id']}", role=ADMIN, body={"plan": "premium"},
                           headers={"If-Match": f'"{created["version"]}"'})
    assert moved.status_code == 200
    replaced = key_records.get(name)
    assert replaced.key_id != lost.key_id and replaced.usage_plan == "premium"
    assert plans_holding(replaced.key_id) == {usage_plans.usage_plan_name("premium")}
