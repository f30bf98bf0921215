"""AWS mode wiring against moto's API Gateway: the stack's usage plans (one per plan, made
here by the local bootstrap, never by the app), a key per tenant, moved on plan change and
reclaimed on delete; the authorizer that selects the key; usage_plans mode requests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from uuid import UUID

import pytest

from chalicelib import aws
from chalicelib.ratelimit import RateLimits, authorizer, key_records, service, usage_plans
from chalicelib.ratelimit import rates as plans
from chalicelib.settings import reset_settings
from tests.conftest import ROOT, body_of
from tests.rate_limit_support import rate_headers

ADMIN = "platform_admin"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/GET/api/tenant"


def apigw():
    return aws.client("apigateway")


def provision(client, slug: str = "rapid", plan: str = "free") -> dict:
    response = client.request("POST", "/api/admin/tenants", role=ADMIN, body={
        "slug": slug, "name": slug.title(), "display_name": slug.title(), "admin_email": f"owner@{slug}.example",
        "plan": plan})
    assert response.status_code == 201, response.body
    return body_of(response)


def holders(tenant_id: str) -> list[str]:
    """The plans whose usage plans hold the tenant's key."""
    name = usage_plans.tenant_key_name(UUID(tenant_id))
    return sorted(plan for plan, p in usage_plans.managed_usage_plans().items()
                  if any(k["name"] == name for k in apigw().get_usage_plan_keys(usagePlanId=p["id"])["items"]))


def test_the_bootstrap_makes_the_stacks_usage_plans(aws_mock):
    made = usage_plans.managed_usage_plans()
    wanted = {**plans.plan_rate_limits(), usage_plans.PLATFORM_PLAN: plans.PLATFORM_LIMITS}
    assert set(made) == {*wanted, usage_plans.OVERFLOW_PLAN}
    for plan, limits in wanted.items():
        assert made[plan]["name"] == f"tenant-platform-local-plan-{plan}"
        assert made[plan]["throttle"] == {"rateLimit": limits.rate_per_second, "burstLimit": limits.burst}
        assert made[plan]["quota"]["limit"] == limits.requests_per_day and made[plan]["quota"]["period"] == "DAY"
    # The overflow plan: the account's default throttle, no quota (the distributed limiter limits)
    assert made["overflow"]["throttle"] == {"rateLimit": 10_000.0, "burstLimit": 5_000}
    assert "quota" not in made["overflow"]


def put_plan(client, name: str, **changes: int) -> dict:
    """PUT /api/admin/plans/{name}: the plan as listed, with ``changes``."""
    [plan] = [p for p in body_of(client.get("/api/admin/plans", role=ADMIN))["items"] if p["name"] == name]
    fields = {k: v for k, v in plan.items() if k not in ("name", "version", "updated_at")}
    response = client.request("PUT", f"/api/admin/plans/{name}", role=ADMIN, body={**fields, **changes})
    assert response.status_code == 200, response.body
    return body_of(response)


def put_overrides(client, tenant_id: str, **overrides: int | None) -> dict:
    response = client.request("PUT", f"/api/admin/tenants/{tenant_id}/limits", role=ADMIN, body=overrides)
    assert response.status_code == 200, response.body
    return body_of(response)


def throttle(plan: str) -> tuple[float, int, int]:
    usage_plan = usage_plans.managed_usage_plans()[plan]
    return (float(usage_plan["throttle"]["rateLimit"]), int(usage_plan["throttle"]["burstLimit"]),
            int(usage_plan["quota"]["limit"]))


def test_a_plan_edit_leaves_the_stacks_usage_plans_alone(client):
    before = usage_plans.managed_usage_plans()
    put_plan(client, "standard", rate_per_second=8, burst=15, requests_per_day=1234)
    assert usage_plans.managed_usage_plans() == before


def test_overrides_above_the_plans_usage_plan_move_the_key_to_overflow_and_clearing_moves_it_back(client):
    created = provision(client)
    # Overrides within the free usage plan's ceiling (5/s, burst 10) leave the key there
    put_overrides(client, created["id"], burst=3)
    assert holders(created["id"]) == ["free"]
    # Raising the burst above it: the gateway must not refuse what the limits allow
    put_overrides(client, created["id"], burst=99)
    assert holders(created["id"]) == ["overflow"]
    record = key_records.get(usage_plans.tenant_key_name(UUID(created["id"])))
    assert record.usage_plan == "overflow"
    # Clearing it reclaims the overflow attachment
    put_overrides(client, created["id"], burst=None)
    assert holders(created["id"]) == ["free"]
    assert key_records.get(usage_plans.tenant_key_name(UUID(created["id"]))).usage_plan == "free"


