"""/api/tenant/usage: the bound tenant's usage against its effective limits.

The super-admin routes on plans and a tenant's limits are in ``admin_routes``.
"""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.limits import usage
from chalicelib.limits.models import TenantUsage

bp = Blueprint(__name__)


@bp.route("/api/tenant/usage", methods=["GET"])
@tenant_route(Permission.USAGE_READ, operation_id="getUsage", tag="Limits",
              response=TenantUsage,
              summary="The tenant's usage (professionals, customers, storage) against its effective limits")
def get_usage() -> TenantUsage:
    return usage.report()
