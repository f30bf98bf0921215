"""Plans and per-tenant overrides: the admin routes, validation, audit, effective limits."""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib import clock
from chalicelib.limits import DEFAULT_PLANS, effective
from tests.conftest import body_of

ADMIN = "platform_admin"


def plan_body(**changes: Any) -> dict[str, Any]:
    return {**DEFAULT_PLANS["free"].model_dump(exclude={"description"}), **changes}


def platform_actions(client) -> list[str]:
    return [e["action"] for e in body_of(client.get("/api/admin/audit", role=ADMIN))["items"]]


def tenant_actions(client, tenant) -> list[str]:
    return [e["action"] for e in body_of(client.get("/api/tenant/audit", tenant=tenant))["items"]]


def test_the_four_default_plans_are_listed_with_all_eight_limits(client):
    response = client.get("/api/admin/plans", role=ADMIN)
    assert response.status_code == 200
    items = body_of(response)["items"]
    assert [p["name"] for p in items] == ["free", "standard", "premium", "enterprise"]
    for plan in items:
        assert plan["version"] == 0
        assert all(isinstance(plan[f], int) and plan[f] > 0 for f in effective.Limits.model_fields)
    free, enterprise = items[0], items[-1]
    assert free["max_professionals"] < enterprise["max_professionals"]


def test_plans_are_for_super_admins_only(client, tenant_a):
    assert client.get("/api/admin/plans", tenant=tenant_a).status_code == 403
    put = client.request("PUT", "/api/admin/plans/free", tenant=tenant_a, body=plan_body())
    assert put.status_code == 403
    assert body_of(client.get("/api/admin/plans", role=ADMIN))["items"][0]["version"] == 0


def test_put_replaces_a_plan_is_audited_and_versioned(client):
    response = client.request("PUT", "/api/admin/plans/free", role=ADMIN, body=plan_body(max_professionals=7))
    assert response.status_code == 200, response.body
    plan = body_of(response)
    assert plan["max_professionals"] == 7 and plan["version"] == 1 and response.headers["ETag"] == '"1"'
    listed = {p["name"]: p for p in body_of(client.get("/api/admin/plans", role=ADMIN))["items"]}
    assert listed["free"]["max_professionals"] == 7
    assert "plan.updated" in platform_actions(client)
    stale = client.request("PUT", "/api/admin/plans/free", role=ADMIN, body=plan_body(), headers={"If-Match": '"0"'})
    assert stale.status_code == 412
    current = client.request("PUT", "/api/admin/plans/free", role=ADMIN, body=plan_body(max_professionals=8),
                             headers={"If-Match": '"1"'})
    assert current.status_code == 200 and body_of(current)["version"] == 2


@pytest.mark.parametrize("changes", [
    {"max_professionals": -1}, {"burst": "10"}, {"rate_per_second": 1.5}, {"requests_per_day": None},
    {"max_customers": True}, {"surprise": 1}, {"max_storage_bytes": 2**60},
])
def test_bad_plan_values_are_422_and_change_nothing(client, changes):
    response = client.request("PUT", "/api/admin/plans/standard", role=ADMIN, body=plan_body(**changes))
    assert response.status_code == 422, response.body
    assert body_of(response)["code"] == "validation_error"
    missing = plan_body()
    del missing["burst"]
    assert client.request("PUT", "/api/admin/plans/standard", role=ADMIN, body=missing).status_code == 422
    listed = {p["name"]: p for p in body_of(client.get("/api/admin/plans", role=ADMIN))["items"]}
    assert listed["standard"]["version"] == 0
    assert "plan.updated" not in platform_actions(client)


def test_an_unknown_plan_is_404_and_not_created(client):
    for name in ("platinum", "Bad Name", "x" * 40):
        assert client.request("PUT", f"/api/admin/plans/{name}", role=ADMIN, body=plan_body()).status_code == 404
    assert [p["name"] for p in body_of(client.get("/api/admin/plans", role=ADMIN))["items"]] == [
        "free", "standard", "premium", "enterprise"]


