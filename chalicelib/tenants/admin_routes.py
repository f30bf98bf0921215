"""/api/admin/tenants: the tenant lifecycle for super-admins (everyone else gets 403).

``{id}`` is a tenant's UUID or its slug (``tenants.lookup``, shared with the key routes).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.entry import platform_route
from chalicelib.errors import ConflictError
from chalicelib.http import etag, expected_version
from chalicelib.tenancy.tenant import Tenant
from chalicelib.tenants.admin_models import TenantAdminCreate, TenantAdminView, TenantListQuery, TenantUpdate

if TYPE_CHECKING:
    from chalicelib.store import registry
    from chalicelib.tenants import admin, lookup, provisioning
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    registry = lazy.module("chalicelib.store.registry")
    admin = lazy.module("chalicelib.tenants.admin")
    provisioning = lazy.module("chalicelib.tenants.provisioning")
    lookup = lazy.module("chalicelib.tenants.lookup")


bp = Blueprint(__name__)


def _reply(tenant: Tenant, status: int = 200, headers: dict[str, str] | None = None) -> http.Reply:
    return http.Reply(TenantAdminView.of(tenant), status, {"ETag": etag(tenant.version), **(headers or {})})


@bp.route("/api/admin/tenants", methods=["POST"])
@platform_route(operation_id="createTenant", tag="Tenants", errors=(ConflictError,), headers=("Location",),
                body=TenantAdminCreate, response=TenantAdminView, status=201,
                summary="Create and provision a tenant (key, roles, categories, templates, admin, welcome mail)")
def create_tenant(body: TenantAdminCreate) -> http.Reply:
    tenant = provisioning.provision(body)
    return _reply(tenant, 201, {"Location": f"/api/admin/tenants/{tenant.id}"})


@bp.route("/api/admin/tenants", methods=["GET"])
@platform_route(operation_id="listTenants", tag="Tenants",
                query=TenantListQuery, response=http.page_of(TenantAdminView),
                summary="List tenants by creation; ?status=, ?plan=, ?q=, cursor pagination")
def list_tenants(query: TenantListQuery) -> dict[str, Any]:
    tenants, cursor = registry.list_tenants_page(
        limit=query.limit, cursor=query.cursor, status=query.status.value if query.status else None,
        plan=query.plan, text=query.q)
    return {"items": [TenantAdminView.of(t).model_dump(mode="json") for t in tenants], "next_cursor": cursor}


# Chalice passes path parameters by name, so the views take ``id`` as the route spells it.
@bp.route("/api/admin/tenants/{id}", methods=["GET"])
@platform_route(operation_id="getTenant", tag="Tenants",
                response=TenantAdminView, summary="A tenant, whatever its status, with its provisioning progress")
def get_tenant(id: str) -> http.Reply:
    return _reply(lookup.tenant_by_reference(id))


@bp.route("/api/admin/tenants/{id}", methods=["PUT"])
@platform_route(operation_id="updateTenant", tag="Tenants", if_match="required", errors=(ConflictError,),
                body=TenantUpdate, response=TenantAdminView,
                summary="Edit a tenant (status active/suspended, names, plan, domains); If-Match required")
def update_tenant(id: str, body: TenantUpdate) -> http.Reply:
    version = expected_version(http.current_request().headers.get("if-match"), None)
    return _reply(admin.update_tenant(lookup.tenant_by_reference(id), body, version))


@bp.route("/api/admin/tenants/{id}", methods=["DELETE"])
@platform_route(operation_id="deleteTenant", tag="Tenants",
                status=204, summary="Soft-delete a tenant: inactive, data kept, clients get 404; repeatable")
def delete_tenant(id: str) -> None:
    admin.deactivate(lookup.tenant_by_reference(id))


@bp.route("/api/admin/tenants/{id}/provision", methods=["POST"])
@platform_route(operation_id="resumeProvisioning", tag="Tenants", errors=(ConflictError,),
                response=TenantAdminView, summary="Resume a tenant's provisioning from its last recorded step")
def resume_provisioning(id: str) -> http.Reply:
    return _reply(provisioning.resume(lookup.tenant_by_reference(id)))
