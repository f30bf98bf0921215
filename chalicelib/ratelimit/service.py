"""Per-tenant API rate limiting as the request path sees it.

Every tenant-resolved route takes a token from the tenant's bucket after the tenant is
resolved and the permission checked; a refusal is a 429 with ``Retry-After`` and the
RateLimit-* headers, which every other answer of those routes carries too. Where the
buckets live depends on ``RATE_LIMIT_MODE``:

- ``in_process`` (local default, tests): :class:`InProcessLimiter`, per process;
- ``dynamodb``: :class:`DynamoLimiter`, one registry item per bucket, shared by the fleet;
- ``usage_plans`` (AWS): the same distributed limiter, behind API Gateway usage plans
  (one per plan, made by the stack) that throttle each tenant's API key before the
  Lambda runs. The usage plans are the coarse ceiling that absorbs floods for free; the
  distributed limiter enforces each tenant's exact limits (plan edits and overrides take
  effect without touching API Gateway) and covers tenants beyond the API key quota.

Anonymous requests (public tenant routes called without a token: branding, assets) take
from a bucket of their own per tenant, ``ANONYMOUS_SHARE`` of the tenant's rate, burst
and daily quota, never from the tenant's: otherwise anyone could spend a tenant's
budget and lock its members out (429) until the bucket refills or UTC midnight.

The limits are the tenant's effective limits (plan plus overrides, cached for seconds
by the limits package), so a changed plan reaches the limiter within a minute.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Literal, Protocol
from uuid import UUID, uuid5

from chalicelib import limits
from chalicelib.errors import RateLimitedError
from chalicelib.logs import get_logger
from chalicelib.ratelimit import authorizer, rates, usage_plans
from chalicelib.ratelimit.bucket import PLATFORM_LIMITS, Decision, RateLimits
from chalicelib.ratelimit.distributed import DynamoLimiter
from chalicelib.ratelimit.limiter import Clock, InProcessLimiter
from chalicelib.ratelimit.rates import effective_rate_limits
from chalicelib.settings import get_settings
from chalicelib.tenancy.context import TenantContext
from chalicelib.tenancy.tenant import Tenant

log = get_logger(__name__)
Access = Literal["public", "public_tenant", "tenant", "platform"]


class Limiter(Protocol):
    def take(self, bucket: UUID, limits: RateLimits) -> Decision: ...

    def requests_today(self, bucket: UUID) -> int: ...


LimitsSource = Callable[[Tenant], RateLimits]

_lock = threading.Lock()
_limiter: Limiter | None = None
_source: LimitsSource | None = None
_clock: Clock | None = None
# The bucket of super-admins acting inside tenants: their requests are not the tenant's,
# as in AWS, where their tokens select the platform key and its usage plan.
PLATFORM_BUCKET = UUID(int=0)
# Anonymous callers of a tenant's public routes: a quarter of its limits, in a bucket
# keyed apart from the tenant's (a name-based UUID of the tenant id).
ANONYMOUS_SHARE = 0.25
_ANONYMOUS_NAMESPACE = UUID("6f1d3c1e-0a8b-5d7e-9c51-2b8f7a4e6d30")


def anonymous_limits(limits: RateLimits) -> RateLimits:
    """The anonymous bucket's limits: ``ANONYMOUS_SHARE`` of ``limits``, at least one request."""
    return RateLimits(rate_per_second=limits.rate_per_second * ANONYMOUS_SHARE,
                      burst=max(1, math.floor(limits.burst * ANONYMOUS_SHARE)),
                      requests_per_day=max(1, math.floor(limits.requests_per_day * ANONYMOUS_SHARE)))


def anonymous_bucket(tenant_id: UUID) -> UUID:
    return uuid5(_ANONYMOUS_NAMESPACE, str(tenant_id))


def limiter() -> Limiter:
    """The process's limiter, built on first use for the configured mode."""
    global _limiter
    with _lock:
        if _limiter is None:
            settings = get_settings()
            if settings.rate_limit_mode == "in_process":
                size = settings.rate_limit_max_tenants
                _limiter = InProcessLimiter(size) if _clock is None else InProcessLimiter(size, _clock)
            else:
                _limiter = DynamoLimiter() if _clock is None else DynamoLimiter(_clock)
        return _limiter


def reset_state(clock: Clock | None = None) -> None:
    """Forget every tenant's bucket and the authorizer's key cache (a fresh process); tests
    pass a clock they move."""
    global _limiter, _clock
    with _lock:
        _limiter, _clock = None, clock
    authorizer.key_values.clear()


def applies(access: Access) -> bool:
    """Whether a route with ``access`` is limited (tenant-resolved routes, in every mode)."""
    return access in ("tenant", "public_tenant")


def use_limits_source(source: LimitsSource | None) -> None:
    """Take limits from ``source`` instead of the tenant's effective limits (``None``: back).

    For test suites and benchmarks whose subject is not rate limiting: they send
    hundreds of requests a second as one tenant and set generous limits here.
    """
    global _source
    _source = source


def rate_limits(tenant: Tenant) -> RateLimits:
    """The tenant's effective rate limits."""
    if _source is not None:
        return _source(tenant)
    return effective_rate_limits(tenant)


def take(ctx: TenantContext) -> dict[str, str]:
    """Count one request in ``ctx``'s tenant; its RateLimit-* headers, or RateLimitedError (429)."""
    if ctx.platform_admin_acting:
        decision = limiter().take(PLATFORM_BUCKET, PLATFORM_LIMITS)
    elif ctx.principal is None:
        decision = limiter().take(anonymous_bucket(ctx.tenant_id), anonymous_limits(rate_limits(ctx.tenant)))
    else:
        decision = limiter().take(ctx.tenant_id, rate_limits(ctx.tenant))
    if not decision.allowed:
        raise RateLimitedError("this network's request rate limit is used up; retry after the given seconds",
                               headers=decision.headers())
    return decision.headers()


def requests_today(tenant: Tenant) -> int:
    """Requests of ``tenant`` let through today (UTC): fleet-wide with the distributed
    limiter, by this process with the in-process one."""
    return limiter().requests_today(tenant.id)


def wire_tenant_key(tenant: Tenant) -> None:
    """Put the tenant's API key (made if missing) in the usage plan holding its effective
    limits, and record it for the authorizer; idempotent.

    That is its plan's usage plan, or ``overflow`` while overrides raise it above that
    one; clearing the overrides moves it back. Run at provisioning, after a plan change
    and after an overrides change; if it fails midway, repeating the same PUT finishes it.
    """
    usage_plans.ensure_tenant_key(tenant.id, tenant.plan, effective_rate_limits(tenant))


def reclaim_tenant_key(tenant: Tenant) -> bool:
    """Detach and delete the tenant's API key and its record (a deleted tenant); idempotent."""
    return usage_plans.reclaim_tenant_key(tenant.id)


def plan_limits_changed(plan: str) -> None:
    """A plan's limits were edited: the limiter applies them within the limits cache's TTL.

    The plan's usage plan is CloudFormation's and is left alone; when the new limits
    exceed it, its throttle caps the plan's tenants until a deploy raises it
    (infra/platform_infra/stages.py), which is logged here for the operator.
    """
    limits.invalidate(plan=plan)
    usage_plan = usage_plans.managed_usage_plans().get(plan)
    wanted = rates.rate_limits_of(limits.plan_limits(plan))
    if usage_plan is not None and not usage_plans.covers(usage_plan, wanted):
        log.warning("plan limits exceed its usage plan: API Gateway caps them until a deploy raises it",
                    extra={"fields": {"plan": plan}})
