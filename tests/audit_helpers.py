"""Audit test helpers: a tenant's raw trail items, the platform trail, retention settings.

Raw reads go through the same guard as the app (a context for the tenant is bound), so
they see exactly what the tenant's partition holds, expired or not.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from tests.conftest import body_of

AUDIT_PATH = "/api/tenant/audit"


@contextmanager
def bound(tenant: Any) -> Iterator[Any]:
    """The tenant, fresh from the registry, bound as a scheduled job would bind it."""
    from chalicelib.store import registry
    from chalicelib.tenancy.context import TenantContext
    from chalicelib.tenancy.context import bound as bind

    fresh = registry.get_tenant(tenant.id)
    with bind(TenantContext(tenant=fresh, request_id="test-run")):
        yield fresh


def raw_items(tenant: Any, kind: str = "AUDIT") -> list[Any]:
    """The items of one of the tenant's partitions; for ``AUDIT``, of every trail shard, in id order."""
    from chalicelib.store import data, keys

    kinds = keys.AUDIT_SHARD_KINDS if kind == keys.AUDIT else (kind,)
    with bound(tenant):
        data.bind()
        items = [item for k in kinds for item in data.DataItem.query(data.partition(k), consistent_read=True)]
    return sorted(items, key=lambda item: item.sk)


def stored_events(tenant: Any) -> list[dict[str, Any]]:
    """Every event in the tenant's partition, oldest first, expired ones included."""
    return [json.loads(item.data) for item in raw_items(tenant)]


def platform_events() -> list[dict[str, Any]]:
    from chalicelib.audit.platform import PlatformEventItem
    from chalicelib.store import keys, registry

    registry.bind()
    return [json.loads(i.data) for i in PlatformEventItem.query(keys.PLATFORM_AUDIT_PK, consistent_read=True)]


def listed(client: Any, tenant: Any, query: str = "", role: str = "tenant_admin") -> list[dict[str, Any]]:
    """Every event GET /api/tenant/audit returns (all pages), newest first."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        separator = "&" if query else ""
        page_query = query + (f"{separator}cursor={cursor}" if cursor else "")
        response = client.get(f"{AUDIT_PATH}?{page_query}", tenant=tenant, role=role)
        assert response.status_code == 200, response.body
        page = body_of(response)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def set_retention(tenant: Any, days: Any) -> Any:
    """Store ``audit.retention_days`` in the tenant's configuration (no config API yet)."""
    from chalicelib.store import registry
    from chalicelib.tenancy.resolution import clear_cache

    current = registry.get_tenant(tenant.id)
    configuration = {**current.configuration, "audit": {"retention_days": days}}
    stored = registry.update_tenant(current.model_copy(update={"configuration": configuration}), current.version)
    clear_cache()
    return stored


def backdated_event(tenant: Any, at: datetime, target_id: str = "old") -> dict[str, Any]:
    """An event written as if at ``at`` (its id and time), the way every event is written."""
    from chalicelib import audit
    from chalicelib.store.unit_of_work import UnitOfWork

    with bound(tenant):
        uow = UnitOfWork()
        written = audit.record(uow, audit.Action.SERVICE_CATEGORY_CREATED,
                               audit.Target("service_category", target_id), at=at)
        uow.commit()
    return written
