"""Inside a tenant the member record is the authority, not the token's roles.

Prevents: a disabled or downgraded member keeping every right its token claims until
the token expires; a token claiming more than its member record grants; a signed-in
stranger acting in a tenant it was never invited to; sessions older than the tenant
allows.
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.config_helpers import put_config
from tests.conftest import ISSUER, body_of
from tests.support.principals import ensure_member

PROS = "/api/professionals"
MEMBERS = "/api/tenant/members"


def member_id_of(client: Any, tenant: Any, sub: str) -> tuple[str, str]:
    items = body_of(client.get(f"{MEMBERS}?limit=100", tenant=tenant))["items"]
    [member] = [m for m in items if m["subject"] == sub]
    return member["id"], f'"{member["version"]}"'


def patch_member(client: Any, tenant: Any, sub: str, body: dict[str, Any]) -> Any:
    member_id, etag = member_id_of(client, tenant, sub)
    response = client.request("PATCH", f"{MEMBERS}/{member_id}", tenant=tenant, body=body, headers={"If-Match": etag})
    assert response.status_code == 200, response.body
    return response


def test_a_signed_in_identity_with_no_member_record_is_not_a_member(client, tokens, tenant_a):
    stranger = tokens.token(role="tenant_admin", tenant=tenant_a, sub="idp|stranger", member=False)
    response = client.get("/api/tenant", token=stranger)
    assert response.status_code == 403 and body_of(response)["code"] == "not_a_member"


def test_a_member_of_another_tenant_is_not_a_member_here(client, tokens, tenant_a, tenant_b):
    tokens.token(role="tenant_admin", tenant=tenant_b, sub="idp|globex-admin")  # a member of B
    token_for_a = tokens.token(role="tenant_admin", tenant=tenant_a, sub="idp|globex-admin", member=False)
    response = client.get("/api/tenant", token=token_for_a)
    assert response.status_code == 403 and body_of(response)["code"] == "not_a_member"


def test_a_disabled_member_is_refused_at_once_in_the_container_that_disabled_it(client, tokens, tenant_a):
    # Given a manager who lists professionals (its standing now cached)
    manager = tokens.token(role="manager", tenant=tenant_a, sub="idp|manager")
    assert client.get(PROS, token=manager).status_code == 200
    # When the tenant admin disables it
    patch_member(client, tenant_a, "idp|manager", {"status": "disabled"})
    # Then the same token is refused on the next request
    refused = client.get(PROS, token=manager)
    assert refused.status_code == 403 and body_of(refused)["code"] == "member_disabled"


def test_a_role_downgrade_takes_effect_for_the_same_token(client, tokens, tenant_a):
    manager = tokens.token(role="manager", tenant=tenant_a, sub="idp|demoted")
    assert client.get(PROS, token=manager).status_code == 200
    patch_member(client, tenant_a, "idp|demoted", {"role": "customer"})
    refused = client.get(PROS, token=manager)
    assert refused.status_code == 403 and body_of(refused)["code"] == "forbidden"


def test_a_token_claiming_tenant_admin_for_a_customer_member_gets_customer_rights(client, tokens, tenant_a):
    ensure_member(tenant_a.id, ISSUER, "idp|customer", "customer")
    claims_admin = tokens.token(role="tenant_admin", tenant=tenant_a, sub="idp|customer", member=False)
    assert client.get("/api/tenant", token=claims_admin).status_code == 200  # customers read the tenant
    for path in (PROS, MEMBERS, "/api/tenant/roles", "/api/tenant/audit"):
        refused = client.get(path, token=claims_admin)
        assert refused.status_code == 403 and body_of(refused)["code"] == "forbidden", path


def test_token_roles_narrow_what_the_member_record_grants(client, tokens, tenant_a):
    ensure_member(tenant_a.id, ISSUER, "idp|admin", "tenant_admin")
    as_customer = tokens.token(role="customer", tenant=tenant_a, sub="idp|admin", member=False)
    assert client.get(MEMBERS, token=as_customer).status_code == 403
    # Groups the tenant does not know as roles narrow nothing
    other_groups = tokens.sign(tokens.claims(tenant=tenant_a, sub="idp|admin") | {"roles": ["Everyone", "vpn"]},
                               member=False)
    assert client.get(MEMBERS, token=other_groups).status_code == 200


def test_an_invited_member_that_has_not_accepted_is_not_a_member(client, tokens, tenant_a):
    ensure_member(tenant_a.id, ISSUER, "idp|pending", "manager", status="invited")
    token = tokens.token(role="manager", tenant=tenant_a, sub="idp|pending", member=False)
    response = client.get("/api/tenant", token=token)
    assert response.status_code == 403 and body_of(response)["code"] == "not_a_member"


def test_the_same_subject_from_another_issuer_is_another_identity(client, tokens, tenant_a):
    ensure_member(tenant_a.id, "https://other-idp.example/", "idp|shared-sub", "tenant_admin")
    token = tokens.token(role="tenant_admin", tenant=tenant_a, sub="idp|shared-sub", member=False)
    response = client.get("/api/tenant", token=token)
    assert response.status_code == 403 and body_of(response)["code"] == "not_a_member"


def test_platform_admins_come_from_the_identity_provider_not_the_member_list(client, tokens, tenant_a):
    admin = tokens.token(role="platform_admin")
    assert client.get(PROS, token=admin, headers={"X-Tenant-ID": "acme"}).status_code == 200
    # A member record cannot make anyone a platform admin
    ensure_member(tenant_a.id, ISSUER, "idp|wannabe", "platform_admin")
    wannabe = tokens.token(role="manager", tenant=tenant_a, sub="idp|wannabe", member=False)
    assert client.get("/api/admin/tenants", token=wannabe).status_code == 403
    assert client.get(PROS, token=wannabe).status_code == 403


def test_a_warm_request_reads_no_membership_from_dynamodb(client, tokens, tenant_a, dynamo_calls):
    from chalicelib import aws

    read: list[str] = []

    def record(params: Any = None, **_: Any) -> None:
        read.append(str(params))

    manager = tokens.token(role="manager", tenant=tenant_a, sub="idp|warm")
    aws.install_session_hook("before-call.dynamodb", record)
    try:
        assert client.get("/api/tenant", token=manager).status_code == 200  # cold: reads the member
        assert any("#MEMBERSUB" in p for p in read)
        dynamo_calls.names.clear()
        read.clear()
        assert client.get("/api/tenant", token=manager).status_code == 200
    finally:
        aws.remove_session_hook("before-call.dynamodb", record)
    # Then the warm request costs only what the route itself reads (its branding), no member lookup
    assert read and not any("#MEMBER" in p or "#CONFIG" in p for p in read)


def test_a_change_made_in_another_container_shows_once_the_cache_entry_expires(client, tokens, tenant_a):
    from chalicelib import clock

    now = [clock.monotonic()]
    with clock.use(monotonic=lambda: now[0]):
        manager = tokens.token(role="manager", tenant=tenant_a, sub="idp|elsewhere")
        assert client.get(PROS, token=manager).status_code == 200  # its standing is now cached here
        # When another container disables the member (written straight to the table: this
        # process's cache is not told)
        _write_status_without_telling_this_process(tenant_a, "idp|elsewhere", "disabled")
        # Then this process still serves it inside the window (MEMBERSHIP_CACHE_TTL_SECONDS, 5 s)
        now[0] += 4.5
        assert client.get(PROS, token=manager).status_code == 200
        # And refuses it once the window has passed
        now[0] += 1
        refused = client.get(PROS, token=manager)
    assert refused.status_code == 403 and body_of(refused)["code"] == "member_disabled"


def _write_status_without_telling_this_process(tenant: Any, sub: str, status: str) -> None:
    from chalicelib.members import service
    from chalicelib.store import data, keys
    from chalicelib.store.data import DataItem
    from chalicelib.store.unit_of_work import UnitOfWork
    from chalicelib.tenancy.context import TenantContext, bound

    with bound(TenantContext(tenant=tenant, request_id="other-container")):
        key = service.subject_key(ISSUER, sub)
        pointer = data.get(key.pk, key.sk)
        item = data.get(data.partition(keys.MEMBER), str(pointer.entity_id))
        uow = UnitOfWork()
        uow.update("member", item, [DataItem.status.set(status)], DataItem.pk.exists())
        uow.commit()


@pytest.mark.parametrize("claim", ["auth_time", "iat"])
def test_a_session_older_than_the_tenants_limit_is_expired(client, tokens, tenant_a, claim):
    put_config(client, tenant_a, {"security": {"session_lifetime_minutes": 5}}, 1)
    now = int(time.time())
    # auth_time when sent (a refreshed token keeps the sign-in time), else iat
    old = {"auth_time": now - 600, "iat": now - 10} if claim == "auth_time" else {"iat": now - 600}
    token = tokens.token(role="manager", tenant=tenant_a, sub="idp|long-session", ttl=1200, **old)
    expired = client.get("/api/tenant", token=token)
    assert expired.status_code == 401 and body_of(expired)["code"] == "session_expired"
    fresh = tokens.token(role="manager", tenant=tenant_a, sub="idp|long-session", auth_time=now - 60)
    assert client.get("/api/tenant", token=fresh).status_code == 200
