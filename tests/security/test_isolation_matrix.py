"""The isolation matrix: tenant B, holding A's ids, reaches nothing of A's on any route.

The matrix is driven by the app's route table: every tenant route with a path
parameter must have an entry in ``TARGETS`` (else the coverage test fails), so a new
route cannot be added without joining the matrix. A recorder then checks, over a full
walkthrough, that every DynamoDB request stayed under the acting tenant's prefix.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.limits import reconciliation
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.tenancy import context
from chalicelib.tenancy.resolution import clear_cache
from tests.conftest import TenantClient, body_of, module_world
from tests.exports_support import run_queue

# path template -> (entity, body for PATCH/POST-on-item)
TARGETS: dict[str, tuple[str, dict[str, Any]]] = {
    "/api/service-categories/{slug}": ("category", {"name": "Hijacked"}),
    "/api/professionals/{id}": ("professional", {"business_name": "Hijacked"}),
    "/api/customers/{id}": ("customer", {"name": "Hijacked"}),
    "/api/referrals/{id}": ("referral", {"notes": "Hijacked"}),
    "/api/tenant/members/{id}": ("member", {"role": "customer"}),
    "/api/tenant/exports/{id}": ("export", {}),
    "/api/tenant/exports/{id}/download": ("export", {}),
}
# Action routes on one object (no GET of their own): path template -> (entity, body).
ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "/api/tenant/invitations/{id}/accept": ("member", {"token": "0" * 64}),
    "/api/tenant/members/{id}/invitation": ("member", {}),
}
# Tenant routes with a path parameter that is not another tenant's id, each with its reason.
EXCLUDED: dict[str, str] = {
    # Version numbers are per tenant (every tenant has a version 1), so "B gets 404 on A's
    # id" does not apply; tests/security/test_config_isolation.py covers these routes.
    "/api/tenant/config/versions/{n}": "per-tenant version numbers: test_config_isolation.py",
    "/api/tenant/config/versions/{n}/restore": "per-tenant version numbers: test_config_isolation.py",
    "/api/tenant/branding/versions/{n}": "per-tenant version numbers: test_config_isolation.py",
    "/api/tenant/branding/versions/{n}/restore": "per-tenant version numbers: test_config_isolation.py",
    # Role names are per tenant and PUT creates or replaces the caller's own role of that
    # name; tests/api/test_roles_members.py checks B's PUT never changes A's roles.
    "/api/tenant/roles/{name}": "per-tenant role names: test_roles_members.py",
    # Integration kinds (email, sms, payment, analytics) are the same names in every tenant:
    # each names the caller's own integration; tests/security/test_integration_isolation.py
    # checks B's reads, writes, deletes and tests never see, change or use A's.
    "/api/tenant/integrations/{kind}": "per-tenant kind names: test_integration_isolation.py",
    "/api/tenant/integrations/{kind}/test": "per-tenant kind names: test_integration_isolation.py",
}


def _post(client, tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.request("POST", path, tenant=tenant, body=body)
    assert response.status_code == 201, response.body
    return body_of(response)


def populate(client, tenant, tag: str) -> dict[str, str]:
    """One of every network entity in ``tenant``; returns their ids."""
    category = _post(client, tenant, "/api/service-categories", {"slug": f"cat-{tag}", "name": f"Cat {tag}"})
    pro_body = {"business_name": f"Shop {tag}", "contact_name": f"Contact {tag}",
                "service_categories": [category["slug"]]}
    sender = _post(client, tenant, "/api/professionals", {**pro_body, "email": f"sender-{tag}@shop.example"})
    receiver = _post(client, tenant, "/api/professionals", {**pro_body, "email": f"receiver-{tag}@shop.example"})
    customer = _post(client, tenant, "/api/customers", {"name": f"Customer {tag}", "email": f"c-{tag}@mail.example"})
    referral = _post(client, tenant, "/api/referrals", {
        "from_professional_id": sender["id"], "to_professional_id": receiver["id"],
        "customer_id": customer["id"], "service_category": category["slug"], "notes": f"note {tag}"})
    member = _post(client, tenant, "/api/tenant/members", {"email": f"m-{tag}@mail.example", "role": "manager"})
    export = client.request("POST", "/api/tenant/exports", tenant=tenant,
                            body={"format": "json", "notify_email": f"x-{tag}@mail.example"})
    assert export.status_code == 202, export.body
    run_queue()  # completed, so its download answers (302) the same way every time
    return {"category": category["slug"], "professional": sender["id"], "receiver": receiver["id"],
            "customer": customer["id"], "referral": referral["id"], "member": member["id"],
            "export": body_of(export)["id"]}


@pytest.fixture(scope="module")
def shared(signing_keys, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """One moto world for the module: its tests change nothing of another test's (the 404
    attempts must change nothing at all, which each checks), so they share one, built once."""
    with module_world(signing_keys, tmp_path_factory.mktemp("chalice")) as built:
        built["ids"] = {"a": populate(built["client"], built["acme"], "a"),
                        "b": populate(built["client"], built["globex"], "b")}
        yield built


@pytest.fixture
def client(shared) -> TenantClient:
    clear_cache()
    context.clear()
    return shared["client"]


@pytest.fixture
def tenant_a(shared) -> Any:
    return shared["acme"]


@pytest.fixture
def tenant_b(shared) -> Any:
    return shared["globex"]


@pytest.fixture
def world(shared) -> dict[str, dict[str, str]]:
    return shared["ids"]


def tenant_routes_with_ids() -> list[tuple[str, str]]:
    from app import app

    found = []
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            spec = getattr(entry.view_function, "route_spec", None)
            if spec is not None and spec.access == "tenant" and "{" in path:
                found.append((path, method))
    return sorted(found)


def test_every_tenant_route_with_an_id_is_in_the_matrix():
    missing = {path for path, _ in tenant_routes_with_ids()
               if path not in TARGETS and path not in ACTIONS and path not in EXCLUDED}
    assert not missing, f"add these routes to the isolation matrix: {sorted(missing)}"


def _snapshot(client, tenant, ids: dict[str, str]) -> list[Any]:
    return [body_of(client.get(template.replace("{slug}", ids[e]).replace("{id}", ids[e]), tenant=tenant))
            for template, (e, _) in TARGETS.items()]


@pytest.mark.parametrize("path,method", [r for r in tenant_routes_with_ids() if r[0] not in EXCLUDED])
def test_tenant_b_gets_404_on_tenant_a_ids(client, tenant_a, tenant_b, world, path, method):
    entity, body = {**TARGETS, **ACTIONS}[path]
    a_id = world["a"][entity]
    before = _snapshot(client, tenant_a, world["a"])
    url = re.sub(r"{[^}]+}", a_id, path)
    # When B's admin addresses A's object, with a precondition that would match A's version
    response = client.request(method, url, tenant=tenant_b, body=body if method in ("PATCH", "PUT", "POST") else None,
                              headers={"If-Match": '"1"'})
    # Then it does not exist for B, and nothing of A's changed
    assert response.status_code == 404, (method, url, response.body)
    assert body_of(response)["code"] in ("not_found",)
    assert _snapshot(client, tenant_a, world["a"]) == before


def test_usage_counts_only_the_callers_tenant(client, tenant_a, tenant_b, world):
    usage_a = body_of(client.get("/api/tenant/usage", tenant=tenant_a))
    usage_b = body_of(client.get("/api/tenant/usage", tenant=tenant_b))
    assert usage_a["professionals"]["used"] == usage_b["professionals"]["used"] == 2  # populate made two each
    assert client.request("POST", "/api/customers", tenant=tenant_a, body={"name": "Extra"}).status_code == 201
    assert body_of(client.get("/api/tenant/usage", tenant=tenant_b))["customers"] == usage_b["customers"]
    foreign = client.get("/api/tenant/usage", tenant=tenant_a, headers={"X-Tenant-ID": str(tenant_b.id)})
    assert foreign.status_code == 403 and body_of(foreign)["code"] == "tenant_mismatch"


def test_lists_never_show_foreign_items(client, tenant_a, tenant_b, world):
    a_values = set(world["a"].values())
    for path in ("/api/service-categories", "/api/professionals", "/api/customers", "/api/referrals"):
        listed = client.get(path, tenant=tenant_b).body.decode()
        assert not any(value in listed for value in a_values), path
        assert body_of(client.get(path, tenant=tenant_b))["items"], path  # B does see its own


def test_a_referral_naming_another_tenants_objects_is_refused(client, tenant_a, tenant_b, world):
    a, b = world["a"], world["b"]
    attempts = [
        {"from_professional_id": b["professional"], "to_professional_id": a["receiver"]},
        {"from_professional_id": b["professional"], "to_professional_id": b["receiver"], "customer_id": a["customer"]},
        {"from_professional_id": b["professional"], "to_professional_id": b["receiver"], "service_category": a["category"]},
    ]
    before = body_of(client.get("/api/referrals", tenant=tenant_b))["items"]
    for attempt in attempts:
        body = {"from_professional_id": b["professional"], "to_professional_id": b["receiver"],
                "customer_id": b["customer"], "service_category": b["category"], **attempt}
        response = client.request("POST", "/api/referrals", tenant=tenant_b, body=body)
        assert response.status_code == 422, response.body
    assert body_of(client.get("/api/referrals", tenant=tenant_b))["items"] == before


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, json.loads(json.dumps(params, default=str))))


def _partition_values(params: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any, key: str | None = None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("pk", "gsi1pk", "gsi2pk", "gsi3pk") and isinstance(v, dict) and "S" in v:
                    found.append(v["S"])
                else:
                    walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)

    walk(params)
    for value in (params.get("ExpressionAttributeValues") or {}).values():
        if isinstance(value, dict) and str(value.get("S", "")).startswith("T#"):
            found.append(value["S"])
    return found


def test_recorded_walkthrough_stays_in_the_acting_tenant(client, tenant_a, tenant_b):
    recorder = Recorder()
    aws.install_session_hook("before-parameter-build.dynamodb", recorder)
    try:
        ids = populate(client, tenant_a, "rec")
        for path in ("/api/service-categories", "/api/professionals", "/api/customers", "/api/referrals",
                     "/api/tenant/usage"):
            assert client.get(path, tenant=tenant_a).status_code == 200
        with context.bound(context.TenantContext(tenant=tenant_a, request_id="walkthrough")):
            reconciliation.reconcile()  # the daily job's queries, for this tenant
        for template, (entity, body) in TARGETS.items():
            url = template.replace("{slug}", ids[entity]).replace("{id}", ids[entity])
            read = client.get(url, tenant=tenant_a)
            assert read.status_code in (200, 302), (url, read.status_code)
            if entity == "export":
                continue  # exports are read-only
            assert client.request("PATCH", url, tenant=tenant_a, body=body, headers={"If-Match": '"1"'}).status_code == 200
        assert client.request("DELETE", f"/api/referrals/{ids['referral']}", tenant=tenant_a).status_code == 204
    finally:
        aws._hooks["before-parameter-build.dynamodb"].remove(recorder)
    data_table, registry_table = get_settings().data_table, get_settings().registry_table
    prefix = keys.tenant_prefix(tenant_a.id)
    data_calls = [(op, p) for op, p in recorder.calls if data_table in json.dumps(p)]
    assert data_calls, "the walkthrough made no data-table calls"
    assert not [op for op, _ in recorder.calls if op == "Scan"]
    for op, params in data_calls:
        partitions = _partition_values(params)
        assert partitions, (op, params)
        assert all(p.startswith(prefix) for p in partitions), (op, partitions)
    other = {json.dumps(p).count(registry_table) > 0 for op, p in recorder.calls if (op, p) not in data_calls}
    assert other <= {True}  # anything else went to the registry (tenant resolution)
