"""The super-admin tenant API: create (with provisioning), list, get, edit, soft delete."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.conftest import body_of

ADMIN = "platform_admin"


def new_tenant(slug: str = "rapid", **fields: Any) -> dict[str, Any]:
    return {"slug": slug, "name": f"{slug.title()} Motors", "display_name": slug.title(),
            "admin_email": f"owner@{slug}.example", **fields}


def create(client, slug: str = "rapid", **fields: Any) -> dict[str, Any]:
    response = client.request("POST", "/api/admin/tenants", role=ADMIN, body=new_tenant(slug, **fields))
    assert response.status_code == 201, response.body
    return body_of(response)


def tenant_ids(client, path: str = "/api/admin/tenants") -> list[str]:
    return [t["slug"] for t in body_of(client.get(path, role=ADMIN))["items"]]


def test_create_provisions_an_active_tenant(client):
    created = create(client, plan="premium", domains=["book.rapid.example"], primary_color="#12abef")
    assert created["status"] == "active" and created["plan"] == "premium"
    assert created["primary_color"] == "#12ABEF" and created["domains"] == ["book.rapid.example"]
    assert "kms_key_arn" not in created
    profile = client.get("/api/tenant", role="tenant_admin", tenant=created["id"])
    assert profile.status_code == 200 and body_of(profile)["slug"] == "rapid"


def test_get_by_uuid_or_slug_with_etag(client):
    created = create(client)
    by_id = client.get(f"/api/admin/tenants/{created['id']}", role=ADMIN)
    by_slug = client.get("/api/admin/tenants/rapid", role=ADMIN)
    assert body_of(by_id) == body_of(by_slug)
    assert by_id.headers["ETag"] == f'"{created["version"]}"'
    assert client.get("/api/admin/tenants/nope-nope", role=ADMIN).status_code == 404


@pytest.mark.parametrize("field,value", [
    ("slug", "Bad Slug"), ("slug", "www"), ("primary_color", "red"), ("logo_url", "http://insecure.example/x.png"),
    ("admin_email", "not-an-email"), ("plan", "platinum"), ("domains", ["no_dots"]), ("unexpected", 1),
])
def test_bad_input_is_422_and_creates_nothing(client, field, value):
    response = client.request("POST", "/api/admin/tenants", role=ADMIN, body={**new_tenant(), field: value})
    assert response.status_code == 422, response.body
    assert body_of(response)["code"] == "validation_error"
    assert tenant_ids(client) == []


@pytest.mark.parametrize("configuration,path", [
    ({"audit": {"retention_days": 5}}, ["body", "configuration", "audit", "retention_days"]),
    ({"colour_scheme": "dark"}, ["body", "configuration", "colour_scheme"]),
    ({"features": {"referrals": "maybe"}}, ["body", "configuration", "features", "referrals"]),
])
def test_a_configuration_outside_the_schema_is_422_with_its_path(client, configuration, path):
    response = client.request("POST", "/api/admin/tenants", role=ADMIN, body={**new_tenant(), "configuration": configuration})
    assert response.status_code == 422, response.body
    assert path in [e["loc"] for e in body_of(response)["errors"]]
    assert tenant_ids(client) == []


def test_duplicate_slug_or_domain_is_409_and_creates_nothing(client):
    create(client, domains=["book.rapid.example"])
    again = client.request("POST", "/api/admin/tenants", role=ADMIN, body=new_tenant("rapid"))
    assert again.status_code == 409 and body_of(again)["conflict"] == "slug_taken"
    clash = client.request("POST", "/api/admin/tenants", role=ADMIN,
                           body=new_tenant("other", domains=["book.rapid.example"]))
    assert clash.status_code == 409 and body_of(clash)["conflict"] == "domain_taken"
    assert tenant_ids(client) == ["rapid"]
    assert client.get("/api/admin/tenants/other", role=ADMIN).status_code == 404


def test_list_filters_and_paginates_with_opaque_cursors(client):
    for slug, plan in [("alpha", "free"), ("bravo", "premium"), ("charlie", "premium")]:
        create(client, slug, plan=plan)
    first = body_of(client.get("/api/admin/tenants?limit=2", role=ADMIN))
    assert [t["slug"] for t in first["items"]] == ["alpha", "bravo"] and first["next_cursor"]
    rest = body_of(client.get(f"/api/admin/tenants?limit=2&cursor={first['next_cursor']}", role=ADMIN))
    assert [t["slug"] for t in rest["items"]] == ["charlie"]
    assert tenant_ids(client, "/api/admin/tenants?plan=premium") == ["bravo", "charlie"]
    assert tenant_ids(client, "/api/admin/tenants?q=arl") == ["charlie"]
    client.request("DELETE", "/api/admin/tenants/alpha", role=ADMIN)
    assert tenant_ids(client, "/api/admin/tenants?status=inactive") == ["alpha"]


def test_filtered_pages_are_full_pages(client):
    for slug, plan in [("alpha", "premium"), ("bravo", "free"), ("charlie", "free"), ("delta", "free"),
                       ("echo", "premium"), ("foxtrot", "premium")]:
        create(client, slug, plan=plan)
    first = body_of(client.get("/api/admin/tenants?plan=premium&limit=2", role=ADMIN))
    assert [t["slug"] for t in first["items"]] == ["alpha", "echo"] and first["next_cursor"]
    rest = body_of(client.get(f"/api/admin/tenants?plan=premium&limit=2&cursor={first['next_cursor']}", role=ADMIN))
    assert [t["slug"] for t in rest["items"]] == ["foxtrot"]


@pytest.mark.parametrize("cursor", [
    "garbage!!", base64.urlsafe_b64encode(b'{"k": {"pk": {"S": "T#x#PRO"}}}').decode(),
    base64.urlsafe_b64encode(json.dumps({"k": {"pk": {"S": "TENANT#1"}, "sk": {"S": "TENANT"},
                                               "gsi1pk": {"S": "TENANTS"}, "gsi1sk": {"S": "x"}}}).encode()).decode(),
])
def test_forged_cursors_are_refused(client, cursor):
    response = client.get(f"/api/admin/tenants?cursor={cursor}", role=ADMIN)
    assert response.status_code == 400 and body_of(response)["code"] == "invalid_cursor"


def test_put_needs_if_match_and_refuses_stale(client):
    created = create(client)
    path = f"/api/admin/tenants/{created['id']}"
    missing = client.request("PUT", path, role=ADMIN, body={"name": "New"})
    assert missing.status_code == 428
    stale = client.request("PUT", path, role=ADMIN, body={"name": "New"}, headers={"If-Match": '"99"'})
    assert stale.status_code == 412
    assert body_of(client.get(path, role=ADMIN))["name"] == "Rapid Motors"


def test_put_edits_fields_and_moves_domains(client):
    created = create(client, domains=["old.rapid.example"])
    path = f"/api/admin/tenants/{created['id']}"
    response = client.request("PUT", path, role=ADMIN, headers={"If-Match": f'"{created["version"]}"'},
                              body={"name": "Rapid Group", "plan": "enterprise", "domains": ["new.rapid.example"]})
    assert response.status_code == 200, response.body
    edited = body_of(response)
    assert (edited["name"], edited["plan"], edited["domains"]) == ("Rapid Group", "enterprise", ["new.rapid.example"])
    assert response.headers["ETag"] == f'"{created["version"] + 1}"'
    # The old domain is free for another tenant; the new one resolves to this one.
    create(client, "second", domains=["old.rapid.example"])
    resolved = client.get("/api/tenant", role="tenant_admin", tenant=created["id"],
                          headers={"Host": "new.rapid.example"})
    assert resolved.status_code == 200


def test_put_to_a_taken_domain_is_409_and_changes_nothing(client):
    create(client, "first", domains=["taken.example"])
    second = create(client, "second")
    response = client.request("PUT", "/api/admin/tenants/second", role=ADMIN,
                              headers={"If-Match": f'"{second["version"]}"'},
                              body={"name": "Renamed", "domains": ["taken.example"]})
    assert response.status_code == 409 and body_of(response)["conflict"] == "domain_taken"
    after = body_of(client.get("/api/admin/tenants/second", role=ADMIN))
    assert after["name"] == "Second Motors" and after["domains"] == [] and after["version"] == second["version"]


def test_suspend_and_reactivate_are_audited_in_both_trails(client):
    created = create(client)
    path = f"/api/admin/tenants/{created['id']}"
    suspended = client.request("PUT", path, role=ADMIN, headers={"If-Match": f'"{created["version"]}"'},
                               body={"status": "suspended"})
    assert body_of(suspended)["status"] == "suspended"
    refused = client.get("/api/tenant", role="tenant_admin", tenant=created["id"])
    assert refused.status_code == 403 and body_of(refused)["code"] == "tenant_suspended"
    client.request("PUT", path, role=ADMIN, headers={"If-Match": suspended.headers["ETag"]},
                   body={"status": "active"})
    assert client.get("/api/tenant", role="tenant_admin", tenant=created["id"]).status_code == 200
    platform = body_of(client.get("/api/admin/audit", role=ADMIN))["items"]
    actions = [e["action"] for e in platform if e.get("tenant_id") == created["id"]]
    assert {"tenant.created", "tenant.provisioned", "tenant.suspended", "tenant.reactivated"} <= set(actions)
    trail = body_of(client.get("/api/tenant/audit?limit=100", role="tenant_admin", tenant=created["id"]))["items"]
    assert {"tenant.suspended", "tenant.reactivated"} <= {e["action"] for e in trail}


def test_put_cannot_deactivate(client):
    created = create(client)
    response = client.request("PUT", f"/api/admin/tenants/{created['id']}", role=ADMIN,
                              headers={"If-Match": f'"{created["version"]}"'}, body={"status": "inactive"})
    assert response.status_code == 422


def test_soft_delete_hides_the_tenant_from_clients_but_keeps_its_data(client):
    created = create(client, seed_demo_data=True)
    before = client.get("/api/professionals", role="tenant_admin", tenant=created["id"])
    assert len(body_of(before)["items"]) == 4
    assert client.request("DELETE", f"/api/admin/tenants/{created['id']}", role=ADMIN).status_code == 204
    assert client.request("DELETE", "/api/admin/tenants/rapid", role=ADMIN).status_code == 204
    gone = client.get("/api/tenant", role="tenant_admin", tenant=created["id"])
    assert gone.status_code == 404 and body_of(gone)["code"] == "tenant_not_found"
    record = body_of(client.get("/api/admin/tenants/rapid", role=ADMIN))
    assert record["status"] == "inactive"
    audit = body_of(client.get("/api/admin/audit", role=ADMIN))["items"]
    assert [e["action"] for e in audit if e.get("tenant_id") == created["id"]].count("tenant.deactivated") == 1
    # The data stays, readable (only) by super-admins, over HTTP and audited.
    as_admin = {"X-Tenant-ID": created["id"]}
    kept = client.get("/api/professionals", role=ADMIN, headers=as_admin)
    assert kept.status_code == 200 and len(body_of(kept)["items"]) == 4
    by_slug = client.get("/api/customers", role=ADMIN, headers={"X-Tenant-ID": "rapid"})
    assert by_slug.status_code == 200 and body_of(by_slug)["items"]
    one = body_of(kept)["items"][0]["id"]
    assert client.get(f"/api/professionals/{one}", role=ADMIN, headers=as_admin).status_code == 200
    write = client.request("DELETE", f"/api/professionals/{one}", role=ADMIN, headers=as_admin)
    assert write.status_code == 404 and body_of(write)["code"] == "tenant_not_found"
    create_attempt = client.request("POST", "/api/service-categories", role=ADMIN, headers=as_admin,
                                    body={"slug": "late", "name": "Late"})
    assert create_attempt.status_code == 404
    assert len(body_of(client.get("/api/professionals", role=ADMIN, headers=as_admin))["items"]) == 4
    trail = body_of(client.get("/api/tenant/audit?action=tenant.accessed", role=ADMIN, headers=as_admin))
    read_routes = [e["details"]["route"] for e in trail["items"]]
    assert "/api/professionals" in read_routes and "/api/customers" in read_routes


def test_a_suspended_tenant_is_readable_only_by_super_admins(client):
    created = create(client, seed_demo_data=True)
    client.request("PUT", f"/api/admin/tenants/{created['id']}", role=ADMIN,
                   headers={"If-Match": f'"{created["version"]}"'}, body={"status": "suspended"})
    refused = client.get("/api/professionals", role="tenant_admin", tenant=created["id"])
    assert refused.status_code == 403 and body_of(refused)["code"] == "tenant_suspended"
    read = client.get("/api/professionals", role=ADMIN, headers={"X-Tenant-ID": "rapid"})
    assert read.status_code == 200 and len(body_of(read)["items"]) == 4
    write = client.request("POST", "/api/service-categories", role=ADMIN, headers={"X-Tenant-ID": "rapid"},
                           body={"slug": "late", "name": "Late"})
    assert write.status_code == 403


ADMIN_ROUTES = [
    ("POST", "/api/admin/tenants"), ("GET", "/api/admin/tenants"), ("GET", "/api/admin/tenants/acme"),
    ("PUT", "/api/admin/tenants/acme"), ("DELETE", "/api/admin/tenants/acme"),
    ("POST", "/api/admin/tenants/acme/provision"),
]


@pytest.mark.parametrize("role", ["tenant_admin", "manager", "professional", "customer"])
@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
def test_everyone_but_super_admins_gets_403(client, tokens, tenant_a, role, method, path):
    response = client.request(method, path, role=role, tenant=tenant_a, body=new_tenant("intruder"),
                              headers={"If-Match": '"1"'})
    assert response.status_code == 403, response.body
    # A tenant token claiming every tenant role is still refused; one claiming platform_admin
    # with a tenant claim is not a valid token at all.
    extra = tokens.token(role="tenant_admin", tenant=tenant_a, roles=["tenant_admin", "manager", "customer"])
    assert client.request(method, path, role=None, token=extra, body=new_tenant("intruder")).status_code == 403
    forged = tokens.token(role="tenant_admin", tenant=tenant_a, roles=["tenant_admin", "platform_admin"])
    assert client.request(method, path, role=None, token=forged, body=new_tenant("intruder")).status_code == 401
    assert client.get("/api/admin/tenants/intruder", role=ADMIN).status_code == 404
    assert body_of(client.get("/api/admin/tenants/acme", role=ADMIN))["status"] == "active"


def test_custom_domains_under_the_platform_domain_are_refused(client):
    created = create(client)
    response = client.request("PUT", f"/api/admin/tenants/{created['id']}", role=ADMIN,
                              headers={"If-Match": f'"{created["version"]}"'}, body={"domains": ["x.localhost"]})
    assert response.status_code == 422
    refused = client.request("POST", "/api/admin/tenants", role=ADMIN,
                             body=new_tenant("other", domains=["shop.localhost"]))
    assert refused.status_code == 422 and client.get("/api/admin/tenants/other", role=ADMIN).status_code == 404


def test_a_provisioning_tenant_cannot_be_edited(client, monkeypatch):
    from chalicelib.tenants import provisioning

    def crash(*_args):
        raise RuntimeError("injected")

    monkeypatch.setattr(provisioning, "STEPS", (("roles", crash),))
    assert client.request("POST", "/api/admin/tenants", role=ADMIN, body=new_tenant()).status_code == 500
    record = body_of(client.get("/api/admin/tenants/rapid", role=ADMIN))
    response = client.request("PUT", "/api/admin/tenants/rapid", role=ADMIN,
                              headers={"If-Match": f'"{record["version"]}"'}, body={"name": "X"})
    assert response.status_code == 409 and body_of(response)["conflict"] == "tenant_provisioning"
