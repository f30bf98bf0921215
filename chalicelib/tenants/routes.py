"""Tenant-facing tenant routes."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.auth.permissions import Permission
from chalicelib.config import branding
from chalicelib.entry import tenant_route
from chalicelib.tenancy.context import current_context
from chalicelib.tenants.models import TenantProfile

bp = Blueprint(__name__)


@bp.route("/api/tenant", methods=["GET"])
@tenant_route(Permission.TENANT_READ, response=TenantProfile, summary="The resolved tenant's public profile")
def get_tenant_profile() -> TenantProfile:
    # The public face is the branding's (display name, logo, colour) once it is set.
    return branding.profile(current_context().tenant)
