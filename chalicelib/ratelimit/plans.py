"""Where the limiter's figures come from: the tenant's effective limits (limits package)."""
from __future__ import annotations

from chalicelib.ratelimit.bucket import RateLimits
from chalicelib.tenants.models import Tenant

# Super-admins acting inside tenants are limited under these, apart from every tenant.
PLATFORM_LIMITS = RateLimits(rate_per_second=50.0, burst=100, requests_per_day=1_000_000)

# Interim until the plans API lands (issue 8 items 1-2): the same defaults per plan.
_INTERIM = {
    "free": RateLimits(5.0, 10, 10_000),
    "standard": RateLimits(20.0, 40, 100_000),
    "premium": RateLimits(50.0, 100, 1_000_000),
    "enterprise": RateLimits(200.0, 400, 10_000_000),
}


def effective_rate_limits(tenant: Tenant) -> RateLimits:
    return _INTERIM[tenant.plan]


def plan_rate_limits() -> dict[str, RateLimits]:
    """Every plan's own rate limits (what its usage plan enforces), by plan name."""
    return dict(_INTERIM)
