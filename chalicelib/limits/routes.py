"""/api/admin/plans, /api/admin/tenants/{id}/limits (super-admins) and /api/tenant/usage.

``If-Match`` is optional on the two PUTs: sent, it must be the version read (else 412);
left out, the write replaces whatever is stored (plans and overrides are edited by a
handful of operators, and every edit is in the platform trail).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.auth.permissions import Permission
from chalicelib.entry import platform_route, tenant_route
from chalicelib.errors import NotFoundError
from chalicelib.http import etag, expected_version
from chalicelib.limits.models import (
    PLAN_NAME_PATTERN,
    LimitOverrides,
    Plan,
    PlanList,
    PlanUpdate,
    TenantLimits,
    TenantUsage,
)

if TYPE_CHECKING:
    from chalicelib.limits import admin, usage
    from chalicelib.tenants import lookup
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    admin = lazy.module("chalicelib.limits.admin")
    usage = lazy.module("chalicelib.limits.usage")
    lookup = lazy.module("chalicelib.tenants.lookup")


bp = Blueprint(__name__)


def _optional_if_match() -> int | None:
    header = http.current_request().headers.get("if-match")
    return expected_version(header, None) if header else None


def _plan_name(name: str) -> str:
    if not re.fullmatch(PLAN_NAME_PATTERN, name):
        raise NotFoundError("no such plan")
    return name


@bp.route("/api/admin/plans", methods=["GET"])
@platform_route(operation_id="listPlans", tag="Limits",
                response=PlanList, summary="Every plan and its limits (defaults until edited: version 0)")
def list_plans() -> PlanList:
    return admin.list_plans()


@bp.route("/api/admin/plans/{name}", methods=["PUT"])
@platform_route(operation_id="updatePlan", tag="Limits", if_match="optional",
                body=PlanUpdate, response=Plan,
                summary="Replace a plan's limits (all eight; 404 for an unknown plan; If-Match optional)")
def put_plan(name: str, body: PlanUpdate) -> http.Reply:
    plan = admin.update_plan(_plan_name(name), body, _optional_if_match())
    return http.Reply(plan, 200, {"ETag": etag(plan.version)})


@bp.route("/api/admin/tenants/{id}/limits", methods=["GET"])
@platform_route(operation_id="getTenantLimits", tag="Limits",
                response=TenantLimits, summary="A tenant's plan, overrides and effective limits")
def get_tenant_limits(id: str) -> http.Reply:
    limits = admin.tenant_limits(lookup.tenant_by_reference(id))
    return http.Reply(limits, 200, {"ETag": etag(limits.version)})


@bp.route("/api/admin/tenants/{id}/limits", methods=["PUT"])
@platform_route(operation_id="updateTenantLimits", tag="Limits", if_match="optional",
                body=LimitOverrides, response=TenantLimits,
                summary="Override a tenant's limits (a number sets, null clears, absent keeps; If-Match optional)")
def put_tenant_limits(id: str, body: LimitOverrides) -> http.Reply:
    limits = admin.set_overrides(lookup.tenant_by_reference(id), body, _optional_if_match())
    return http.Reply(limits, 200, {"ETag": etag(limits.version)})


@bp.route("/api/tenant/usage", methods=["GET"])
@tenant_route(Permission.USAGE_READ, operation_id="getUsage", tag="Limits",
              response=TenantUsage,
              summary="The tenant's usage (professionals, customers, storage) against its effective limits")
def get_usage() -> TenantUsage:
    return usage.report()
