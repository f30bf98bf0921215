"""GET /api/admin/tenants/{id}/domains: the state of a tenant's custom domains (super-admins)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib import lazy
from chalicelib.domains.models import CustomDomainList
from chalicelib.entry import platform_route

if TYPE_CHECKING:
    from chalicelib.domains import views
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    views = lazy.module("chalicelib.domains.views")

bp = Blueprint(__name__)


# Chalice passes path parameters by name, so the view takes ``id`` as the route spells it.
@bp.route("/api/admin/tenants/{id}/domains", methods=["GET"])
@platform_route(operation_id="listTenantDomains", tag="Admin", response=CustomDomainList,
                summary="A tenant's custom domains: status, the validation record to publish, the target once ready")
def list_tenant_domains(id: str) -> CustomDomainList:
    return views.tenant_domains(id)
