"""One noisy tenant cannot use up its tier: limits are per tenant, not per plan."""
from __future__ import annotations

import pytest

from tests.conftest import body_of
from tests.rate_limit_support import limits_of, rate_headers, spend

pytestmark = pytest.mark.usefixtures("clock")


def test_a_noisy_tenant_gets_429s_while_another_on_the_same_plan_is_unaffected(client, tenant_a, tenant_b):
    # Given two tenants on the same plan
    assert tenant_a.plan == tenant_b.plan
    limits = limits_of(tenant_a)
    # When tenant A sends far more than its burst
    noisy = spend(client, tenant_a, limits.burst * 3)
    refused = [r for r in noisy if r.status_code == 429]
    assert len(refused) == limits.burst * 2
    assert all(body_of(r)["code"] == "rate_limited" and "Retry-After" in r.headers for r in refused)
    # Then tenant B still has its whole burst, reads and writes alike
    quiet = spend(client, tenant_b, limits.burst - 1)
    created = client.request("POST", "/api/service-categories", tenant=tenant_b, body={"slug": "glass", "name": "Glass"})
    assert [r.status_code for r in quiet] == [200] * (limits.burst - 1) and created.status_code == 201
    assert rate_headers(quiet[0])["RateLimit-Remaining"] == str(limits.burst - 1)
    assert rate_headers(created)["RateLimit-Remaining"] == "0"


def test_naming_another_tenant_spends_neither_budget(client, tenant_a, tenant_b):
    limits = limits_of(tenant_b)
    for _ in range(limits.burst + 1):
        crossed = client.get("/api/tenant", tenant=tenant_a, headers={"X-Tenant-ID": str(tenant_b.id)})
        assert crossed.status_code == 403 and body_of(crossed)["code"] == "tenant_mismatch"
        assert rate_headers(crossed) == {}
    for tenant in (tenant_a, tenant_b):
        first = client.get("/api/tenant", tenant=tenant)
        assert first.status_code == 200 and rate_headers(first)["RateLimit-Remaining"] == str(limits.burst - 1)


def test_a_host_naming_another_tenant_cannot_borrow_its_budget(client, tenant_a, tenant_b):
    spend(client, tenant_a, limits_of(tenant_a).burst)
    borrowed = client.get("/api/tenant", tenant=tenant_a, headers={"Host": f"{tenant_b.slug}.localhost:8000"})
    assert borrowed.status_code == 403
    assert client.get("/api/tenant", tenant=tenant_a).status_code == 429
