"""The bound tenant context: one contextvar, set per request or per message, always unbound."""
from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from chalicelib.auth.permissions import Permission
from chalicelib.auth.principal import Principal
from chalicelib.tenancy.tenant import Tenant

# What a ``tenant_of`` function returns for a message that concerns no tenant and needs no
# work (S3's one-off ``s3:TestEvent``): it is acknowledged, and nothing runs.
NOT_FOR_A_TENANT = "not-for-a-tenant"


class NoTenantBoundError(RuntimeError):
    """Tenant-scoped code ran with no tenant bound: a programming error, never a client's."""


@dataclass(frozen=True)
class RequestOrigin:
    """Who sent the current request, and from where: bound for every route, tenant or not.

    Audit events read it; platform routes (no tenant bound) have nothing else to offer.
    """

    request_id: str
    principal: Principal | None = None
    source_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class TenantContext:
    tenant: Tenant
    request_id: str
    principal: Principal | None = None
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    # From the request (API Gateway's identity.sourceIp, the User-Agent header, capped);
    # None for scheduled jobs and queue messages.
    source_ip: str | None = None
    user_agent: str | None = None

    @property
    def tenant_id(self) -> UUID:
        return self.tenant.id

    @property
    def platform_admin_acting(self) -> bool:
        """A super-admin working inside this tenant (audited in the tenant's trail)."""
        return self.principal is not None and self.principal.is_platform_admin


@dataclass(frozen=True)
class Delivery:
    """The SQS delivery being handled: long jobs checkpoint before the Lambda deadline,
    and give up (recording why) on the last receive before the dead-letter queue."""

    message_id: str
    receive_count: int
    remaining_ms: Callable[[], int] | None = None


_current: contextvars.ContextVar[TenantContext | None] = contextvars.ContextVar("tenant_context", default=None)
_origin: contextvars.ContextVar[RequestOrigin | None] = contextvars.ContextVar("request_origin", default=None)


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


_delivery: contextvars.ContextVar[Delivery | None] = contextvars.ContextVar("delivery", default=None)


def current_delivery() -> Delivery | None:
    return _delivery.get()


def set_delivery(delivery: Delivery | None) -> None:
    """Bind the message being handled until :func:`clear` (the handler clears it per message)."""
    _delivery.set(delivery)


def current_origin() -> RequestOrigin | None:
    return _origin.get()


def set_origin(origin: RequestOrigin) -> None:
    """Bind the request's origin until :func:`clear` (the decorators clear it per request)."""
    _origin.set(origin)


def acting_in(tenant: Tenant) -> TenantContext:
    """A context for ``tenant`` that carries the current caller.

    For platform operations that write into a tenant's partition (tenant lifecycle): the
    guard needs that tenant bound, and its audit event needs the request's actor.
    """
    ctx, origin = current_or_none(), current_origin()
    if ctx is not None:
        return TenantContext(tenant=tenant, request_id=ctx.request_id, principal=ctx.principal,
                             source_ip=ctx.source_ip, user_agent=ctx.user_agent)
    if origin is not None:
        return TenantContext(tenant=tenant, request_id=origin.request_id, principal=origin.principal,
                             source_ip=origin.source_ip, user_agent=origin.user_agent)
    return TenantContext(tenant=tenant, request_id=f"system-{uuid4()}")


def clear() -> None:
    """Drop whatever is bound (start of every invocation, before anything else)."""
    _current.set(None)
    _origin.set(None)
    _delivery.set(None)
