"""Finding a tenant by the reference an admin route names it with: its UUID or its slug."""
from __future__ import annotations

from uuid import UUID

from chalicelib.errors import NotFoundError
from chalicelib.store import registry
from chalicelib.tenancy.tenant import Tenant


def tenant_by_reference(reference: str) -> Tenant:
    """The tenant named by its UUID or its slug, whatever its status; 404 otherwise."""
    try:
        tenant_id: UUID | None = UUID(reference)
    except ValueError:
        tenant_id = registry.tenant_id_for_slug(reference.lower()) if len(reference) <= 63 else None
    tenant = registry.get_tenant(tenant_id) if tenant_id else None
    if tenant is None:
        raise NotFoundError("no such tenant")
    return tenant
