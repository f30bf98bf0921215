"""The smaller findings of issue 19 (finding 9).

* An anonymous caller cannot tell a suspended tenant from one that does not exist
  (tenant enumeration): both are the same 404.
* The client's ``X-Request-ID`` reaches audit events only when well-formed.
* The connect-time SSRF check refuses the IPv6 forms that carry an IPv4 address (NAT64,
  6to4, IPv4-compatible) exactly as the save-time check does.
"""
from __future__ import annotations

from typing import Any

import pytest

from chalicelib.safe_urls import check_public_host, resolve_public_address
from tests.audit_helpers import stored_events
from tests.conftest import body_of

ADMIN = "platform_admin"


def _suspend(client: Any, tenant: Any) -> None:
    path = f"/api/admin/tenants/{tenant.id}"
    current = client.get(path, role=ADMIN)
    response = client.request("PUT", path, role=ADMIN, headers={"If-Match": current.headers["ETag"]},
                              body={"status": "suspended"})
    assert response.status_code == 200, response.body


def _anonymous(client: Any, headers: dict[str, str]) -> Any:
    return client.request("GET", "/api/tenant/branding", role=None, headers=headers)


@pytest.mark.parametrize("source", ["header", "host"])
def test_anonymous_callers_see_a_suspended_tenant_as_unknown(client, tenant_a, source):
    _suspend(client, tenant_a)
    if source == "header":
        suspended, unknown = {"X-Tenant-ID": "acme"}, {"X-Tenant-ID": "nosuchtenant"}
    else:
        suspended, unknown = {"Host": "acme.localhost"}, {"Host": "nosuchtenant.localhost"}
    answers = [_anonymous(client, suspended), _anonymous(client, unknown)]
    assert [a.status_code for a in answers] == [404, 404]
    bodies = [{k: v for k, v in body_of(a).items() if k != "request_id"} for a in answers]
    assert bodies[0] == bodies[1]
    # A member of the tenant still learns why: it is suspended, not gone
    member = client.get("/api/tenant", role="tenant_admin", tenant=tenant_a)
    assert member.status_code == 403 and body_of(member)["code"] == "tenant_suspended"


@pytest.mark.parametrize("given", ['abc"}\n{"forged": 1', "x" * 200, "short", "ünïcode-id-1234", "id with spaces"])
def test_a_malformed_request_id_never_reaches_the_audit_trail(client, tenant_a, given):
    response = client.request("POST", "/api/service-categories", tenant=tenant_a,
                              headers={"X-Request-ID": given}, body={"name": "Brakes", "slug": "brakes"})
    assert response.status_code == 201, response.body
    assert response.headers["X-Request-ID"] != given
    [event] = [e for e in stored_events(tenant_a) if e["action"] == "service_category.created"]
    assert event["request_id"] == response.headers["X-Request-ID"] != given


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:a9fe:a9fe::",
                                     "::127.0.0.1", "::a9fe:a9fe", "::ffff:127.0.0.1", "64:ff9b:1::7f00:1"])
def test_connect_time_check_refuses_ipv6_that_carries_ipv4(address):
    # Given the literal (getaddrinfo answers a literal with itself, no DNS needed)
    with pytest.raises(ValueError):
        check_public_host(address)
    with pytest.raises(ValueError):
        resolve_public_address(address, 443)


def test_connect_time_check_accepts_a_public_ipv6():
    assert resolve_public_address("2606:4700:4700::1111", 443) == "2606:4700:4700::1111"
