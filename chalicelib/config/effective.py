"""The configuration in force for a tenant: platform defaults merged with its overrides.

Overrides come from the tenant's partition once the configuration has been written
through the API; until then the tenant's creation-time ``configuration`` (in the
registry) is its version 1. The partition can only be read with that tenant bound (the
guard refuses anything else), so with another tenant or none bound (pure computations)
the creation-time overrides are the only source.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import lazy
from chalicelib.config import models as schema
from chalicelib.store import keys
from chalicelib.tenancy.context import current_or_none
from chalicelib.tenancy.tenant import Tenant

if TYPE_CHECKING:
    from chalicelib.config import current
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    current = lazy.module("chalicelib.config.current")


def stored_overrides(tenant: Tenant) -> tuple[int, dict[str, Any], current.Stored | None]:
    """(version, overrides, pointer) of ``tenant``; version 1 is the creation-time one."""
    ctx = current_or_none()
    if ctx is not None and ctx.tenant_id == tenant.id:
        stored = current.read(keys.CONFIG)
        if stored is not None:
            return stored.version, schema.drop_removed_settings(stored.document), stored
    return 1, schema.sanitize(tenant.configuration), None


def configuration(tenant: Tenant) -> dict[str, Any]:
    return schema.effective(stored_overrides(tenant)[1])


def setting(tenant: Tenant, section: str, name: str) -> Any:
    """One effective value, e.g. ``setting(tenant, "audit", "retention_days")``."""
    return configuration(tenant)[section][name]
