"""The demo tenant every local run starts with, provisioned like any other tenant.

It goes through ``tenants.provisioning`` (key, roles, categories, templates, demo data,
admin invitation, welcome mail through moto's SES, logged locally); a run that stopped
half-way is resumed on the next start.
"""
from __future__ import annotations

from chalicelib.store import registry
from chalicelib.tenancy.tenant import Tenant
from chalicelib.tenants import provisioning
from chalicelib.tenants.admin_models import TenantAdminCreate

DEMO_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo-network.example"


def seed_demo_tenant() -> Tenant:
    """Create (or finish provisioning) the ``demo`` tenant; return it either way."""
    existing = registry.tenant_id_for_slug(DEMO_SLUG)
    if existing is not None:
        tenant = registry.get_tenant(existing)
        if tenant is not None:
            return provisioning.resume(tenant)
    return provisioning.provision(
        TenantAdminCreate(
            slug=DEMO_SLUG,
            name="Demo Automotive Network",
            display_name="Demo Auto Network",
            primary_color="#1E6FD9",
            plan="standard",
            configuration={},
            admin_email=DEMO_ADMIN_EMAIL,
            seed_demo_data=True,
        )
    )
