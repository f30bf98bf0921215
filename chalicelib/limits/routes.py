"""/api/tenant/usage: the bound tenant's usage against its effective limits.

The super-admin routes on plans and a tenant's limits are in ``admin_routes``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib import lazy
from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.limits.models import TenantUsage

if TYPE_CHECKING:
    from chalicelib.limits import usage
else:
    # Deferred to the first call that runs it (cold start: docs/cold-start.md).
    usage = lazy.module("chalicelib.limits.usage")

bp = Blueprint(__name__)


@bp.route("/api/tenant/usage", methods=["GET"])
@tenant_route(Permission.USAGE_READ, operation_id="getUsage", tag="Limits",
              response=TenantUsage,
              summary="The tenant's usage (professionals, customers, storage) against its effective limits")
def get_usage() -> TenantUsage:
    return usage.report()
