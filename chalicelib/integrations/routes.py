"""/api/tenant/integrations: a tenant's email, sms, payment and analytics providers."""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib import http, lazy
from chalicelib.auth.permissions import Permission
from chalicelib.entry import tenant_route
from chalicelib.errors import PreconditionRequiredError
from chalicelib.http import etag, expected_version
from chalicelib.integrations.errors import IntegrationTestFailedError, NotConfiguredError
from chalicelib.integrations.models import IntegrationList, IntegrationPut, IntegrationView, TestRequest, TestResult

if TYPE_CHECKING:
    from chalicelib.integrations import checks, resolution, service
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    checks = lazy.module("chalicelib.integrations.checks")
    resolution = lazy.module("chalicelib.integrations.resolution")
    service = lazy.module("chalicelib.integrations.service")

bp = Blueprint(__name__)
P = Permission


def _if_match() -> int | None:
    value = http.current_request().headers.get("if-match")
    return expected_version(value, None) if value else None


def _reply(view: IntegrationView, status: int = 200) -> http.Reply:
    return http.Reply(view, status, {"ETag": etag(view.version)})


@bp.route("/api/tenant/integrations", methods=["GET"])
@tenant_route(P.INTEGRATIONS_READ, operation_id="listIntegrations", tag="Integrations",
              response=IntegrationList,
              summary="Every integration kind: the effective provider, its source and the tenant's own")
def list_integrations() -> IntegrationList:
    return IntegrationList(items=resolution.views())


@bp.route("/api/tenant/integrations/{kind}", methods=["GET"])
@tenant_route(P.INTEGRATIONS_READ, operation_id="getIntegration", tag="Integrations",
              response=IntegrationView, summary="One integration kind (secrets masked)")
def get_integration(kind: str) -> http.Reply:
    return _reply(resolution.view(service.parse_kind(kind)))


@bp.route("/api/tenant/integrations/{kind}", methods=["PUT"])
@tenant_route(P.INTEGRATIONS_WRITE, operation_id="putIntegration", tag="Integrations", if_match="optional",
              errors=(PreconditionRequiredError,),  # replacing (not creating) needs If-Match
              body=IntegrationPut, response=IntegrationView,
              summary="Configure the tenant's provider for a kind (If-Match when one is configured)")
def put_integration(kind: str, body: IntegrationPut) -> http.Reply:
    parsed = service.parse_kind(kind)
    _, created = service.put(parsed, body, _if_match())
    return _reply(resolution.view(parsed), 201 if created else 200)


@bp.route("/api/tenant/integrations/{kind}", methods=["DELETE"])
@tenant_route(P.INTEGRATIONS_WRITE, operation_id="deleteIntegration", tag="Integrations", if_match="optional",
              status=204, summary="Remove the tenant's provider: the platform default applies again")
def delete_integration(kind: str) -> None:
    service.delete(service.parse_kind(kind), _if_match())


@bp.route("/api/tenant/integrations/{kind}/test", methods=["POST"])
@tenant_route(P.INTEGRATIONS_WRITE, operation_id="testIntegration", tag="Integrations",
              errors=(IntegrationTestFailedError, NotConfiguredError),
              body=TestRequest, response=TestResult,
              summary="Send a test email or text through the tenant's provider, or validate it")
def test_integration(kind: str, body: TestRequest) -> TestResult:
    return checks.run_test(service.parse_kind(kind), body)
