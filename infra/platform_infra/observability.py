"""What on-call reads: tracing, log formats, API access logs, alarms and the stage's dashboard.

* Every function: X-Ray active tracing (``chalicelib/tracing.py`` adds subsegments
  annotated with the tenant id) and Lambda's JSON log format (the app writes JSON lines;
  JSON format makes the platform's START/REPORT lines JSON too and enables log levels).
* The REST API: X-Ray tracing and JSON access logs carrying the request id and the
  tenant the authorizer resolved (``$context.authorizer.tenant_id``).
* Alarms (to the stage's alarm topic, ``alarms.Alarms``): errors and throttles of each
  function, p99 duration over 80% of its timeout, age of the oldest message of each queue,
  KMS and STS throttles (the app's EMF ``AwsThrottles``), guard refusals (a metric filter
  on the ``isolation_refused`` security event, any > 0), scheduled jobs' per-tenant
  failures (``JobTenantRuns`` with ``Outcome=failed``); DLQ depth and the API's 5xx rate
  are ``alarms.Alarms``' own.
* Top tenants: Contributor Insights rules over the API function's request log lines
  (requests, 5xx and 429 by ``tenant_id``): CloudWatch ranks 10,000 tenants for the price
  of a rule, where a tenant dimension on every metric would cost one metric per tenant.
* The dashboard ``<app>-<stage>``: golden signals (traffic, errors, latency, saturation)
  and the top-tenant rules.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.metrics import NAMESPACE
from platform_infra.alarms import Alarms
from platform_infra.chalice_app import REST_API, logical_id
from platform_infra.nag import acknowledge
from platform_infra.stages import StageSettings

# p99 duration alarm: over this share of the function's timeout for 3 of 5 minutes.
DURATION_ALARM_SHARE = 0.8
# A queue whose oldest message waits this long is not being drained (seconds).
QUEUE_AGE_ALARM_SECONDS = 600
GUARD_METRIC = "GuardRefusalEvents"
# What API Gateway writes per request: JSON, one line, the request id and the tenant.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "tenantId": "$context.authorizer.tenant_id",
    "principalId": "$context.authorizer.principalId",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "resource": "$context.resourcePath",
    "status": "$context.status",
    "errorType": "$context.error.responseType",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "xrayTraceId": "$context.xrayTraceId",
    "requestTime": "$context.requestTime",
}, separators=(",", ":"))


@dataclass(frozen=True)
class FunctionRef:
    name: str  # the Chalice name
    ref: str  # the deployed function's name (a CloudFormation Ref)
    timeout_seconds: int
    log_group: logs.ILogGroup


def trace_and_log_json(chalice: Chalice, functions: list[str], roles: list[iam.IRole], scope: Construct) -> None:
    """Active tracing and JSON logs on every function; each function's role may send trace segments."""
    for function in functions:
        resource = chalice.get_resource(logical_id(function))
        resource.add_property_override("Tracing", "Active")
        resource.add_property_override("LoggingConfig.ApplicationLogLevel", "INFO")
        resource.add_property_override("LoggingConfig.SystemLogLevel", "INFO")
    # Kept apart from the function policy (issue 17's): only what tracing needs.
    policy = iam.Policy(scope, "TracingPolicy", roles=roles, statements=[iam.PolicyStatement(
        sid="SendTraces", actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"])])
    acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions.")


def api_access_logs(scope: Construct, chalice: Chalice, settings: StageSettings, prefix: str) -> logs.LogGroup:
    """JSON access logs and X-Ray tracing on the REST API's stage."""
    group = logs.LogGroup(scope, "ApiAccessLogs", log_group_name=f"/aws/apigateway/{prefix}/access",
                          retention=settings.log_retention,
                          removal_policy=RemovalPolicy.RETAIN if settings.protect_data else RemovalPolicy.DESTROY)
    api = chalice.get_resource(REST_API)
    api.add_property_override("AccessLogSetting", {"DestinationArn": group.log_group_arn,
                                                   "Format": ACCESS_LOG_FORMAT})
    api.add_property_override("TracingEnabled", True)
    return group


def _app_metric(name: str, stage: str, statistic: str = "Sum", **dimensions: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace=NAMESPACE, metric_name=name, statistic=statistic,
                             dimensions_map={"Stage": stage, **dimensions}, period=Duration.minutes(1))


def _alarm(alarms: Alarms, scope: Construct, construct_id: str, metric: cloudwatch.IMetric, *, threshold: float,
           description: str, periods: int = 5, datapoints: int = 1) -> cloudwatch.Alarm:
    alarm = metric.create_alarm(scope, construct_id, alarm_description=description, threshold=threshold,
                                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                                evaluation_periods=periods, datapoints_to_alarm=datapoints,
                                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
    alarm.add_alarm_action(alarms.action)
    alarm.add_ok_action(alarms.action)
    return alarm


def function_alarms(scope: Construct, alarms: Alarms, function: FunctionRef) -> None:
    dims = {"FunctionName": function.ref}
    logical = logical_id(function.name)
    errors = cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Errors", dimensions_map=dims,
                               statistic="Sum", period=Duration.minutes(1))
    _alarm(alarms, scope, f"Errors{logical}", errors, threshold=0, datapoints=2,
           description=f"{function.name}: invocations failed")
    duration = cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Duration", dimensions_map=dims,
                                 statistic="p99", period=Duration.minutes(1))
    limit_ms = function.timeout_seconds * 1000 * DURATION_ALARM_SHARE
    _alarm(alarms, scope, f"DurationP99{logical}", duration, threshold=limit_ms, datapoints=3,
           description=f"{function.name}: p99 duration over {DURATION_ALARM_SHARE:.0%} of its "
                       f"{function.timeout_seconds} s timeout")


def queue_age_alarm(scope: Construct, alarms: Alarms, construct_id: str, queue: sqs.IQueue) -> None:
    metric = queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(1), statistic="Maximum")
    _alarm(alarms, scope, construct_id, metric, threshold=QUEUE_AGE_ALARM_SECONDS, datapoints=3,
           description=f"{queue.node.id}: oldest message older than {QUEUE_AGE_ALARM_SECONDS} s")


def platform_alarms(scope: Construct, alarms: Alarms, *, stage: str, jobs: list[str],
                    function_logs: list[logs.ILogGroup]) -> None:
    for service in ("kms", "sts"):
        _alarm(alarms, scope, f"Throttles{service.capitalize()}", _app_metric("AwsThrottles", stage, Service=service),
               threshold=0, datapoints=2, description=f"{service.upper()} calls throttled after retries")
    for job in jobs:
        _alarm(alarms, scope, f"JobTenantFailures{''.join(p.capitalize() for p in job.split('_'))}",
               _app_metric("JobTenantRuns", stage, Job=job, Outcome="failed"), threshold=0, periods=1,
               description=f"scheduled job {job} failed for at least one tenant")
    # The guard's refusals, counted from the security event itself (not only the app's EMF):
    # a refusal is a bug or an attack, and one is enough to page.
    for n, group in enumerate(function_logs):
        logs.MetricFilter(scope, f"GuardRefusalFilter{n}", log_group=group, metric_namespace=NAMESPACE,
                          metric_name=GUARD_METRIC, metric_value="1",
                          filter_pattern=logs.FilterPattern.string_value("$.security_event", "=",
                                                                         "isolation_refused"))
    guard = cloudwatch.Metric(namespace=NAMESPACE, metric_name=GUARD_METRIC, statistic="Sum",
                              period=Duration.minutes(1))
    _alarm(alarms, scope, "GuardRefusals", guard, threshold=0, periods=1,
           description="the tenant guard refused a data-table request (isolation_refused)")



def _rule_body(log_group: str, *filters: dict[str, object]) -> str:
    return json.dumps({
        "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
        "LogGroupNames": [log_group],
        "LogFormat": "JSON",
        "Contribution": {"Keys": ["$.tenant_id"],
                         "Filters": [{"Match": "$.message", "In": ["request"]}, *filters]},
        "AggregateOn": "Count",
    })


def top_tenant_rules(scope: Construct, prefix: str, api_log_group: str) -> dict[str, str]:
    """Contributor Insights rules ranking tenants by requests, 5xx and 429 (the API's request lines)."""
    rules = {
        "requests": _rule_body(api_log_group),
        "errors": _rule_body(api_log_group, {"Match": "$.status", "GreaterThan": 499}),
        "throttled": _rule_body(api_log_group, {"Match": "$.status", "In": [429]}),
    }
    names = {}
    for kind, body in rules.items():
        name = f"{prefix}-top-tenants-{kind}"
        cloudwatch.CfnInsightRule(scope, f"TopTenants{kind.capitalize()}", rule_name=name, rule_state="ENABLED",
                                  rule_body=body)
        names[kind] = name
    return names


def _graph(title: str, metrics: list[list[object]], *, x: int, y: int, stat: str = "Sum",
           width: int = 8, region: str) -> dict[str, object]:
    return {"type": "metric", "x": x, "y": y, "width": width, "height": 6,
            "properties": {"title": title, "metrics": metrics, "stat": stat, "period": 60, "region": region,
                           "view": "timeSeries"}}


def dashboard(scope: Construct, *, prefix: str, stage: str, api_name: str, api_stage: str,
              functions: list[FunctionRef], queues: dict[str, sqs.IQueue], rules: dict[str, str]) -> None:
    """The stage's dashboard: golden signals, then the top tenants."""
    region = Stack.of(scope).region
    api = ["AWS/ApiGateway", "{metric}", "ApiName", api_name, "Stage", api_stage]
    widgets: list[dict[str, object]] = [
        {"type": "text", "x": 0, "y": 0, "width": 24, "height": 1,
         "properties": {"markdown": f"# {prefix}: traffic, errors, latency, saturation; top tenants"}},
        _graph("Traffic: API requests", [[*[a.replace("{metric}", "Count") for a in api]]], x=0, y=1,
               region=region),
        _graph("Traffic: requests by status class (app)",
               [[NAMESPACE, "Requests", "Stage", stage, "StatusClass", c] for c in ("2xx", "4xx", "5xx")],
               x=8, y=1, region=region),
        _graph("Errors: API 4xx and 5xx rate", [[*[a.replace("{metric}", "5XXError") for a in api]],
                                               [*[a.replace("{metric}", "4XXError") for a in api]]],
               x=16, y=1, stat="Average", region=region),
        _graph("Latency: API p50 / p99", [[*[a.replace("{metric}", "Latency") for a in api], {"stat": "p50"}],
                                         [*[a.replace("{metric}", "Latency") for a in api], {"stat": "p99"}]],
               x=0, y=7, stat="p99", region=region),
        _graph("Errors: function errors", [["AWS/Lambda", "Errors", "FunctionName", f.ref, {"label": f.name}]
                                           for f in functions], x=8, y=7, region=region),
        _graph("Latency: function p99 duration",
               [["AWS/Lambda", "Duration", "FunctionName", f.ref, {"label": f.name}] for f in functions],
               x=16, y=7, stat="p99", region=region),
        _graph("Saturation: throttles (Lambda, KMS, STS)",
               [*(["AWS/Lambda", "Throttles", "FunctionName", f.ref, {"label": f.name}] for f in functions),
                [NAMESPACE, "AwsThrottles", "Stage", stage, "Service", "kms"],
                [NAMESPACE, "AwsThrottles", "Stage", stage, "Service", "sts"]], x=0, y=13, region=region),
        _graph("Saturation: oldest message age (s)",
               [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q.queue_name, {"label": name}]
                for name, q in queues.items()], x=8, y=13, stat="Maximum", region=region),
        _graph("Refusals: guard, rate limit, plan limits",
               [[NAMESPACE, "GuardRefusals", "Stage", stage], [NAMESPACE, "RateLimitRefusals", "Stage", stage],
                [NAMESPACE, GUARD_METRIC]], x=16, y=13, region=region),
        {"type": "metric", "x": 0, "y": 19, "width": 12, "height": 6, "properties": {
            "title": "Top tenants by requests (TenantRequests, 5 min)", "region": region, "period": 300,
            "view": "bar", "stat": "Sum", "metrics": [[{"expression": (
                f"SORT(SEARCH('{{{NAMESPACE},Stage,TenantId}} MetricName=\"TenantRequests\" Stage=\"{stage}\"', "
                "'Sum', 300), SUM, DESC, 10)"), "id": "top", "label": ""}]]}},
        {"type": "metric", "x": 12, "y": 19, "width": 12, "height": 6, "properties": {
            "title": "Top tenants by 5xx (TenantErrors, 5 min)", "region": region, "period": 300,
            "view": "bar", "stat": "Sum", "metrics": [[{"expression": (
                f"SORT(SEARCH('{{{NAMESPACE},Stage,TenantId}} MetricName=\"TenantErrors\" Stage=\"{stage}\"', "
                "'Sum', 300), SUM, DESC, 10)"), "id": "top", "label": ""}]]}},
        *({"type": "metric", "x": 8 * n, "y": 25, "width": 8, "height": 6, "properties": {
            "title": f"Top tenants: {kind} (Contributor Insights)", "region": region, "view": "timeSeries",
            "insightRule": {"maxContributorCount": 10, "orderBy": "Sum", "ruleName": rule}, "period": 300,
            "stacked": False}} for n, (kind, rule) in enumerate(rules.items())),
    ]
    cloudwatch.CfnDashboard(scope, "Dashboard", dashboard_name=prefix,
                            dashboard_body=Stack.of(scope).to_json_string({"widgets": widgets}))
