"""/api/admin/tenants/{id}/config and /api/admin/tenants/{id}/branding (super-admin).

The tenant is bound with ``acting_in`` so the guard admits its partition and the audit
events name the super-admin; reads are recorded in the tenant's trail too.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.config import branding, service
from chalicelib.config.routes import branding_reply, config_reply, if_match
from chalicelib.entry import platform_route
from chalicelib.tenancy import context

if TYPE_CHECKING:
    from chalicelib.audit import recording
    from chalicelib.tenants import lookup
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    recording = lazy.module("chalicelib.audit.recording")
    lookup = lazy.module("chalicelib.tenants.lookup")


bp = Blueprint(__name__)
T = TypeVar("T")


def _in_tenant(reference: str, action: Callable[[], T], *, read: bool = False) -> T:
    tenant = lookup.tenant_by_reference(reference)
    with context.bound(context.acting_in(tenant)):
        result = action()
        if read:
            request = http.current_request()
            recording.record_read_access(request.method, request.path, {"id": reference[:64]})
        return result


@bp.route("/api/admin/tenants/{id}/config", methods=["GET"])
@platform_route(operation_id="getTenantConfig", tag="Configuration",
                response=service.ConfigView, summary="A tenant's effective configuration")
def admin_get_config(id: str) -> http.Reply:
    return config_reply(_in_tenant(id, service.get_config, read=True))


@bp.route("/api/admin/tenants/{id}/config", methods=["PUT"])
@platform_route(operation_id="updateTenantConfig", tag="Configuration", if_match="required",
                body=service.ConfigUpdate, response=service.ConfigView,
                summary="Replace a tenant's configuration overrides (If-Match required)")
def admin_put_config(id: str, body: service.ConfigUpdate) -> http.Reply:
    expected = if_match()
    return config_reply(_in_tenant(id, lambda: service.put_config(body, expected)))


@bp.route("/api/admin/tenants/{id}/branding", methods=["GET"])
@platform_route(operation_id="getTenantBranding", tag="Branding",
                response=branding.BrandingView, summary="A tenant's branding")
def admin_get_branding(id: str) -> http.Reply:
    return branding_reply(_in_tenant(id, branding.get_branding, read=True))


@bp.route("/api/admin/tenants/{id}/branding", methods=["PUT"])
@platform_route(operation_id="updateTenantBranding", tag="Branding", if_match="required",
                body=branding.BrandingUpdate, response=branding.BrandingView,
                summary="Replace a tenant's branding (If-Match required)")
def admin_put_branding(id: str, body: branding.BrandingUpdate) -> http.Reply:
    expected = if_match()
    return branding_reply(_in_tenant(id, lambda: branding.put_branding(body, expected)))
