"""API Gateway around Chalice's REST API: its name, the API key source, the usage plans.

Per-tenant limits (chalicelib/ratelimit, ``RATE_LIMIT_MODE=usage_plans``): each tenant
gets an API key attached to its plan's usage plan; the authorizer returns that key as
``usageIdentifierKey``, which API Gateway uses only when the API's key source is
``AUTHORIZER``. Clients never send an API key themselves.

The stack owns every usage plan: one per plan, ``platform`` (super-admins) and
``overflow`` (the account's default throttle, no quota: tenants past the API key quota,
sharing one key, and tenants whose overrides exceed their plan's usage plan). The app
finds them by name (``<app>-<stage>-plan-<plan>``, chalicelib/ratelimit/usage_plans.py
``usage_plan_name``) and only attaches and detaches tenant keys: it never edits a plan
(that drifted the stack). A usage plan's throttle and quota are a ceiling in front of
the Lambda; the exact per-tenant limits are the app's distributed limiter's.
"""
from __future__ import annotations

import json

from aws_cdk import CfnTag, Fn
from aws_cdk import aws_apigateway as apigateway
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.errors import (
    AppError,
    ForbiddenError,
    InternalError,
    RateLimitedError,
    UnauthorizedError,
    problem_body,
)
from chalicelib.ratelimit.bucket import OVERFLOW_BURST, OVERFLOW_RATE_PER_SECOND
from platform_infra.chalice_app import REST_API
from platform_infra.nag import acknowledge
from platform_infra.stages import PlanLimits


def configure_rest_api(chalice: Chalice, *, name: str) -> None:
    api = chalice.get_resource(REST_API)
    # The API's name is what CloudWatch's ApiName dimension carries: make it per stage.
    api.add_property_override("Name", name)
    api.add_property_override("DefinitionBody.x-amazon-apigateway-api-key-source", "AUTHORIZER")
    # In the API's definition, not as AWS::ApiGateway::GatewayResponse resources: SAM's
    # deployment hashes the definition, so a changed response is redeployed with it.
    api.add_property_override("DefinitionBody.x-amazon-apigateway-gateway-responses", gateway_responses())


# API Gateway's own refusals, answered as the app answers (chalicelib/errors.py): throttled
# (the usage plan's rate; a token comes back within a second), the day's quota spent (a
# conservative hour: a gateway response can carry only static or request values), the
# authorizer's refusals, and its own 5xx.
GATEWAY_RESPONSES: dict[str, tuple[AppError, str | None]] = {
    "THROTTLED": (RateLimitedError(), "1"),
    "QUOTA_EXCEEDED": (RateLimitedError("The daily request quota of the tenant's plan is spent"), "3600"),
    "UNAUTHORIZED": (UnauthorizedError(), None),
    "ACCESS_DENIED": (ForbiddenError(), None),
    "DEFAULT_5XX": (InternalError(), None),
}


def gateway_responses() -> dict[str, object]:
    responses: dict[str, object] = {}
    for kind, (error, retry_after) in GATEWAY_RESPONSES.items():
        headers = {"gatewayresponse.header.Content-Type": "'application/problem+json'"}
        if retry_after is not None:
            headers["gatewayresponse.header.Retry-After"] = f"'{retry_after}'"
            headers["gatewayresponse.header.RateLimit-Remaining"] = "'0'"
        responses[kind] = {
            "statusCode": error.status,
            "responseParameters": headers,
            # $context.requestId: the id API Gateway logs, as the app's request_id is.
            "responseTemplates": {"application/json": json.dumps(problem_body(error, "$context.requestId"))},
        }
    return responses


def usage_plans(scope: Construct, chalice: Chalice, *, prefix: str,
                plans: dict[str, PlanLimits]) -> dict[str, apigateway.CfnUsagePlan]:
    """One usage plan per plan (and ``platform``), plus ``overflow``; by plan name."""
    api_id = chalice.get_resource(REST_API).ref
    created = {}
    ceilings: dict[str, PlanLimits | None] = {**plans, "overflow": None}
    for plan, limits in ceilings.items():
        throttle = (apigateway.CfnUsagePlan.ThrottleSettingsProperty(
                        rate_limit=OVERFLOW_RATE_PER_SECOND, burst_limit=OVERFLOW_BURST) if limits is None
                    else apigateway.CfnUsagePlan.ThrottleSettingsProperty(
                        rate_limit=limits.rate_per_second, burst_limit=limits.burst))
        quota = (None if limits is None
                 else apigateway.CfnUsagePlan.QuotaSettingsProperty(limit=limits.requests_per_day, period="DAY"))
        usage_plan = apigateway.CfnUsagePlan(
            scope, f"UsagePlan{plan.capitalize()}",
            usage_plan_name=f"{prefix}-plan-{plan}",
            description=(f"Per-tenant limits of plan {plan!r}: one API key per tenant" if limits is not None else
                         "Tenants limited by the app's distributed limiter alone (past the key quota, raised "
                         "overrides)"),
            # "RestAPI.Stage" is SAM's reference to the stage it generates: the plan is created after it.
            api_stages=[apigateway.CfnUsagePlan.ApiStageProperty(api_id=api_id, stage=Fn.ref(f"{REST_API}.Stage"))],
            throttle=throttle, quota=quota,
            tags=[CfnTag(key="plan", value=plan)],
        )
        acknowledge(usage_plan, "CloudFormation-Validate::F1020",
                    "RestAPI.Stage is the SAM transform's reference to the stage it generates for RestAPI; "
                    "CDK's pre-transform check does not know it, cfn-lint checks it after the transform.")
        created[plan] = usage_plan
    return created
