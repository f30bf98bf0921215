"""cdk-nag's rules over the functions and the API, which it cannot see as SAM resources.

Without these, a stage could lose tracing, logs, the pinned runtime, its per-function
roles, a schedule's failure destination, the API's execution logs (or the account role
API Gateway needs to write any log: a stage with logging is refused without it), or its
WAF, and every other check would stay green. Each rule is shown to fail a template that
breaks it, so "no finding" cannot mean "no check".
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from platform_infra.serverless_checks import API, FUNCTION, enforce, findings

from tests.infra.conftest import STAGES, resources


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_no_finding(templates, stage):
    template = templates[stage]
    assert resources(template, FUNCTION) and resources(template, API)

    assert [str(f) for f in findings(template)] == []


def test_a_stage_with_a_platform_domain_has_no_finding(synthesis):
    assert synthesis.domain_template is not None

    assert [str(f) for f in findings(synthesis.domain_template)] == []


def _function(template: dict[str, Any], *, scheduled: bool = False) -> dict[str, Any]:
    for function in resources(template, FUNCTION).values():
        is_scheduled = any(e["Type"] == "Schedule" for e in function["Properties"].get("Events", {}).values())
        if is_scheduled == scheduled:
            return function["Properties"]
    raise AssertionError("no such function")


def _api(template: dict[str, Any]) -> dict[str, Any]:
    (api,) = resources(template, API).values()
    return api


def _shared_role(t: dict[str, Any]) -> None:
    functions = list(resources(t, FUNCTION).values())
    functions[1]["Properties"]["Role"] = functions[0]["Properties"]["Role"]


def _drop_account(t: dict[str, Any]) -> None:
    for name in list(resources(t, "AWS::ApiGateway::Account")):
        del t["Resources"][name]


def _drop_waf(t: dict[str, Any]) -> None:
    for name in list(resources(t, "AWS::WAFv2::WebACLAssociation")):
        del t["Resources"][name]


BREAKAGES: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "another runtime": ("Serverless-LambdaRuntime", lambda t: _function(t).update(Runtime="python3.12")),
    "x86": ("Serverless-LambdaRuntime", lambda t: _function(t).update(Architectures=["x86_64"])),
    "no tracing": ("Serverless-LambdaTracing", lambda t: _function(t).pop("Tracing")),
    "text logs": ("Serverless-LambdaStructuredLogging", lambda t: _function(t)["LoggingConfig"].update(LogFormat="Text")),
    "default memory": ("Serverless-LambdaDefaultMemorySize", lambda t: _function(t).pop("MemorySize")),
    "default timeout": ("Serverless-LambdaDefaultTimeout", lambda t: _function(t).pop("Timeout")),
    "shared role": ("Serverless-LambdaOwnRole", _shared_role),
    "schedule without failure destination": ("Serverless-LambdaAsyncFailureDestination",
                                             lambda t: _function(t, scheduled=True).pop("EventInvokeConfig")),
    "no access logs": ("Serverless-APIG1", lambda t: _api(t)["Properties"].pop("AccessLogSetting")),
    "no execution logs": ("Serverless-APIG6", lambda t: _api(t)["Properties"].pop("MethodSettings")),
    "bodies in execution logs": ("Serverless-APIG6",
                                 lambda t: _api(t)["Properties"]["MethodSettings"][0].update(DataTraceEnabled=True)),
    "no account CloudWatch role": ("Serverless-APIG6", _drop_account),
    "stage not waiting for the role": ("Serverless-APIG6", lambda t: _api(t).pop("DependsOn")),
    "no stage tracing": ("Serverless-APIGWXray", lambda t: _api(t)["Properties"].pop("TracingEnabled")),
    "no WAF": ("Serverless-APIG3", _drop_waf),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_each_rule_finds_the_template_that_breaks_it(templates, breakage):
    rule, brake = BREAKAGES[breakage]
    broken = copy.deepcopy(templates["prod"])
    brake(broken)

    assert rule in {f.rule for f in findings(broken)}
    with pytest.raises(RuntimeError, match=rule):
        enforce({"prod": broken})
