"""Tenant lifecycle operations on the registry."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

from chalicelib.errors import NotFoundError, RequestValidationError
from chalicelib.settings import get_settings
from chalicelib.store import registry
from chalicelib.tenancy.resolution import invalidate_tenant
from chalicelib.tenants.models import Tenant, TenantCreate, TenantStatus


def create_tenant(data: TenantCreate, *, tenant_id: UUID | None = None) -> Tenant:
    """Create an active tenant with its slug and domains reserved atomically."""
    platform_domain = get_settings().platform_domain
    for domain in data.domains:
        if domain == platform_domain or domain.endswith("." + platform_domain):
            raise RequestValidationError(
                "custom domains cannot be under the platform domain",
                extra={"errors": [{"loc": ["body", "domains"], "type": "value_error"}]},
            )
    now = datetime.now(UTC)
    tenant = Tenant(
        id=tenant_id or uuid.uuid4(),
        slug=data.slug,
        name=data.name,
        display_name=data.display_name,
        logo_url=data.logo_url,
        primary_color=data.primary_color,
        configuration=data.configuration,
        status=TenantStatus.ACTIVE,
        plan=data.plan,
        domains=tuple(data.domains),
        created_at=now,
        updated_at=now,
        version=1,
    )
    registry.insert_tenant(tenant)
    invalidate_tenant(tenant)
    return tenant


def change_status(tenant_id: UUID, status: TenantStatus) -> Tenant:
    tenant = registry.get_tenant(tenant_id)
    if tenant is None:
        raise NotFoundError("no such tenant")
    if tenant.status == status:
        return tenant
    changed = tenant.model_copy(update={"status": status, "updated_at": datetime.now(UTC)})
    stored = registry.update_tenant(changed, expected_version=tenant.version)
    invalidate_tenant(stored)
    return stored
