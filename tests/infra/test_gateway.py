"""API Gateway's own answers (throttling, quota, the authorizer's refusals, its 5xx) are
problem+json like the app's, with ``Retry-After`` on the 429s (README, Rate limiting).

Without gateway responses API Gateway answers ``{"message": ...}`` as application/json:
a client that handles the app's problems could not read the refusals clients see most.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.errors import ForbiddenError, InternalError, RateLimitedError, UnauthorizedError, problem_body
from tests.infra.conftest import STAGES, resources

EXPECTED = {"THROTTLED": (429, RateLimitedError, "1"), "QUOTA_EXCEEDED": (429, RateLimitedError, "3600"),
            "UNAUTHORIZED": (401, UnauthorizedError, None), "ACCESS_DENIED": (403, ForbiddenError, None),
            "DEFAULT_5XX": (500, InternalError, None)}


def _responses(template: dict[str, Any]) -> dict[str, Any]:
    [api] = resources(template, "AWS::Serverless::Api").values()
    return api["Properties"]["DefinitionBody"].get("x-amazon-apigateway-gateway-responses", {})


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_gateway_answers_are_problem_json(templates, stage, kind):
    status, error, retry_after = EXPECTED[kind]
    response = _responses(templates[stage]).get(kind)

    assert response is not None, f"no gateway response {kind}"
    assert int(response["statusCode"]) == status
    headers = response["responseParameters"]
    assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    assert headers.get("gatewayresponse.header.Retry-After") == (f"'{retry_after}'" if retry_after else None)
    body = json.loads(response["responseTemplates"]["application/json"].replace("$context.requestId", "r-1"))
    expected = problem_body(error(), "r-1")
    assert {k: body[k] for k in ("type", "title", "status", "code")} == {
        k: expected[k] for k in ("type", "title", "status", "code")}
    assert body["request_id"] == "r-1"
