"""The demo tenant every local run starts with."""
from __future__ import annotations

from chalicelib.store import registry
from chalicelib.tenants.models import Tenant, TenantCreate
from chalicelib.tenants.service import create_tenant

DEMO_SLUG = "demo"


def seed_demo_tenant() -> Tenant:
    """Create the ``demo`` tenant unless it exists; return it either way."""
    existing = registry.tenant_id_for_slug(DEMO_SLUG)
    if existing is not None:
        tenant = registry.get_tenant(existing)
        if tenant is not None:
            return tenant
    return create_tenant(
        TenantCreate(
            slug=DEMO_SLUG,
            name="Demo Automotive Network",
            display_name="Demo Auto Network",
            primary_color="#1E6FD9",
            plan="standard",
            configuration={},
        )
    )
