"""/api/tenant/audit, /api/tenant/audit/verify (tenant admins) and /api/admin/audit (super-admins)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import lazy
from chalicelib.audit.models import AuditPage, AuditQuery, PlatformAuditQuery, VerifyReport
from chalicelib.auth.permissions import Permission
from chalicelib.entry import platform_route, tenant_route

if TYPE_CHECKING:
    from chalicelib.audit import queries, verification
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    queries = lazy.module("chalicelib.audit.queries")
    verification = lazy.module("chalicelib.audit.verification")

bp = Blueprint(__name__)


@bp.route("/api/tenant/audit", methods=["GET"])
@tenant_route(Permission.AUDIT_READ, operation_id="listAuditEvents", tag="Audit",
              query=AuditQuery, response=AuditPage,
              summary="The tenant's audit trail, newest first (?action=&actor=&target=&from=&to=)")
def list_tenant_audit(query: AuditQuery) -> dict[str, Any]:
    items, next_cursor = queries.list_events(query)
    return {"items": items, "next_cursor": next_cursor}


@bp.route("/api/tenant/audit/verify", methods=["GET"])
@tenant_route(Permission.AUDIT_READ, operation_id="verifyAuditTrail", tag="Audit",
              response=VerifyReport,
              summary="Recompute the trail's digest chain over the retained range; the first difference first")
def verify_tenant_audit() -> dict[str, Any]:
    return verification.verify()


@bp.route("/api/admin/audit", methods=["GET"])
@platform_route(operation_id="listPlatformAuditEvents", tag="Audit",
                query=PlatformAuditQuery, response=AuditPage,
                summary="The platform trail (tenant lifecycle, plans), newest first (?tenant=&action=...)")
def list_platform_audit(query: PlatformAuditQuery) -> dict[str, Any]:
    items, next_cursor = queries.list_platform_events(query)
    return {"items": items, "next_cursor": next_cursor}