def test_provisioning_gives_the_tenant_one_key_in_its_plan(client):
    created = provision(client, plan="standard")
    assert "api_key" in created["provisioning_steps"]
    assert holders(created["id"]) == ["standard"]
    key = usage_plans.find_key(usage_plans.tenant_key_name(UUID(created["id"])))
    assert key["enabled"] and key["tags"] == {"tenant_id": created["id"]}
    # recorded in the registry, where the authorizer reads it
    record = key_records.get(key["name"])
    assert (record.key_id, record.value, record.usage_plan) == (key["id"], key["value"], "standard")


def test_a_plan_change_moves_the_key_and_a_repeat_is_harmless(client):
    created = provision(client)
    moved = client.request("PUT", f"/api/admin/tenants/{created['id']}", role=ADMIN, body={"plan": "premium"},
                           headers={"If-Match": f'"{created["version"]}"'})
    assert moved.status_code == 200 and body_of(moved)["plan"] == "premium"
    assert holders(created["id"]) == ["premium"]
    again = client.request("PUT", f"/api/admin/tenants/{created['id']}", role=ADMIN, body={"plan": "premium"},
                           headers={"If-Match": moved.headers["ETag"]})
    assert again.status_code == 200 and holders(created["id"]) == ["premium"]
    name = usage_plans.tenant_key_name(UUID(created["id"]))
    assert [k["name"] for k in apigw().get_api_keys(nameQuery=name)["items"]] == [name]


def test_a_failed_key_move_is_finished_by_repeating_the_put(client):
    created = provision(client)

    def refuse(**_kwargs):
        raise RuntimeError("API Gateway unavailable")

    apigw().meta.events.register("before-call.apigateway.CreateUsagePlanKey", refuse)
    try:
        failed = client.request("PUT", f"/api/admin/tenants/{created['id']}", role=ADMIN, body={"plan": "premium"},
                                headers={"If-Match": f'"{created["version"]}"'})
    finally:
        apigw().meta.events.unregister("before-call.apigateway.CreateUsagePlanKey", refuse)
    assert failed.status_code == 500
    current = client.get(f"/api/admin/tenants/{created['id']}", role=ADMIN)
    assert body_of(current)["plan"] == "premium" and holders(created["id"]) == []
    repeated = client.request("PUT", f"/api/admin/tenants/{created['id']}", role=ADMIN, body={"plan": "premium"},
                              headers={"If-Match": current.headers["ETag"]})
    assert repeated.status_code == 200 and holders(created["id"]) == ["premium"]


def test_two_tenants_on_one_plan_have_their_own_keys(client):
    first, second = provision(client, "rapid"), provision(client, "swift")
    keys = [usage_plans.find_key(usage_plans.tenant_key_name(UUID(t["id"]))) for t in (first, second)]
    assert keys[0]["id"] != keys[1]["id"] and keys[0]["value"] != keys[1]["value"]
    assert holders(first["id"]) == holders(second["id"]) == ["free"]


# ---- the authorizer ------------------------------------------------------------------------

def test_the_authorizer_returns_the_tenants_key_for_its_token(client, tokens):
    created = provision(client)
    authorizer.key_values.clear()
    answer = authorizer.usage_key_response(f"Bearer {tokens.token(tenant=created['id'])}", METHOD_ARN)
    key = usage_plans.find_key(usage_plans.tenant_key_name(UUID(created["id"])))
    assert answer["usageIdentifierKey"] == key["value"]
    assert answer["context"] == {"tenant_id": created["id"]}
    assert answer["policyDocument"]["Statement"] == [{
        "Action": "execute-api:Invoke", "Effect": "Allow",
        "Resource": ["arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/*/*"]}]


def test_platform_admins_get_the_platform_key(aws_mock, tokens):
    authorizer.key_values.clear()
    answer = authorizer.usage_key_response(f"Bearer {tokens.token(role=ADMIN)}", METHOD_ARN)
    assert answer["usageIdentifierKey"] == usage_plans.find_key(usage_plans.platform_key_name())["value"]
    assert usage_plans.platform_key_name() in {k["name"] for k in apigw().get_usage_plan_keys(
        usagePlanId=usage_plans.managed_usage_plans()["platform"]["id"])["items"]}


def test_a_token_that_does_not_verify_is_unauthorized(aws_mock, tokens):
    expired = tokens.sign(tokens.claims(tenant="00000000-0000-4000-8000-000000000001", ttl=-3600))
    for header in (f"Bearer {expired}", "Bearer not-a-jwt", ""):
        with pytest.raises(Exception, match="^Unauthorized$"):
            authorizer.usage_key_response(header, METHOD_ARN)


