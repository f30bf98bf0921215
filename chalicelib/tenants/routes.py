"""Tenant-facing tenant routes."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.auth.permissions import Permission
from chalicelib.tenancy import current_context, tenant_route
from chalicelib.tenants.models import TenantProfile

bp = Blueprint(__name__)


@bp.route("/api/tenant", methods=["GET"])
@tenant_route(Permission.TENANT_READ, response=TenantProfile, summary="The resolved tenant's public profile")
def get_tenant_profile() -> TenantProfile:
    return TenantProfile.of(current_context().tenant)
