"""The bound tenant context: one contextvar, set per request or per message, always unbound."""
from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from uuid import UUID

from chalicelib.auth.permissions import Permission
from chalicelib.auth.principal import Principal
from chalicelib.tenants.models import Tenant


class NoTenantBoundError(RuntimeError):
    """Tenant-scoped code ran with no tenant bound: a programming error, never a client's."""


@dataclass(frozen=True)
class TenantContext:
    tenant: Tenant
    request_id: str
    principal: Principal | None = None
    permissions: frozenset[Permission] = field(default_factory=frozenset)

    @property
    def tenant_id(self) -> UUID:
        return self.tenant.id

    @property
    def platform_admin_acting(self) -> bool:
        """A super-admin working inside this tenant (audited in the tenant's trail)."""
        return self.principal is not None and self.principal.is_platform_admin


_current: contextvars.ContextVar[TenantContext | None] = contextvars.ContextVar("tenant_context", default=None)


def current_context() -> TenantContext:
    ctx = _current.get()
    if ctx is None:
        raise NoTenantBoundError("no tenant is bound")
    return ctx


def current_or_none() -> TenantContext | None:
    return _current.get()


def current_tenant_id() -> UUID:
    return current_context().tenant_id


@contextmanager
def bound(ctx: TenantContext) -> Iterator[TenantContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def clear() -> None:
    """Drop whatever is bound (start of every invocation, before anything else)."""
    _current.set(None)
