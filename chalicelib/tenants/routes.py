"""Tenant-facing tenant routes."""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib import lazy
from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.tenancy.context import current_context
from chalicelib.tenants.models import TenantProfile

if TYPE_CHECKING:
    from chalicelib.config import branding
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    branding = lazy.module("chalicelib.config.branding")

bp = Blueprint(__name__)


@bp.route("/api/tenant", methods=["GET"])
@tenant_route(Permission.TENANT_READ, operation_id="getTenantProfile", tag="Tenants",
              response=TenantProfile, summary="The resolved tenant's public profile")
def get_tenant_profile() -> TenantProfile:
    # The public face is the branding's (display name, logo, colour) once it is set.
    return branding.profile(current_context().tenant)
