"""Where the limiter's figures come from: the plans and effective limits of chalicelib.limits.

The effective limits (plan plus the tenant's overrides) are cached per process by the
limits package for 30 s, on top of the tenant cache (seconds): a plan or override edit
reaches every process's limiter within a minute, without a deploy.
"""
from __future__ import annotations

from chalicelib import limits
from chalicelib.ratelimit.bucket import PLATFORM_LIMITS, RateLimits
from chalicelib.tenancy.tenant import Tenant

__all__ = ["PLATFORM_LIMITS", "effective_rate_limits", "own_rate_limits", "plan_rate_limits", "rate_limits_of"]


def rate_limits_of(source: limits.Limits) -> RateLimits:
    return RateLimits(rate_per_second=float(source.rate_per_second), burst=source.burst,
                      requests_per_day=source.requests_per_day)


def effective_rate_limits(tenant: Tenant) -> RateLimits:
    return rate_limits_of(limits.effective_limits(tenant))


def own_rate_limits(tenant: Tenant) -> RateLimits | None:
    """The tenant's rate limits when its overrides make them differ from its plan's, else None."""
    mine = effective_rate_limits(tenant)
    return None if mine == rate_limits_of(limits.plan_limits(tenant.plan)) else mine


def plan_rate_limits() -> dict[str, RateLimits]:
    """Every plan's own rate limits (what its usage plan enforces), by plan name."""
    return {plan.name: rate_limits_of(plan.limits()) for plan in limits.list_plans()}
