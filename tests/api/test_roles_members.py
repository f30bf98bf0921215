"""Tenant roles (stored per tenant, driving route permissions) and members (invited by email)."""
from __future__ import annotations

import json

from tests.conftest import body_of
from tests.support.principals import real_members

ROLES = "/api/tenant/roles"
MEMBERS = "/api/tenant/members"


def roles_of(client, tenant) -> dict[str, list[str]]:
    response = client.get(ROLES, tenant=tenant)
    assert response.status_code == 200, response.body
    return {r["name"]: r["permissions"] for r in body_of(response)["items"]}


def test_a_tenant_without_stored_roles_lists_the_defaults(client, tenant_a):
    roles = roles_of(client, tenant_a)
    assert set(roles) == {"tenant_admin", "manager", "professional", "customer"}
    assert "roles:write" in roles["tenant_admin"] and "roles:write" not in roles["manager"]


def test_stored_roles_drive_route_permissions(client, tenant_a):
    # Given the manager role without professionals:read, and customers granted it
    manager = [p for p in roles_of(client, tenant_a)["manager"] if p != "professionals:read"]
    assert client.get("/api/professionals", tenant=tenant_a, role="manager").status_code == 200
    assert client.request("PUT", f"{ROLES}/manager", tenant=tenant_a, body={"permissions": manager}).status_code == 201
    customer = roles_of(client, tenant_a)["customer"] + ["professionals:read"]
    assert client.request("PUT", f"{ROLES}/customer", tenant=tenant_a, body={"permissions": customer}).status_code == 201
    # Then the routes follow the tenant's roles
    refused = client.get("/api/professionals", tenant=tenant_a, role="manager")
    assert refused.status_code == 403 and body_of(refused)["code"] == "forbidden"
    assert client.get("/api/professionals", tenant=tenant_a, role="customer").status_code == 200
    # And a custom role works once stored
    body = {"permissions": ["tenant:read", "referrals:read"]}
    assert client.request("PUT", f"{ROLES}/dispatcher", tenant=tenant_a, body=body).status_code == 201
    assert client.get("/api/referrals", tenant=tenant_a, role="dispatcher").status_code == 200
    assert client.get("/api/customers", tenant=tenant_a, role="dispatcher").status_code == 403


def test_another_tenants_roles_are_untouched(client, tenant_a, tenant_b):
    before = roles_of(client, tenant_a)
    response = client.request("PUT", f"{ROLES}/manager", tenant=tenant_b, body={"permissions": ["tenant:read"]})
    assert response.status_code == 201
    assert roles_of(client, tenant_a) == before
    assert client.get("/api/professionals", tenant=tenant_a, role="manager").status_code == 200
    assert client.get("/api/professionals", tenant=tenant_b, role="manager").status_code == 403


def test_tenant_admin_keeps_the_permissions_that_manage_roles(client, tenant_a):
    response = client.request("PUT", f"{ROLES}/tenant_admin", tenant=tenant_a, body={"permissions": ["tenant:read"]})
    assert response.status_code == 422 and body_of(response)["errors"][0]["type"] == "role_management_required"
    assert "roles:write" in roles_of(client, tenant_a)["tenant_admin"]
    assert client.request("PUT", f"{ROLES}/platform_admin", tenant=tenant_a,
                          body={"permissions": ["tenant:read"]}).status_code == 422
    unknown = client.request("PUT", f"{ROLES}/dispatcher", tenant=tenant_a, body={"permissions": ["platform:admin"]})
    assert unknown.status_code == 422 and "dispatcher" not in roles_of(client, tenant_a)


def test_editing_a_stored_role_needs_its_etag(client, tenant_a):
    created = client.request("PUT", f"{ROLES}/dispatcher", tenant=tenant_a, body={"permissions": ["tenant:read"]})
    assert client.request("PUT", f"{ROLES}/dispatcher", tenant=tenant_a,
                          body={"permissions": ["referrals:read"]}).status_code == 428
    assert client.request("PUT", f"{ROLES}/dispatcher", tenant=tenant_a, body={"permissions": ["referrals:read"]},
                          headers={"If-Match": '"7"'}).status_code == 412
    ok = client.request("PUT", f"{ROLES}/dispatcher", tenant=tenant_a, body={"permissions": ["referrals:read"]},
                        headers={"If-Match": created.headers["ETag"]})
    assert ok.status_code == 200 and body_of(ok)["permissions"] == ["referrals:read"]


def test_managers_read_but_cannot_change_roles_or_members(client, tenant_a):
    assert client.get(MEMBERS, tenant=tenant_a, role="manager").status_code == 200
    assert client.get(ROLES, tenant=tenant_a, role="manager").status_code == 403
    invite = {"email": "x@shop.example", "role": "manager"}
    assert client.request("POST", MEMBERS, tenant=tenant_a, role="manager", body=invite).status_code == 403
    assert client.request("PUT", f"{ROLES}/manager", tenant=tenant_a, role="manager",
                          body={"permissions": ["tenant:read"]}).status_code == 403
    assert real_members(body_of(client.get(MEMBERS, tenant=tenant_a))["items"]) == []


