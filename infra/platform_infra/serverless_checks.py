"""cdk-nag's checks for what cdk-nag cannot see: the functions and the API of the SAM template.

cdk-nag inspects CloudFormation resources before deployment; Chalice's functions and API
are ``AWS::Serverless::Function`` and ``AWS::Serverless::Api``, which CloudFormation's
SAM transform turns into ``AWS::Lambda::*`` and ``AWS::ApiGateway::*`` only at deploy
time, so cdk-nag's Lambda and API Gateway rules never meet them. These rules check the
SAM properties those resources are made from. Each is named for the cdk-nag rule (AWS
Solutions ``AwsSolutions-*``, or its Serverless pack) it stands in for:

* ``Serverless-LambdaRuntime`` (AwsSolutions-L1): the runtime is the pinned one
  (stages.py LAMBDA_RUNTIME, with its architecture), not whichever synthesized;
* ``Serverless-LambdaTracing``: X-Ray active tracing;
* ``Serverless-LambdaStructuredLogging``: JSON logs into the log group infra made;
* ``Serverless-LambdaDefaultMemorySize`` / ``-Timeout``: set, not Lambda's defaults;
* ``Serverless-LambdaOwnRole`` (AwsSolutions-IAM least privilege): a role per function;
* ``Serverless-LambdaAsyncFailureDestination`` / ``LambdaDLQ``: a function invoked
  asynchronously (a schedule) sends a failed event somewhere; an SQS consumer's failures
  go to its queue's DLQ (checked with the queues);
* ``Serverless-APIG1`` (AwsSolutions-APIG1, APIGWAccessLogging): access logs;
* ``Serverless-APIG6`` (AwsSolutions-APIG6, APIGWStructuredLogging): execution logging on
  every method, without request/response bodies, and the account's CloudWatch role that
  API Gateway logs with, which the API waits for;
* ``Serverless-APIGWXray``: tracing on the stage;
* ``Serverless-APIG3`` (AwsSolutions-APIG3): a WAFv2 web ACL associated with the stage.

``enforce`` fails synthesis on any finding (main.py), as cdk-nag does on its own.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from platform_infra.stages import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

FUNCTION = "AWS::Serverless::Function"
API = "AWS::Serverless::Api"


@dataclass(frozen=True)
class Finding:
    rule: str
    resource: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.detail}"


def _of_type(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template.get("Resources", {}).items() if r.get("Type") == kind}


def _function_findings(name: str, props: Mapping[str, Any], roles: Mapping[str, list[str]]) -> Iterable[Finding]:
    if props.get("Runtime") != LAMBDA_RUNTIME or props.get("Architectures") != [LAMBDA_ARCHITECTURE]:
        yield Finding("Serverless-LambdaRuntime", name, f"runtime {props.get('Runtime')!r} on "
                      f"{props.get('Architectures')!r}, not {LAMBDA_RUNTIME} on {LAMBDA_ARCHITECTURE}")
    if props.get("Tracing") != "Active":
        yield Finding("Serverless-LambdaTracing", name, "X-Ray tracing is not Active")
    logging = props.get("LoggingConfig") or {}
    if logging.get("LogFormat") != "JSON" or not logging.get("LogGroup"):
        yield Finding("Serverless-LambdaStructuredLogging", name, "no JSON logs into a log group of the stack")
    if not props.get("MemorySize"):
        yield Finding("Serverless-LambdaDefaultMemorySize", name, "memory is Lambda's default")
    if not props.get("Timeout"):
        yield Finding("Serverless-LambdaDefaultTimeout", name, "timeout is Lambda's default")
    role = props.get("Role")
    if not role:
        yield Finding("Serverless-LambdaOwnRole", name, "no role of its own")
    elif len(roles.get(repr(role), [])) > 1:
        yield Finding("Serverless-LambdaOwnRole", name, f"shares its role with {sorted(roles[repr(role)])}")
    events = (props.get("Events") or {}).values()
    if any(e.get("Type") == "Schedule" for e in events):
        destination = (((props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).get("OnFailure") or {})
        if not destination.get("Destination") and not props.get("DeadLetterQueue"):
            yield Finding("Serverless-LambdaAsyncFailureDestination", name,
                          "invoked asynchronously by a schedule, with nowhere for a failed event to go")


def _api_findings(name: str, api: Mapping[str, Any], template: Mapping[str, Any]) -> Iterable[Finding]:
    props = api.get("Properties", {})
    access = props.get("AccessLogSetting") or {}
    if not access.get("DestinationArn") or not access.get("Format"):
        yield Finding("Serverless-APIG1", name, "no access logs")
    settings = [s for s in props.get("MethodSettings") or []
                if s.get("ResourcePath") == "/*" and s.get("HttpMethod") == "*"]
    if not settings or settings[0].get("LoggingLevel") not in ("ERROR", "INFO"):
        yield Finding("Serverless-APIG6", name, "no execution logging on every method")
    elif settings[0].get("DataTraceEnabled"):
        yield Finding("Serverless-APIG6", name, "execution logs would hold request and response bodies")
    accounts = [n for n, r in _of_type(template, "AWS::ApiGateway::Account").items()
                if (r.get("Properties") or {}).get("CloudWatchRoleArn")]
    depends = api.get("DependsOn") or []
    depends = [depends] if isinstance(depends, str) else depends
    if not accounts:
        yield Finding("Serverless-APIG6", name, "no account-level CloudWatch role for API Gateway to log with")
    elif not set(accounts) & set(depends):
        yield Finding("Serverless-APIG6", name, "the stage does not wait for the account's CloudWatch role")
    if props.get("TracingEnabled") is not True:
        yield Finding("Serverless-APIGWXray", name, "X-Ray tracing is off on the stage")
    stage_of_this_api = f'"Ref": "{name}.Stage"'
    associations = [r for r in _of_type(template, "AWS::WAFv2::WebACLAssociation").values()
                    if stage_of_this_api in repr(r.get("Properties", {}).get("ResourceArn")).replace("'", '"')]
    if not associations:
        yield Finding("Serverless-APIG3", name, "no WAFv2 web ACL on the stage")


def findings(template: Mapping[str, Any]) -> list[Finding]:
    functions = _of_type(template, FUNCTION)
    roles: dict[str, list[str]] = {}
    for name, function in functions.items():
        roles.setdefault(repr(function.get("Properties", {}).get("Role")), []).append(name)
    found = [f for name, function in functions.items()
             for f in _function_findings(name, function.get("Properties", {}), roles)]
    found += [f for name, api in _of_type(template, API).items() for f in _api_findings(name, api, template)]
    return found


def enforce(templates: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise with every finding of every template (stack name -> template)."""
    found = [f"{stack} {finding}" for stack, template in templates.items() for finding in findings(template)]
    if found:
        raise RuntimeError("serverless checks (platform_infra/serverless_checks.py) failed:\n" + "\n".join(found))
