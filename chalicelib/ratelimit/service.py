"""Per-tenant API rate limiting as the request path sees it.

``RATE_LIMIT_MODE=in_process`` (local, tests): every tenant-resolved route takes a token
from the tenant's bucket in :class:`InProcessLimiter` after the tenant is resolved and
the permission checked; a refusal is a 429 with ``Retry-After`` and the RateLimit-*
headers, which every other answer of those routes carries too.

``RATE_LIMIT_MODE=usage_plans`` (AWS): API Gateway throttles each tenant's API key under
its plan's usage plan before the Lambda runs, so the routes behind the key-selecting
authorizer do nothing here (no DynamoDB write, no state). The public tenant routes,
which have no token and so no authorizer, still go through the in-process limiter.

The limits are the tenant's effective limits (plan plus overrides, cached for seconds
by the limits package), so a changed plan reaches the limiter within a minute.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal
from uuid import UUID

from chalicelib import limits
from chalicelib.errors import RateLimitedError
from chalicelib.ratelimit import rates, usage_plans
from chalicelib.ratelimit.bucket import PLATFORM_LIMITS, RateLimits
from chalicelib.ratelimit.limiter import Clock, InProcessLimiter
from chalicelib.ratelimit.rates import effective_rate_limits
from chalicelib.settings import get_settings
from chalicelib.store import registry
from chalicelib.tenancy.context import TenantContext
from chalicelib.tenancy.tenant import Tenant

Access = Literal["public", "public_tenant", "tenant", "platform"]

LimitsSource = Callable[[Tenant], RateLimits]

_lock = threading.Lock()
_limiter: InProcessLimiter | None = None
_source: LimitsSource | None = None
_clock: Clock | None = None
# The bucket of super-admins acting inside tenants: their requests are not the tenant's,
# as in AWS, where their tokens select the platform key and its usage plan.
PLATFORM_BUCKET = UUID(int=0)


def limiter() -> InProcessLimiter:
    """The process's limiter, built on first use with the configured bound."""
    global _limiter
    with _lock:
        if _limiter is None:
            size = get_settings().rate_limit_max_tenants
            _limiter = InProcessLimiter(size) if _clock is None else InProcessLimiter(size, _clock)
        return _limiter


def reset_state(clock: Clock | None = None) -> None:
    """Forget every tenant's bucket (a fresh process); tests pass a clock they move."""
    global _limiter, _clock
    with _lock:
        _limiter, _clock = None, clock


def applies(access: Access) -> bool:
    """Whether a route with ``access`` is limited in this process."""
    if access == "public_tenant":
        return True
    return access == "tenant" and get_settings().rate_limit_mode == "in_process"


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
    else:
        decision = limiter().take(ctx.tenant_id, rate_limits(ctx.tenant))
    if not decision.allowed:
        raise RateLimitedError("this network's request rate limit is used up; retry after the given seconds",
                               headers=decision.headers())
    return decision.headers()


def requests_today(tenant: Tenant) -> int:
    """Requests of ``tenant`` counted today (UTC): by API Gateway in AWS, else by this process."""
    if get_settings().rate_limit_mode == "usage_plans":
        return usage_plans.requests_today(tenant.id)
    return limiter().requests_today(tenant.id)


def wire_tenant_key(tenant: Tenant) -> None:
    """Put the tenant's API key (created if missing) in the usage plan of its limits; idempotent.

    That is its plan's usage plan, unless overrides give it rate limits of its own: then a
    usage plan of its own (``plan-tenant-<uuid>``), since API Gateway throttles per usage
    plan, not per key. Run at provisioning, after a plan change and after an overrides
    change; if it fails midway, repeating the same PUT finishes it.
    """
    own = rates.own_rate_limits(tenant)
    target = tenant.plan
    if own is not None:
        target = usage_plans.tenant_plan_name(tenant.id)
        usage_plans.sync_usage_plans({target: own})
    usage_plans.ensure_tenant_key(tenant.id, target)


def plan_limits_changed(plan: str) -> None:
    """Set a plan's usage plan throttle and quota to its stored limits, and refresh the
    usage plans of its tenants with overrides (theirs start from the plan's)."""
    limits.invalidate(plan=plan)
    usage_plans.sync_usage_plans({plan: rates.rate_limits_of(limits.plan_limits(plan))})
    for tenant_id in usage_plans.tenants_with_own_usage_plans():
        tenant = registry.get_tenant(tenant_id)
        if tenant is not None and tenant.plan == plan:
            wire_tenant_key(tenant)
