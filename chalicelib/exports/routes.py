"""/api/tenant/exports: request, list, read and download the tenant's data exports.

Every route needs ``exports:manage`` (tenant admins by default). A tenant's exports are
read under its own keys only, so another tenant's export id is a plain 404.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.exports.errors import (
    ExportConcurrencyLimitError,
    ExportDailyLimitError,
    ExportGoneError,
    ExportNotReadyError,
)
from chalicelib.exports.models import Export, ExportCreate, ExportPage
from chalicelib.http import ListQuery, parse_id

if TYPE_CHECKING:
    from chalicelib.exports import service
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    service = lazy.module("chalicelib.exports.service")

bp = Blueprint(__name__)
P = Permission


@bp.route("/api/tenant/exports", methods=["POST"])
@tenant_route(P.EXPORTS_MANAGE, operation_id="requestExport", tag="Exports",
              errors=(ExportDailyLimitError, ExportConcurrencyLimitError),
              body=ExportCreate, response=Export, status=202,
              summary="Request an export (json: gzip'd NDJSON; csv: a zip of one CSV per entity); 202 + Location")
def request_export(body: ExportCreate) -> http.Reply:
    record = service.request_export(body)
    return http.Reply(record.view(), 202, {"Location": f"/api/tenant/exports/{record.id}"})


@bp.route("/api/tenant/exports", methods=["GET"])
@tenant_route(P.EXPORTS_MANAGE, operation_id="listExports", tag="Exports",
              query=ListQuery, response=ExportPage, summary="List exports, newest first")
def list_exports(query: ListQuery) -> ExportPage:
    items, cursor = service.list_exports(query)
    return ExportPage(items=[r.view() for r in items], next_cursor=cursor)


# Chalice passes path parameters by name, so the views take ``id`` as the route spells it.
@bp.route("/api/tenant/exports/{id}", methods=["GET"])
@tenant_route(P.EXPORTS_MANAGE, operation_id="getExport", tag="Exports",
              response=Export, summary="An export: status, counts, size, SHA-256, error")
def get_export(id: str) -> Export:
    return service.get_export(parse_id(id)).view()


@bp.route("/api/tenant/exports/{id}/download", methods=["GET"])
@tenant_route(P.EXPORTS_MANAGE, operation_id="downloadExport", tag="Exports",
              errors=(ExportNotReadyError, ExportGoneError),
              status=302,
              summary="302 to the export's file (a presigned URL valid 5 minutes); audited as export.downloaded")
def download_export(id: str) -> http.Reply:
    return http.Reply(None, 302, {"Location": service.download_url(parse_id(id)), "Cache-Control": "no-store"})