def test_overrides_set_clear_and_keep_and_are_audited_in_both_trails(client, tenant_a):
    path = f"/api/admin/tenants/{tenant_a.id}/limits"
    first = client.request("PUT", path, role=ADMIN, body={"max_professionals": 3, "burst": 99})
    assert first.status_code == 200, first.body
    limits = body_of(first)
    assert limits["plan"] == "free" and limits["overrides"] == {"burst": 99, "max_professionals": 3}
    assert limits["effective"]["max_professionals"] == 3
    assert limits["effective"]["max_customers"] == DEFAULT_PLANS["free"].max_customers
    second = body_of(client.request("PUT", "/api/admin/tenants/acme/limits", role=ADMIN,
                                    body={"max_professionals": None}))
    assert second["overrides"] == {"burst": 99} and second["version"] == 2
    assert second["effective"]["max_professionals"] == DEFAULT_PLANS["free"].max_professionals
    assert body_of(client.get(path, role=ADMIN)) == second
    assert platform_actions(client).count("tenant.limits_changed") == 2
    assert tenant_actions(client, tenant_a).count("tenant.limits_changed") == 2


def test_bad_overrides_are_422_unknown_tenant_404_others_403(client, tenant_a):
    path = f"/api/admin/tenants/{tenant_a.id}/limits"
    for body in ({"max_professionals": -5}, {"max_customers": "many"}, {"plan": "premium"}):
        response = client.request("PUT", path, role=ADMIN, body=body)
        assert response.status_code == 422, body
    assert client.request("PUT", "/api/admin/tenants/nobody-here/limits", role=ADMIN,
                          body={"burst": 1}).status_code == 404
    assert client.request("PUT", path, tenant=tenant_a, body={"burst": 1}).status_code == 403
    assert body_of(client.get(path, role=ADMIN))["overrides"] == {}


def test_effective_limits_follow_plan_overrides_and_plan_change(client, tenant_a):
    assert effective.effective_limits(tenant_a).max_professionals == DEFAULT_PLANS["free"].max_professionals
    client.request("PUT", "/api/admin/plans/free", role=ADMIN, body=plan_body(max_professionals=4))
    assert effective.effective_limits(tenant_a).max_professionals == 4  # this process: at once
    client.request("PUT", f"/api/admin/tenants/{tenant_a.id}/limits", role=ADMIN, body={"max_professionals": 9})
    assert effective.effective_limits(tenant_a).max_professionals == 9
    premium = tenant_a.model_copy(update={"plan": "premium"})
    assert effective.effective_limits(premium).max_professionals == 9  # the override wins over any plan
    assert effective.effective_limits(premium).max_customers == DEFAULT_PLANS["premium"].max_customers


def test_another_process_sees_an_edit_when_its_cache_expires(client, tenant_a):
    assert effective.plan_limits("standard").burst == DEFAULT_PLANS["standard"].burst  # cached here
    from chalicelib.limits import plan_catalogue as plans

    plans.put_plan("standard", DEFAULT_PLANS["standard"].model_copy(update={"burst": 1}), None)  # no invalidation
    assert effective.plan_limits("standard").burst == DEFAULT_PLANS["standard"].burst
    later = clock.monotonic() + effective.CACHE_TTL_SECONDS + 1
    with clock.use(monotonic=lambda: later):
        assert effective.plan_limits("standard").burst == 1


def test_tenant_plan_is_checked_against_the_stored_plans(client):
    body = {"slug": "rapid", "name": "Rapid", "display_name": "Rapid", "admin_email": "o@rapid.example"}
    unknown = client.request("POST", "/api/admin/tenants", role=ADMIN, body={**body, "plan": "platinum"})
    assert unknown.status_code == 422 and ["body", "plan"] in [e["loc"] for e in body_of(unknown)["errors"]]
    created = client.request("POST", "/api/admin/tenants", role=ADMIN, body={**body, "plan": "standard"})
    assert created.status_code == 201
    edit = client.request("PUT", "/api/admin/tenants/rapid", role=ADMIN, body={"plan": "gold"},
                          headers={"If-Match": created.headers["ETag"]})
    assert edit.status_code == 422
    assert body_of(client.get("/api/admin/tenants/rapid", role=ADMIN))["plan"] == "standard"


def test_the_openapi_document_describes_the_limits_routes(client):
    document = body_of(client.get("/api/openapi.json", role=None))
    put = document["paths"]["/api/admin/plans/{name}"]["put"]
    assert put["x-access"] == "platform"
    schema = put["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(document["components"]["schemas"][schema]["required"]) == set(effective.Limits.model_fields)
    usage = document["paths"]["/api/tenant/usage"]["get"]
    assert usage["x-access"] == "tenant" and usage["x-permission"] == "usage:read"
    assert "/api/admin/tenants/{id}/limits" in document["paths"]
