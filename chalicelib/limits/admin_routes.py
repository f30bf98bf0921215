"""/api/admin/plans and /api/admin/tenants/{id}/limits (super-admins only).

``If-Match`` is optional on the two PUTs: sent, it must be the version read (else 412);
left out, the write replaces whatever is stored (plans and overrides are edited by a
handful of operators, and every edit is in the platform trail).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.entry import platform_route
from chalicelib.errors import NotFoundError
from chalicelib.http import etag, expected_version
from chalicelib.limits.models import PLAN_NAME_PATTERN, LimitOverrides, Plan, PlanList, PlanUpdate, TenantLimits

if TYPE_CHECKING:
    from chalicelib.limits import service
    from chalicelib.tenants import lookup
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    service = lazy.module("chalicelib.limits.service")
    lookup = lazy.module("chalicelib.tenants.lookup")

bp = Blueprint(__name__)


def _optional_if_match() -> int | None:
    header = http.current_request().headers.get("if-match")
    return expected_version(header, None) if header else None


def _with_etag(view: Plan | TenantLimits) -> http.Reply:
    return http.Reply(view, 200, {"ETag": etag(view.version)})


def _plan_name(name: str) -> str:
    if not re.fullmatch(PLAN_NAME_PATTERN, name):
        raise NotFoundError("no such plan")
    return name


@bp.route("/api/admin/plans", methods=["GET"])
@platform_route(operation_id="listPlans", tag="Limits",
                response=PlanList, summary="Every plan and its limits (defaults until edited: version 0)")
def list_plans() -> PlanList:
    return service.list_plans()


@bp.route("/api/admin/plans/{name}", methods=["PUT"])
@platform_route(operation_id="updatePlan", tag="Limits", if_match="optional",
                body=PlanUpdate, response=Plan,
                summary="Replace a plan's limits (all eight; 404 for an unknown plan; If-Match optional)")
def put_plan(name: str, body: PlanUpdate) -> http.Reply:
    return _with_etag(service.update_plan(_plan_name(name), body, _optional_if_match()))


@bp.route("/api/admin/tenants/{id}/limits", methods=["GET"])
@platform_route(operation_id="getTenantLimits", tag="Limits",
                response=TenantLimits, summary="A tenant's plan, overrides and effective limits")
def get_tenant_limits(id: str) -> http.Reply:
    return _with_etag(service.tenant_limits(lookup.tenant_by_reference(id)))


@bp.route("/api/admin/tenants/{id}/limits", methods=["PUT"])
@platform_route(operation_id="updateTenantLimits", tag="Limits", if_match="optional",
                body=LimitOverrides, response=TenantLimits,
                summary="Override a tenant's limits (a number sets, null clears, absent keeps; If-Match optional)")
def put_tenant_limits(id: str, body: LimitOverrides) -> http.Reply:
    return _with_etag(service.set_overrides(lookup.tenant_by_reference(id), body, _optional_if_match()))