def test_a_tenant_without_a_key_is_denied(client, tokens, tenant_a):
    authorizer.key_values.clear()
    answer = authorizer.usage_key_response(f"Bearer {tokens.token(tenant=tenant_a)}", METHOD_ARN)
    assert "usageIdentifierKey" not in answer
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_in_usage_plans_mode_exactly_the_tenant_routes_need_the_authorizer_key():
    script = (
        "import json, app\n"
        "from chalice.deploy.swagger import TemplatedSwaggerGenerator\n"
        "doc = TemplatedSwaggerGenerator().generate_swagger(app.app)\n"
        "print(json.dumps({p + ' ' + m.upper(): op.get('security') for p, ops in doc['paths'].items()"
        " for m, op in ops.items() if isinstance(op, dict) and m != 'options'}))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "RATE_LIMIT_MODE": "usage_plans"}).stdout
    security = json.loads(out)
    from app import app

    access = {f"{path} {method}": entry.view_function.route_spec.access
              for path, methods in app.routes.items() for method, entry in methods.items()}
    assert set(security) == set(access)
    for route, kind in access.items():
        expected = [{"api_key": []}, {"tenant_usage_key": []}] if kind == "tenant" else None
        assert security[route] == expected, route
    assert all(entry.authorizer is None for methods in app.routes.values() for entry in methods.values())


# ---- requests in usage_plans mode ----------------------------------------------------------

@pytest.fixture
def usage_plans_mode(client, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_MODE", "usage_plans")
    reset_settings()
    service.reset_state()
    service.use_limits_source(lambda _t: RateLimits(rate_per_second=1.0, burst=2, requests_per_day=100))
    yield
    reset_settings()
    service.reset_state()


@pytest.mark.usefixtures("usage_plans_mode")
def test_tenant_routes_take_from_the_distributed_limiter_in_the_registry(client, tenant_a, dynamo_calls):
    answers = [client.get("/api/tenant", tenant=tenant_a) for _ in range(4)]
    # The exact limits (burst 2) hold behind the usage plans' ceiling, with the headers
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert rate_headers(answers[0])["RateLimit-Limit"] == "2"
    assert rate_headers(answers[2])["Retry-After"] == "1"
    # One conditional update of the bucket's registry item (a tenant cannot reach it) per
    # request, refusals too
    assert dynamo_calls.writes() == ["UpdateItem"] * 4
    assert service.requests_today(tenant_a) == 2


@pytest.mark.usefixtures("usage_plans_mode")
def test_public_tenant_routes_take_from_the_anonymous_bucket(client, tenant_a):
    headers = {"X-Tenant-ID": str(tenant_a.id)}
    answers = [client.get("/api/tenant/branding", role=None, headers=headers) for _ in range(4)]
    # (anonymous callers get their own bucket: a quarter of the tenant's burst of 2, so 1)
    assert [a.status_code for a in answers] == [200, 429, 429, 429]


def test_the_sync_command_backfills_keys_and_deletes_the_per_tenant_usage_plans_of_earlier_versions(
        aws_mock, tenant_a, capsys):
    from chalicelib import cli

    # Given a tenant created without the api_key step, whose key an earlier version put in
    # a usage plan of its own
    legacy = apigw().create_usage_plan(name=usage_plans.usage_plan_name(f"tenant-{tenant_a.id}"))["id"]
    key = apigw().create_api_key(name=usage_plans.tenant_key_name(tenant_a.id), enabled=True)
    apigw().create_usage_plan_key(usagePlanId=legacy, keyId=key["id"], keyType="API_KEY")
    # When the operator command runs (twice: it is idempotent)
    assert cli.main(["usage-plans", "sync"]) == 0
    assert cli.main(["usage-plans", "sync"]) == 0
    # Then the tenant's one key is in its plan's usage plan, recorded, and the legacy plan is gone
    assert holders(str(tenant_a.id)) == ["free"]
    name = usage_plans.tenant_key_name(tenant_a.id)
    assert [k["name"] for k in apigw().get_api_keys(nameQuery=name)["items"]] == [name]
    assert key_records.get(name).key_id == key["id"]
    # and the stack's shared keys are recorded for the authorizer too
    assert key_records.get(usage_plans.platform_key_name()).shared
    assert key_records.get(usage_plans.overflow_key_name()).shared
    assert legacy not in {p["id"] for p in apigw().get_usage_plans()["items"]}
    out = capsys.readouterr().out
    assert "'tenant_keys': 1" in out and str(tenant_a.id) in out
