"""Invitations are for their invitee only, expire, work once, and respect the tenant's
allowed email domains.

Prevents: anyone signed in who holds a link joining as the invitee; a link that works
forever; a member set back to ``invited`` re-opening an old link; an admin inviting an
outside address when the tenant restricts domains.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.config_helpers import put_config
from tests.audit_helpers import raw_items
from tests.conftest import body_of
from tests.support.principals import real_members

MEMBERS = "/api/tenant/members"


def invite(client: Any, tenant: Any, email: str, role: str = "manager") -> dict[str, Any]:
    response = client.request("POST", MEMBERS, tenant=tenant, body={"email": email, "role": role})
    assert response.status_code == 201, response.body
    return body_of(response)


def token_of(tenant: Any, member_id: str) -> str:
    from chalicelib import members
    from chalicelib.tenancy.context import TenantContext, bound

    with bound(TenantContext(tenant=tenant, request_id="test-token")):
        return members.invitation_token(member_id)


def accept(client: Any, tokens: Any, tenant: Any, member_id: str, token: str, *, sub: str = "idp|invitee",
           **claims: Any) -> Any:
    caller = tokens.token(role="customer", tenant=tenant, sub=sub, member=False, **claims)
    return client.request("POST", f"/api/tenant/invitations/{member_id}/accept", token=caller, body={"token": token})


def status_of(client: Any, tenant: Any, member_id: str) -> str:
    return body_of(client.get(f"{MEMBERS}/{member_id}", tenant=tenant))["status"]


@pytest.mark.parametrize("claims", [
    pytest.param({"email": "someone.else@shop.example", "email_verified": True}, id="another-email"),
    pytest.param({"email": "invitee@shop.example", "email_verified": False}, id="unverified"),
    pytest.param({"email": "invitee@shop.example", "email_verified": "false"}, id="unverified-as-string"),
    pytest.param({}, id="no-email"),
])
def test_only_the_invitees_verified_email_accepts(client, tokens, tenant_a, claims):
    member = invite(client, tenant_a, "invitee@shop.example")
    response = accept(client, tokens, tenant_a, member["id"], token_of(tenant_a, member["id"]), **claims)
    assert response.status_code == 403 and body_of(response)["code"] == "invitation_email_mismatch"
    assert status_of(client, tenant_a, member["id"]) == "invited"
    assert all(i.entity_id != member["id"] for i in raw_items(tenant_a, "MEMBERSUB"))


def test_the_invitee_accepts_and_then_acts_with_the_invited_role(client, tokens, tenant_a):
    member = invite(client, tenant_a, "Invitee@Shop.Example")
    accepted = accept(client, tokens, tenant_a, member["id"], token_of(tenant_a, member["id"]),
                      email="invitee@shop.example", email_verified=True)
    assert accepted.status_code == 200, accepted.body
    # The same identity now has the member's role, whatever its token claims
    as_member = tokens.token(role="manager", tenant=tenant_a, sub="idp|invitee", member=False)
    assert client.get("/api/professionals", token=as_member).status_code == 200
    # A provider that sends no email_verified (it only sends verified addresses) is taken at its word
    other = invite(client, tenant_a, "plain@shop.example")
    plain = accept(client, tokens, tenant_a, other["id"], token_of(tenant_a, other["id"]), sub="idp|plain",
                   email="plain@shop.example")
    assert plain.status_code == 200, plain.body


def test_an_expired_invitation_is_gone_and_re_inviting_opens_a_new_one(client, tokens, tenant_a, monkeypatch):
    from datetime import timedelta

    from chalicelib import clock
    from chalicelib.settings import reset_settings

    # Given invitations that live an hour (the sessions of the tenant live 8)
    monkeypatch.setenv("INVITATION_TTL_HOURS", "1")
    reset_settings()
    member = invite(client, tenant_a, "late@shop.example")
    token = token_of(tenant_a, member["id"])
    an_hour_later = clock.now() + timedelta(hours=1, seconds=1)
    with clock.use(wall=lambda: an_hour_later):
        response = accept(client, tokens, tenant_a, member["id"], token, email="late@shop.example",
                          email_verified=True)
    assert response.status_code == 410 and body_of(response)["code"] == "invitation_expired"
    assert status_of(client, tenant_a, member["id"]) == "invited"
    # Re-inviting issues a new token (the old one stays void), valid for the full period again
    assert client.request("POST", f"{MEMBERS}/{member['id']}/invitation", tenant=tenant_a).status_code == 202
    fresh = token_of(tenant_a, member["id"])
    assert fresh != token
    assert accept(client, tokens, tenant_a, member["id"], token, email="late@shop.example",
                  email_verified=True).status_code == 404
    assert accept(client, tokens, tenant_a, member["id"], fresh, email="late@shop.example",
                  email_verified=True).status_code == 200


def test_the_invitation_lifetime_is_configurable_and_seven_days_by_default(app_env, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from chalicelib.members import invitations
    from chalicelib.settings import reset_settings

    issued = datetime(2026, 1, 1, tzinfo=UTC)
    assert invitations.new_invitation(issued)["expires_at"] == (issued + timedelta(days=7)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    monkeypatch.setenv("INVITATION_TTL_HOURS", "48")
    reset_settings()
    assert invitations.new_invitation(issued)["expires_at"] == "2026-01-03T00:00:00.000Z"


def test_an_invitation_works_once_and_setting_the_member_back_to_invited_does_not_reopen_it(client, tokens,
                                                                                         tenant_a):
    member = invite(client, tenant_a, "once@shop.example")
    token = token_of(tenant_a, member["id"])
    joined = accept(client, tokens, tenant_a, member["id"], token, sub="idp|once", email="once@shop.example",
                    email_verified=True)
    assert joined.status_code == 200
    twice = accept(client, tokens, tenant_a, member["id"], token, sub="idp|once", email="once@shop.example",
                   email_verified=True)
    assert twice.status_code == 409 and body_of(twice)["conflict"] == "invitation_closed"
    # An admin sets the member back to invited: the old link stays closed
    reset = client.request("PATCH", f"{MEMBERS}/{member['id']}", tenant=tenant_a, body={"status": "invited"},
                           headers={"If-Match": joined.headers["ETag"]})
    assert reset.status_code == 200
    again = accept(client, tokens, tenant_a, member["id"], token, sub="idp|thief", email="once@shop.example",
                   email_verified=True)
    assert again.status_code == 409 and body_of(again)["conflict"] == "invitation_closed"
    # And the member, no longer active, may not act
    as_member = tokens.token(role="manager", tenant=tenant_a, sub="idp|once", member=False)
    assert body_of(client.get("/api/tenant", token=as_member))["code"] == "not_a_member"


def test_invitations_outside_the_allowed_domains_are_refused_and_store_nothing(client, tenant_a):
    put_config(client, tenant_a, {"security": {"allowed_member_email_domains": ["acme-motors.example"]}}, 1)
    refused = client.request("POST", MEMBERS, tenant=tenant_a,
                             body={"email": "outsider@evil.example", "role": "tenant_admin"})
    assert refused.status_code == 422
    assert body_of(refused)["errors"] == [{"loc": ["body", "email"], "type": "email_domain_not_allowed"}]
    assert real_members(body_of(client.get(MEMBERS, tenant=tenant_a))["items"]) == []
    # A look-alike is no better; the listed domain is accepted
    assert client.request("POST", MEMBERS, tenant=tenant_a, body={"email": "x@acme-motors.example.evil.example",
                                                                  "role": "manager"}).status_code == 422
    assert invite(client, tenant_a, "new@ACME-motors.example")["email"] == "new@acme-motors.example"
