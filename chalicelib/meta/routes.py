"""GET /api/health and GET /api/openapi.json."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import BaseModel

from chalicelib import http
from chalicelib.entry import public_route
from chalicelib.meta.openapi import build_openapi
from chalicelib.settings import get_settings

bp = Blueprint(__name__)


class Health(BaseModel):
    status: str
    stage: str


@bp.route("/api/health", methods=["GET"])
@public_route(response=Health, summary="Liveness: the function runs and its configuration is valid")
def health() -> Health:
    return Health(status="ok", stage=get_settings().stage)


@bp.route("/api/openapi.json", methods=["GET"])
@public_route(summary="This API's OpenAPI document")
def openapi() -> dict[str, Any]:
    return build_openapi(http.current_app(), title=f"{get_settings().app_name} API")
