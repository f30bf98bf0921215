"""Tokens from a real identity provider (moto's Cognito), through the claim mapping.

Prevents: a stage that can only trust the development key's claims; ``aud``-only
validation refusing every Cognito access token; a mapping loose enough that another
client's, another pool's or a mis-mapped token gets in; a group that merely shares the
platform-admin role's name making a platform admin.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import body_of
from tests.support.cognito import ADMIN_GROUP, Pool, cognito_environment, create_pool, trust
from tests.support.principals import ensure_member

PROS = "/api/professionals"


@pytest.fixture
def pool(aws_mock: None) -> Pool:
    return create_pool()


@pytest.fixture
def cognito(pool: Pool, monkeypatch: pytest.MonkeyPatch) -> Pool:
    trust(monkeypatch, cognito_environment(pool))
    return pool


def call(client: Any, token: str, path: str = PROS, method: str = "GET", **kwargs: Any) -> Any:
    return client.request(method, path, token=token, role=None, **kwargs)


def test_cognito_id_and_access_tokens_of_a_member_are_accepted(client, cognito, tenant_a):
    sub = cognito.user("ana@shop.example", tenant_id=str(tenant_a.id), groups=("manager",))
    ensure_member(tenant_a.id, cognito.issuer, sub, "manager")
    tokens = cognito.sign_in("ana@shop.example")
    # The ID token names the tenant in custom:tenant_id
    assert call(client, tokens["id"]).status_code == 200
    # The access token names none: the host or X-Tenant-ID does; client_id + token_use stand for aud
    assert call(client, tokens["access"], headers={"X-Tenant-ID": "acme"}).status_code == 200
    assert call(client, tokens["access"]).status_code == 404  # no tenant named at all


def test_a_pool_user_who_is_not_a_member_is_refused(client, cognito, tenant_a):
    cognito.user("stranger@shop.example", tenant_id=str(tenant_a.id), groups=("tenant_admin",))
    refused = call(client, cognito.sign_in("stranger@shop.example")["id"])
    assert refused.status_code == 403 and body_of(refused)["code"] == "not_a_member"


@pytest.mark.parametrize("change", [
    pytest.param({"JWT_ACCESS_TOKEN_CLIENT_IDS": ""}, id="aud-only-refuses-access-tokens"),
    pytest.param({"JWT_ACCESS_TOKEN_CLIENT_IDS": "another-client"}, id="another-apps-access-token"),
    pytest.param({"JWT_ISSUER": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"}, id="another-pool"),
    pytest.param({"JWT_ROLES_CLAIM_REQUIRED": "true", "JWT_ROLES_CLAIM": "roles"}, id="roles-claim-missing"),
])
def test_cognito_access_tokens_are_refused_with_the_wrong_mapping(client, pool, tenant_a, monkeypatch, change):
    sub = pool.user("ana@shop.example", groups=("manager",))
    ensure_member(tenant_a.id, pool.issuer, sub, "manager")
    trust(monkeypatch, {**cognito_environment(pool), **change})
    refused = call(client, pool.sign_in("ana@shop.example")["access"], headers={"X-Tenant-ID": "acme"})
    assert refused.status_code == 401


@pytest.mark.parametrize("change", [
    pytest.param({"JWT_AUDIENCE": "another-client"}, id="another-apps-id-token"),
    pytest.param({"JWT_TENANT_CLAIM": "tenant_id", "JWT_TENANT_CLAIM_REQUIRED": "true"}, id="tenant-claim-missing"),
    pytest.param({"JWT_ALGORITHMS": "ES256", "JWT_JWKS": '{"keys": []}'}, id="rs256-not-allowed"),
])
def test_cognito_id_tokens_are_refused_with_the_wrong_mapping(client, pool, tenant_a, monkeypatch, change):
    sub = pool.user("ana@shop.example", tenant_id=str(tenant_a.id), groups=("manager",))
    ensure_member(tenant_a.id, pool.issuer, sub, "manager")
    trust(monkeypatch, {**cognito_environment(pool), **change})
    assert call(client, pool.sign_in("ana@shop.example")["id"]).status_code == 401


def test_the_configured_admin_group_makes_a_platform_admin_and_a_look_alike_does_not(client, cognito):
    cognito.user("ops@platform.example", groups=(ADMIN_GROUP,))
    cognito.user("sneaky@shop.example", groups=("platform_admin",))
    ops = cognito.sign_in("ops@platform.example")["access"]
    assert call(client, ops, "/api/admin/tenants").status_code == 200
    sneaky = cognito.sign_in("sneaky@shop.example")["access"]
    assert call(client, sneaky, "/api/admin/tenants").status_code == 403


def test_a_cognito_user_invited_as_manager_accepts_acts_and_is_cut_off_when_disabled(client, cognito, tenant_a):
    # Given a tenant admin signed in through the pool
    admin_sub = cognito.user("boss@acme-motors.example", tenant_id=str(tenant_a.id), groups=("tenant_admin",))
    ensure_member(tenant_a.id, cognito.issuer, admin_sub, "tenant_admin")
    admin = cognito.sign_in("boss@acme-motors.example")["id"]
    # When the admin invites a user as manager and the user accepts with its ID token
    invited = call(client, admin, "/api/tenant/members", "POST", body={"email": "ana@shop.example",
                                                                       "role": "manager"})
    assert invited.status_code == 201, invited.body
    member = body_of(invited)
    cognito.user("ana@shop.example", tenant_id=str(tenant_a.id))
    ana = cognito.sign_in("ana@shop.example")
    from chalicelib import members
    from chalicelib.tenancy.context import TenantContext, bound

    with bound(TenantContext(tenant=tenant_a, request_id="test-mail")):
        link_token = members.invitation_token(member["id"])
    accepted = call(client, ana["id"], f"/api/tenant/invitations/{member['id']}/accept", "POST",
                    body={"token": link_token})
    assert accepted.status_code == 200, accepted.body
    # Then its access token lists professionals (no group needed: the member record decides)
    access = ana["access"]
    assert call(client, access, headers={"X-Tenant-ID": "acme"}).status_code == 200
    # And once the admin disables the member, the same token is refused
    disabled = call(client, admin, f"/api/tenant/members/{member['id']}", "PATCH", body={"status": "disabled"},
                    headers={"If-Match": accepted.headers["ETag"]})
    assert disabled.status_code == 200, disabled.body
    refused = call(client, access, headers={"X-Tenant-ID": "acme"})
    assert refused.status_code == 403 and body_of(refused)["code"] == "member_disabled"
