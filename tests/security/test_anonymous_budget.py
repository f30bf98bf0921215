"""Anonymous callers of a tenant's public routes spend a bucket of their own (issue 19,
finding 3): ``burst`` unauthenticated branding requests used to make the tenant's own
admins get 429, and exhausting ``requests_per_day`` blocked the tenant until midnight.

The anonymous bucket is a fixed fraction of the tenant's limits
(``ratelimit.service.ANONYMOUS_SHARE``, stated in the README).
"""
from __future__ import annotations

import math

import pytest

from chalicelib.ratelimit import RateLimits
from chalicelib.ratelimit.service import ANONYMOUS_SHARE, anonymous_limits
from tests.rate_limit_support import limits_of, rate_headers, use_limits

pytestmark = pytest.mark.usefixtures("clock")


def _anonymous(client, tenant):
    return client.get("/api/tenant/branding", role=None, headers={"X-Tenant-ID": str(tenant.id)})


def test_anonymous_requests_never_spend_the_tenants_burst(client, tenant_a):
    limits = limits_of(tenant_a)
    share = anonymous_limits(limits)
    assert share.burst == max(1, math.floor(limits.burst * ANONYMOUS_SHARE)) < limits.burst
    # When anonymous callers send more than the tenant's whole burst
    answers = [_anonymous(client, tenant_a) for _ in range(limits.burst + 1)]
    # Then they get their share, and 429 after it
    assert [a.status_code for a in answers[:share.burst]] == [200] * share.burst
    assert {a.status_code for a in answers[share.burst:]} == {429}
    assert rate_headers(answers[0])["RateLimit-Limit"] == str(share.burst)
    # And the tenant's own members still have their whole burst
    own = client.get("/api/tenant", tenant=tenant_a)
    assert own.status_code == 200 and rate_headers(own)["RateLimit-Remaining"] == str(limits.burst - 1)


def test_anonymous_requests_never_spend_the_tenants_daily_quota(client, tenant_a, clock):
    use_limits(lambda _t: RateLimits(rate_per_second=1000.0, burst=1000, requests_per_day=8))
    answers = [_anonymous(client, tenant_a) for _ in range(10)]
    assert [a.status_code for a in answers].count(200) == math.floor(8 * ANONYMOUS_SHARE)
    members = [client.get("/api/tenant", tenant=tenant_a) for _ in range(8)]
    assert [m.status_code for m in members] == [200] * 8
