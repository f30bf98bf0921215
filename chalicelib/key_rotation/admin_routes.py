"""/api/admin/tenants/{id}/keys: a tenant's KMS keys and their rotation (super-admins only)."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import http
from chalicelib.entry import platform_route
from chalicelib.key_rotation import service as rotation
from chalicelib.tenants.lookup import tenant_by_reference as _tenant

bp = Blueprint(__name__)


# Chalice passes path parameters by name, so the views take ``id`` as the route spells it.
@bp.route("/api/admin/tenants/{id}/keys", methods=["GET"])
@platform_route(summary="A tenant's KMS keys and the progress of its latest key rotation")
def get_keys(id: str) -> dict[str, Any]:
    return rotation.status(_tenant(id))


@bp.route("/api/admin/tenants/{id}/keys/rotate", methods=["POST"])
@platform_route(status=202, summary="Rotate a tenant's key: a new key now, re-encryption in the background")
def rotate_keys(id: str) -> http.Reply:
    tenant = _tenant(id)
    started = rotation.start(tenant)
    body = {"rotation": started.model_dump(mode="json", exclude={"version"})}
    return http.Reply(body, 202, {"Location": f"/api/admin/tenants/{tenant.id}/keys"})