def test_member_lifecycle(client, tenant_a):
    response = client.request("POST", MEMBERS, tenant=tenant_a, body={"email": "Ana@Shop.Example", "role": "manager"})
    assert response.status_code == 201, response.body
    member = body_of(response)
    assert (member["email"], member["role"], member["status"]) == ("ana@shop.example", "manager", "invited")
    dup = client.request("POST", MEMBERS, tenant=tenant_a, body={"email": "ana@shop.example", "role": "customer"})
    assert dup.status_code == 409 and body_of(dup)["conflict"] == "member_exists"
    bad = client.request("POST", MEMBERS, tenant=tenant_a, body={"email": "bo@shop.example", "role": "wizard"})
    assert bad.status_code == 422
    path = f"{MEMBERS}/{member['id']}"
    assert client.request("PATCH", path, tenant=tenant_a, body={"role": "customer"}).status_code == 428
    edited = client.request("PATCH", path, tenant=tenant_a, body={"role": "customer", "status": "active"},
                            headers={"If-Match": response.headers["ETag"]})
    assert body_of(edited)["role"] == "customer" and body_of(edited)["status"] == "active"
    assert client.request("PATCH", path, tenant=tenant_a, body={"role": "manager"},
                          headers={"If-Match": response.headers["ETag"]}).status_code == 412
    assert client.request("DELETE", path, tenant=tenant_a).status_code == 204
    assert client.get(path, tenant=tenant_a).status_code == 404
    # The email is free again once removed.
    again = client.request("POST", MEMBERS, tenant=tenant_a, body={"email": "ana@shop.example", "role": "manager"})
    assert again.status_code == 201


def test_member_emails_are_sealed_at_rest(client, tenant_a):
    from chalicelib.store import data, keys
    from chalicelib.tenancy import context

    member = body_of(client.request("POST", MEMBERS, tenant=tenant_a,
                                    body={"email": "secret.person@shop.example", "role": "manager"}))
    with context.bound(context.TenantContext(tenant=tenant_a, request_id="test-raw")):
        item = data.get(data.partition(keys.MEMBER), member["id"])
    assert item is not None and "secret.person" not in (item.pii or "") + (item.data or "")


def _invitation_token(tenant, member_id: str) -> str:
    from chalicelib import members
    from chalicelib.tenancy import context

    with context.bound(context.TenantContext(tenant=tenant, request_id="test-token")):
        return members.invitation_token(member_id)


def test_an_invitee_accepts_once_with_the_mailed_token(client, tokens, tenant_a):
    member = body_of(client.request("POST", MEMBERS, tenant=tenant_a,
                                    body={"email": "new.hire@shop.example", "role": "manager"}))
    accept = f"/api/tenant/invitations/{member['id']}/accept"
    token = _invitation_token(tenant_a, member["id"])
    invitee = tokens.token(role="customer", tenant=tenant_a, sub="idp|new-hire", member=False,
                           email="new.hire@shop.example", email_verified=True)
    wrong = client.request("POST", accept, token=invitee, body={"token": "f" * 64})
    assert wrong.status_code == 404
    assert client.request("POST", accept, token=invitee, body={"token": "nope"}).status_code == 422
    accepted = client.request("POST", accept, token=invitee, body={"token": token})
    assert accepted.status_code == 200, accepted.body
    joined = body_of(accepted)
    assert (joined["status"], joined["subject"], joined["role"]) == ("active", "idp|new-hire", "manager")
    # Single use: the same link again, even by the invitee, is closed
    again = client.request("POST", accept, token=invitee, body={"token": token})
    assert again.status_code == 409 and body_of(again)["conflict"] == "invitation_closed"
    someone_else = tokens.token(role="customer", tenant=tenant_a, sub="idp|other", member=False,
                                email="new.hire@shop.example", email_verified=True)
    taken = client.request("POST", accept, token=someone_else, body={"token": token})
    assert taken.status_code == 409 and body_of(taken)["conflict"] == "invitation_closed"
    trail = body_of(client.get("/api/tenant/audit?action=member.joined", tenant=tenant_a))["items"]
    assert [e["target"]["id"] for e in trail] == [member["id"]]
    assert "new.hire" not in json.dumps(trail)


def test_a_disabled_member_cannot_accept(client, tokens, tenant_a):
    created = client.request("POST", MEMBERS, tenant=tenant_a, body={"email": "gone@shop.example", "role": "manager"})
    member = body_of(created)
    token = _invitation_token(tenant_a, member["id"])
    client.request("PATCH", f"{MEMBERS}/{member['id']}", tenant=tenant_a, body={"status": "disabled"},
                   headers={"If-Match": created.headers["ETag"]})
    response = client.request("POST", f"/api/tenant/invitations/{member['id']}/accept",
                              token=tokens.token(role="customer", tenant=tenant_a, sub="idp|gone", member=False,
                                                 email="gone@shop.example", email_verified=True),
                              body={"token": token})
    assert response.status_code == 409


def test_members_are_paginated(client, tenant_a):
    for n in range(5):
        client.request("POST", MEMBERS, tenant=tenant_a, body={"email": f"m{n}@shop.example", "role": "manager"})
    first = body_of(client.get(f"{MEMBERS}?limit=3", tenant=tenant_a))
    second = body_of(client.get(f"{MEMBERS}?limit=3&cursor={first['next_cursor']}", tenant=tenant_a))
    emails = [m["email"] for m in real_members(first["items"] + second["items"])]
    assert len(first["items"]) == 3 and sorted(emails) == [f"m{n}@shop.example" for n in range(5)]
    assert client.get(f"{MEMBERS}?limit=1000", tenant=tenant_a).status_code == 422
