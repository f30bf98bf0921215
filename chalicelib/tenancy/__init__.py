"""Tenant context, resolution and the decorators every entry point goes through."""
from chalicelib.tenancy.context import TenantContext, current_context, current_tenant_id
from chalicelib.tenancy.decorators import (
    RouteSpec,
    platform_route,
    public_route,
    public_tenant_route,
    tenant_handler,
    tenant_route,
)

__all__ = [
    "RouteSpec",
    "TenantContext",
    "current_context",
    "current_tenant_id",
    "platform_route",
    "public_route",
    "public_tenant_route",
    "tenant_handler",
    "tenant_route",
]
