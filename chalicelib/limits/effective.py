"""A tenant's effective limits (its plan's, with its overrides), cached briefly per process.

The common request costs no registry read: plans and overrides are cached for
``CACHE_TTL_SECONDS``, so an edit reaches every warm Lambda within that time without a
deploy, and the process that made the edit drops its entries at once. The tenant's plan
name comes from the tenant record the request resolved (itself cached for
``TENANT_CACHE_TTL_SECONDS``), so a plan change applies within both TTLs. Negative
results (no overrides) are cached too; nothing per-request is kept.
"""
from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from chalicelib.caches import TtlCache
from chalicelib.limits import plan_catalogue as plans
from chalicelib.limits.models import Limits
from chalicelib.tenancy.context import current_context
from chalicelib.tenancy.tenant import Tenant

CACHE_TTL_SECONDS = 30.0
T = TypeVar("T")


# A handful of plans; overrides per tenant, bounded like every per-tenant cache.
_plans: TtlCache[str, Limits] = TtlCache(256, CACHE_TTL_SECONDS)
_overrides: TtlCache[UUID, dict[str, int]] = TtlCache(4096, CACHE_TTL_SECONDS)


def plan_limits(name: str) -> Limits:
    """Plan ``name``'s limits (cached); ``NotFoundError`` for an unknown plan."""
    return _plans.get_or_load(name, lambda: plans.get_plan(name).limits())


def tenant_overrides(tenant: Tenant) -> dict[str, int]:
    return _overrides.get_or_load(tenant.id, lambda: plans.get_overrides(tenant)[0])


def effective_limits(tenant: Tenant | None = None) -> Limits:
    """``tenant``'s limits (default: the bound tenant): its plan's, with its overrides."""
    tenant = tenant or current_context().tenant
    return plans.merge(plan_limits(tenant.plan), tenant_overrides(tenant))


def invalidate(*, plan: str | None = None, tenant_id: UUID | None = None) -> None:
    """Forget a plan's or a tenant's cached entries (or everything: no argument)."""
    if plan is None and tenant_id is None:
        _plans.clear()
        _overrides.clear()
    if plan is not None:
        _plans.pop(plan)
    if tenant_id is not None:
        _overrides.pop(tenant_id)
