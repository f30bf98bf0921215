"""/api/tenant/config, /api/tenant/config/versions, /api/tenant/branding"""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import http
from chalicelib.auth.permissions import Permission
from chalicelib.config import branding, service
from chalicelib.config.versions import Version
from chalicelib.entry import public_tenant_route, tenant_route
from chalicelib.errors import NotFoundError
from chalicelib.http import ListQuery, etag, expected_version, page_body

bp = Blueprint(__name__)
P = Permission


def if_match() -> int:
    return expected_version(http.current_request().headers.get("if-match"), None)


def version_number(value: str) -> int:
    """A path version; anything but a positive decimal names nothing (404)."""
    if not value.isdecimal() or len(value) > 9:
        raise NotFoundError("no such version")
    return int(value)


def config_reply(view: service.ConfigView) -> http.Reply:
    return http.Reply(view, 200, {"ETag": etag(view.version)})


def branding_reply(view: branding.BrandingView) -> http.Reply:
    return http.Reply(view, 200, {"ETag": etag(view.version)})


@bp.route("/api/tenant/config", methods=["GET"])
@tenant_route(P.CONFIG_READ, response=service.ConfigView, summary="The effective configuration, its version")
def get_config() -> http.Reply:
    return config_reply(service.get_config())


@bp.route("/api/tenant/config", methods=["PUT"])
@tenant_route(P.CONFIG_WRITE, body=service.ConfigUpdate, response=service.ConfigView,
              summary="Replace the configuration overrides (If-Match required)")
def put_config(body: service.ConfigUpdate) -> http.Reply:
    return config_reply(service.put_config(body, if_match()))


@bp.route("/api/tenant/config/versions", methods=["GET"])
@tenant_route(P.CONFIG_READ, query=ListQuery, response=http.page_of(Version),
              summary="Configuration versions, newest first")
def list_config_versions(query: ListQuery) -> dict[str, Any]:
    return page_body(*service.list_versions(query.limit, query.cursor))


@bp.route("/api/tenant/config/versions/{n}", methods=["GET"])
@tenant_route(P.CONFIG_READ, response=Version, summary="One configuration version")
def get_config_version(n: str) -> Version:
    return service.get_version(version_number(n))


@bp.route("/api/tenant/config/versions/{n}/restore", methods=["POST"])
@tenant_route(P.CONFIG_WRITE, response=service.ConfigView,
              summary="Make a new version equal to version n (If-Match required)")
def restore_config_version(n: str) -> http.Reply:
    number = version_number(n)
    return config_reply(service.restore_version(number, if_match()))


@bp.route("/api/tenant/branding", methods=["GET"])
@public_tenant_route(response=branding.PublicBranding, summary="The resolved tenant's branding (no token)")
def get_branding() -> http.Reply:
    view = branding.public_branding()
    tag = etag(view.version, view.analytics)
    # Tenants share the path: caches must key on what resolved the tenant.
    headers = {"ETag": tag, "Cache-Control": branding.CACHE_CONTROL, "Vary": "Host, X-Tenant-ID"}
    if http.current_request().headers.get("if-none-match") in (tag, f"W/{tag}"):
        return http.Reply(None, 304, headers)
    return http.Reply(view, 200, headers)


@bp.route("/api/tenant/branding", methods=["PUT"])
@tenant_route(P.BRANDING_WRITE, body=branding.BrandingUpdate, response=branding.BrandingView,
              summary="Replace the branding (If-Match required)")
def put_branding(body: branding.BrandingUpdate) -> http.Reply:
    return branding_reply(branding.put_branding(body, if_match()))


@bp.route("/api/tenant/branding/assets", methods=["POST"])
@tenant_route(P.BRANDING_WRITE, body=branding.AssetUploadRequest, response=branding.AssetUpload, status=201,
              summary="A presigned S3 POST for a logo or favicon (PNG, JPEG or WebP)")
def presign_branding_asset(body: branding.AssetUploadRequest) -> http.Reply:
    return http.Reply(branding.presign_asset(body), 201)


@bp.route("/api/tenant/branding/assets/{name}", methods=["GET"])
@public_tenant_route(summary="An uploaded logo or favicon of the resolved tenant (302 to a short-lived URL)")
def get_branding_asset(name: str) -> http.Reply:
    headers = {"Location": branding.asset_redirect(name), "Cache-Control": branding.ASSET_CACHE_CONTROL,
               "Vary": "Host, X-Tenant-ID"}
    return http.Reply(None, 302, headers)


@bp.route("/api/tenant/branding/versions", methods=["GET"])
@tenant_route(P.CONFIG_READ, query=ListQuery, response=http.page_of(Version), summary="Branding versions, newest first")
def list_branding_versions(query: ListQuery) -> dict[str, Any]:
    return page_body(*branding.list_versions(query.limit, query.cursor))


@bp.route("/api/tenant/branding/versions/{n}", methods=["GET"])
@tenant_route(P.CONFIG_READ, response=Version, summary="One branding version")
def get_branding_version(n: str) -> Version:
    return branding.get_version(version_number(n))


@bp.route("/api/tenant/branding/versions/{n}/restore", methods=["POST"])
@tenant_route(P.BRANDING_WRITE, response=branding.BrandingView,
              summary="Make a new branding version equal to version n (If-Match required)")
def restore_branding_version(n: str) -> http.Reply:
    number = version_number(n)
    return branding_reply(branding.restore_version(number, if_match()))
