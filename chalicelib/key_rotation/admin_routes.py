"""/api/admin/tenants/{id}/keys: a tenant's KMS keys and their rotation (super-admins only)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.crypto.errors import RotationInProgressError, TenantNotActiveError
from chalicelib.entry import platform_route

if TYPE_CHECKING:
    from chalicelib.key_rotation import service as rotation
    from chalicelib.tenants import lookup
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    rotation = lazy.module("chalicelib.key_rotation.service")
    lookup = lazy.module("chalicelib.tenants.lookup")



bp = Blueprint(__name__)


# Chalice passes path parameters by name, so the views take ``id`` as the route spells it.
@bp.route("/api/admin/tenants/{id}/keys", methods=["GET"])
@platform_route(operation_id="listTenantKeys", tag="Admin",
                summary="A tenant's KMS keys and the progress of its latest key rotation")
def get_keys(id: str) -> dict[str, Any]:
    return rotation.status(lookup.tenant_by_reference(id))


@bp.route("/api/admin/tenants/{id}/keys/rotate", methods=["POST"])
@platform_route(operation_id="rotateTenantKeys", tag="Admin", errors=(RotationInProgressError, TenantNotActiveError),
                status=202, summary="Rotate a tenant's key: a new key now, re-encryption in the background")
def rotate_keys(id: str) -> http.Reply:
    tenant = lookup.tenant_by_reference(id)
    started = rotation.start(tenant)
    body = {"rotation": started.model_dump(mode="json", exclude={"version"})}
    return http.Reply(body, 202, {"Location": f"/api/admin/tenants/{tenant.id}/keys"})
