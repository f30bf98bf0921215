"""GET /api/health and GET /api/openapi.json."""
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.entry import public_route
from chalicelib.fields import Model
from chalicelib.settings import Settings, get_settings

if TYPE_CHECKING:
    from chalicelib.meta import openapi as document
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    document = lazy.module("chalicelib.meta.openapi")

bp = Blueprint(__name__)


class Health(Model):
    status: str
    stage: str


@bp.route("/api/health", methods=["GET"])
@public_route(operation_id="getHealth", tag="Meta",
              response=Health, summary="Liveness: the function runs and its configuration is valid")
def health() -> Health:
    return Health(status="ok", stage=get_settings().stage)


@bp.route("/api/openapi.json", methods=["GET"])
@public_route(operation_id="getOpenApiDocument", tag="Meta",
              summary="This API's OpenAPI document")
def openapi() -> dict[str, Any]:
    settings = get_settings()
    return document.build_openapi(http.current_app(), title=f"{settings.app_name} API", servers=servers(settings))


def servers(settings: Settings) -> list[dict[str, Any]]:
    """Where the stage serves the API: its public origin when set (``make run`` sets it),
    else each tenant's subdomain of the platform domain (the host names the tenant)."""
    if settings.public_base_url:
        return [{"url": settings.public_base_url, "description": f"The {settings.stage} stage"}]
    if settings.stage == "local":
        return [{"url": "http://127.0.0.1:8000", "description": "make run (PORT changes the port)"}]
    return [{
        "url": f"https://{{tenant}}.{settings.platform_domain}",
        "description": f"The {settings.stage} stage; the subdomain names the tenant",
        "variables": {"tenant": {"default": "demo", "description": "The tenant's slug"}},
    }]
