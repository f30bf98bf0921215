"""Per-tenant rate limits in-process: 429 with Retry-After and RateLimit-* headers, nothing stored."""
from __future__ import annotations

import math

import pytest

from chalicelib.ratelimit import RateLimits
from tests.conftest import body_of
from tests.rate_limit_support import limits_of, rate_headers, spend, use_limits

pytestmark = pytest.mark.usefixtures("clock")


def test_a_tenant_gets_its_burst_then_429_with_headers(client, tenant_a, clock):
    # Given the tenant's plan limits
    limits = limits_of(tenant_a)
    # When it sends its burst at one instant
    answers = spend(client, tenant_a, limits.burst)
    # Then every one passes, counting down its remaining requests
    assert [a.status_code for a in answers] == [200] * limits.burst
    assert [int(rate_headers(a)["RateLimit-Remaining"]) for a in answers] == list(range(limits.burst - 1, -1, -1))
    assert {rate_headers(a)["RateLimit-Limit"] for a in answers} == {str(limits.burst)}
    # And the next is a 429 problem saying when to come back
    refused = client.get("/api/tenant", tenant=tenant_a)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert body_of(refused)["code"] == "rate_limited"
    wait = math.ceil(1 / limits.rate_per_second)
    assert rate_headers(refused) == {"RateLimit-Limit": str(limits.burst), "RateLimit-Remaining": "0",
                                     "RateLimit-Reset": str(math.ceil(limits.burst / limits.rate_per_second)),
                                     "Retry-After": str(wait)}
    # And after Retry-After seconds it is let through again
    clock.advance(wait)
    assert client.get("/api/tenant", tenant=tenant_a).status_code == 200


def test_a_refused_write_stores_nothing(client, tenant_a, clock):
    spend(client, tenant_a, limits_of(tenant_a).burst)
    refused = client.request("POST", "/api/service-categories", tenant=tenant_a,
                             body={"slug": "brakes", "name": "Brakes"})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    clock.advance(60)
    listed = body_of(client.get("/api/service-categories", tenant=tenant_a))["items"]
    assert [c["slug"] for c in listed] == []


def test_the_daily_quota_is_a_429_until_midnight_utc(client, tenant_a, clock):
    use_limits(lambda _t: RateLimits(rate_per_second=100.0, burst=100, requests_per_day=3))
    answers = spend(client, tenant_a, 3)
    assert [rate_headers(a)["RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    refused = client.get("/api/tenant", tenant=tenant_a)
    assert refused.status_code == 429
    assert rate_headers(refused) == {"RateLimit-Limit": "3", "RateLimit-Remaining": "0",
                                     "RateLimit-Reset": "43200", "Retry-After": "43200"}
    clock.advance(43_200)
    assert client.get("/api/tenant", tenant=tenant_a).status_code == 200


def test_errors_after_the_limit_check_carry_the_headers_too(client, tenant_a):
    missing = client.get("/api/professionals/00000000-0000-4000-8000-000000000000", tenant=tenant_a)
    assert missing.status_code == 404 and rate_headers(missing)["RateLimit-Remaining"]


def test_requests_refused_before_the_limit_check_are_not_counted(client, tenant_a, tokens):
    limits = limits_of(tenant_a)
    for _ in range(limits.burst + 2):
        assert client.get("/api/tenant", role=None, headers={"X-Tenant-ID": str(tenant_a.id)}).status_code == 401
        assert client.get("/api/tenant/audit", tenant=tenant_a, role="professional").status_code == 403
    first = client.get("/api/tenant", tenant=tenant_a)
    assert first.status_code == 200 and rate_headers(first)["RateLimit-Remaining"] == str(limits.burst - 1)


def test_public_tenant_routes_are_limited_too(client, tenant_a):
    headers = {"X-Tenant-ID": str(tenant_a.id)}
    answers = [client.get("/api/tenant/branding", role=None, headers=headers)
               for _ in range(limits_of(tenant_a).burst + 1)]
    assert answers[0].status_code == 200 and rate_headers(answers[0])["RateLimit-Limit"]
    assert answers[-1].status_code == 429 and "Retry-After" in answers[-1].headers


def test_platform_admins_acting_in_a_tenant_do_not_spend_its_budget(client, tenant_a):
    limits = limits_of(tenant_a)
    for _ in range(limits.burst + 1):
        acting = client.get("/api/tenant", role="platform_admin", headers={"X-Tenant-ID": str(tenant_a.id)})
        assert acting.status_code == 200
    own = client.get("/api/tenant", tenant=tenant_a)
    assert own.status_code == 200 and rate_headers(own)["RateLimit-Remaining"] == str(limits.burst - 1)


def test_platform_routes_are_not_tenant_limited(client, tenant_a):
    answers = [client.get("/api/admin/tenants", role="platform_admin") for _ in range(limits_of(tenant_a).burst + 1)]
    assert {a.status_code for a in answers} == {200}
    assert "RateLimit-Limit" not in rate_headers(answers[-1])


def test_the_limiter_writes_nothing_to_dynamodb(client, tenant_a, dynamo_calls):
    client.get("/api/tenant", tenant=tenant_a)  # warm: the tenant is cached
    dynamo_calls.names.clear()
    for _ in range(5):
        client.get("/api/tenant", tenant=tenant_a)
    assert dynamo_calls.writes() == []


def put_plan(client, name: str, **changes: int) -> None:
    [plan] = [p for p in body_of(client.get("/api/admin/plans", role="platform_admin"))["items"] if p["name"] == name]
    fields = {k: v for k, v in plan.items() if k not in ("name", "version", "updated_at")}
    response = client.request("PUT", f"/api/admin/plans/{name}", role="platform_admin", body={**fields, **changes})
    assert response.status_code == 200, response.body


def test_a_plan_edit_reaches_the_limiter_without_a_deploy(client, tenant_a, tenant_b):
    put_plan(client, tenant_a.plan, burst=3)
    answers = spend(client, tenant_a, 4)
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert rate_headers(answers[0])["RateLimit-Limit"] == "3"
    assert spend(client, tenant_b, 1)[0].status_code == 200


def test_an_override_limits_one_tenant_of_the_plan(client, tenant_a, tenant_b):
    response = client.request("PUT", f"/api/admin/tenants/{tenant_a.id}/limits", role="platform_admin",
                              body={"burst": 1, "requests_per_day": 50})
    assert response.status_code == 200, response.body
    assert [a.status_code for a in spend(client, tenant_a, 2)] == [200, 429]
    plan_burst = limits_of(tenant_b).burst
    assert [a.status_code for a in spend(client, tenant_b, plan_burst)] == [200] * plan_burst


def test_usage_shows_todays_requests_against_the_daily_quota(client, tenant_a, tenant_b, clock):
    spend(client, tenant_a, 3)
    spend(client, tenant_b, 1)
    clock.advance(60)
    usage = body_of(client.get("/api/tenant/usage", tenant=tenant_a))
    daily = limits_of(tenant_a).requests_per_day
    assert usage["requests"] == {"used": 4, "limit": daily, "remaining": daily - 4}  # this request included
    clock.advance(86_400)
    assert body_of(client.get("/api/tenant/usage", tenant=tenant_a))["requests"]["used"] == 1
