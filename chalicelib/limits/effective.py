"""A tenant's effective limits (its plan's, with its overrides), cached briefly per process.

The common request costs no registry read: plans and overrides are cached for
``CACHE_TTL_SECONDS``, so an edit reaches every warm Lambda within that time without a
deploy, and the process that made the edit drops its entries at once. The tenant's plan
name comes from the tenant record the request resolved (itself cached for
``TENANT_CACHE_TTL_SECONDS``), so a plan change applies within both TTLs. Negative
results (no overrides) are cached too; nothing per-request is kept.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar
from uuid import UUID

from chalicelib import metrics
from chalicelib.limits import plans
from chalicelib.limits.models import Limits
from chalicelib.tenancy.context import current_context
from chalicelib.tenants.models import Tenant

CACHE_TTL_SECONDS = 30.0
T = TypeVar("T")


def _now() -> float:
    return time.monotonic()


class _TtlCache(Generic[T]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[object, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: object, load: Callable[[], T]) -> T:
        now = _now()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            metrics.record("CacheLookups", Cache="plan_limits", Result="hit")
            return entry[1]
        metrics.record("CacheLookups", Cache="plan_limits", Result="miss")
        value = load()
        with self._lock:
            self._entries[key] = (now + self.ttl, value)
        return value

    def drop(self, key: object | None = None) -> None:
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)


_plans: _TtlCache[Limits] = _TtlCache(CACHE_TTL_SECONDS)
_overrides: _TtlCache[dict[str, int]] = _TtlCache(CACHE_TTL_SECONDS)


def plan_limits(name: str) -> Limits:
    """Plan ``name``'s limits (cached); ``NotFoundError`` for an unknown plan."""
    return _plans.get(name, lambda: plans.get_plan(name).limits())


def tenant_overrides(tenant: Tenant) -> dict[str, int]:
    return _overrides.get(tenant.id, lambda: plans.get_overrides(tenant)[0])


def effective_limits(tenant: Tenant | None = None) -> Limits:
    """``tenant``'s limits (default: the bound tenant): its plan's, with its overrides."""
    tenant = tenant or current_context().tenant
    return plans.merge(plan_limits(tenant.plan), tenant_overrides(tenant))


def invalidate(*, plan: str | None = None, tenant_id: UUID | None = None) -> None:
    """Forget a plan's or a tenant's cached entries (or everything: no argument)."""
    if plan is None and tenant_id is None:
        _plans.drop()
        _overrides.drop()
    if plan is not None:
        _plans.drop(plan)
    if tenant_id is not None:
        _overrides.drop(tenant_id)
