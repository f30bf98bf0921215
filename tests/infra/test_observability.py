"""On-call's view of each stage, on the synthesized templates: tracing and JSON logs on every
function, JSON access logs with request id and tenant on the API, the alarms issue 21
lists, the dashboard, and backups (daily, 35 days, copied to the DR region in prod)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from app import app
from chalicelib.metrics import CATALOGUE, NAMESPACE
from tests.infra.conftest import STAGES, resources

FUNCTION = "AWS::Serverless::Function"
ALARM = "AWS::CloudWatch::Alarm"


@pytest.fixture(scope="module", params=STAGES)
def stage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def template(templates: dict[str, dict[str, Any]], stage: str) -> dict[str, Any]:
    return templates[stage]


def alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources(template, ALARM).values()]


def alarm_on(template: dict[str, Any], namespace: str, metric: str, **dimensions: Any) -> list[dict[str, Any]]:
    found = []
    for alarm in alarms(template):
        dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        if alarm.get("Namespace") == namespace and alarm.get("MetricName") == metric and \
                all(dims.get(k) == v for k, v in dimensions.items()):
            assert alarm["AlarmActions"] and alarm["OKActions"], alarm  # every alarm notifies
            found.append(alarm)
    return found


def joined(value: Any, template: dict[str, Any]) -> str:
    """A string property as deployed: ``Fn::Join`` parts, a log group's ``Ref`` as its name."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else
                   template["Resources"][p["Ref"]]["Properties"]["LogGroupName"] if "Ref" in p else json.dumps(p)
                   for p in parts)


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, FUNCTION)


def test_every_function_traces_and_logs_json(template):
    assert functions(template)
    for name, function in functions(template).items():
        props = function["Properties"]
        assert props["Tracing"] == "Active", name
        assert props["LoggingConfig"]["LogFormat"] == "JSON", name
        assert props["LoggingConfig"]["ApplicationLogLevel"] == "INFO", name
    statements = [s for p in resources(template, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert any(set(s["Action"]) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} for s in statements)


def test_the_api_traces_and_writes_json_access_logs_with_request_and_tenant(template):
    [api] = resources(template, "AWS::Serverless::Api").values()
    props = api["Properties"]
    assert props["TracingEnabled"] is True
    log_format = json.loads(props["AccessLogSetting"]["Format"])
    assert log_format["requestId"] == "$context.requestId"
    assert log_format["tenantId"] == "$context.authorizer.tenant_id"
    assert {"status", "latencyMs", "resource", "xrayTraceId"} <= set(log_format)
    assert props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][1] == "Arn"


def test_each_function_has_error_throttle_and_p99_duration_alarms(template):
    for logical, function in functions(template).items():
        ref = {"Ref": logical}
        assert alarm_on(template, "AWS/Lambda", "Errors", FunctionName=ref), logical
        assert alarm_on(template, "AWS/Lambda", "Throttles", FunctionName=ref), logical
        [duration] = alarm_on(template, "AWS/Lambda", "Duration", FunctionName=ref)
        assert duration["ExtendedStatistic"] == "p99"
        assert duration["Threshold"] == pytest.approx(function["Properties"]["Timeout"] * 1000 * 0.8)


def test_each_queue_alarms_on_its_oldest_message_and_each_dlq_on_any_message(template):
    queues = resources(template, "AWS::SQS::Queue")
    main = [k for k, q in queues.items() if not q["Properties"]["QueueName"].endswith("-dlq")]
    dlqs = [k for k, q in queues.items() if q["Properties"]["QueueName"].endswith("-dlq")]
    names = {q["Properties"]["QueueName"] for q in queues.values()}
    assert "tenant-platform-notifications" in names and "tenant-platform-notifications-dlq" in names
    for logical in main:
        [age] = alarm_on(template, "AWS/SQS", "ApproximateAgeOfOldestMessage",
                         QueueName={"Fn::GetAtt": [logical, "QueueName"]})
        assert age["Threshold"] > 0
    for logical in dlqs:
        [depth] = alarm_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                           QueueName={"Fn::GetAtt": [logical, "QueueName"]})
        assert depth["Threshold"] == 0


def test_kms_sts_throttles_5xx_guard_refusals_and_job_tenant_failures_alarm(template, stage):
    for service in ("kms", "sts"):
        [throttles] = alarm_on(template, NAMESPACE, "AwsThrottles", Stage=stage, Service=service)
        assert throttles["Threshold"] == 0
    assert alarm_on(template, "AWS/ApiGateway", "5XXError")
    jobs = {s.handler_string.rsplit(".", 1)[-1] for s in app.event_sources if type(s).__name__ ==
            "ScheduledEventConfig"}
    assert jobs
    for job in jobs:
        [failures] = alarm_on(template, NAMESPACE, "JobTenantRuns", Stage=stage, Job=job, Outcome="failed")
        assert failures["Threshold"] == 0 and failures["Statistic"] == "Sum"
    # Guard refusals: a metric filter on the security event of every function's log group
    filters = resources(template, "AWS::Logs::MetricFilter")
    patterns = {f["Properties"]["FilterPattern"] for f in filters.values()}
    assert patterns == {'{ $.security_event = "isolation_refused" }'}
    groups = {json.dumps(f["Properties"]["LogGroupName"]) for f in filters.values()}
    assert len(groups) == len(functions(template))
    metric = {(t["MetricNamespace"], t["MetricName"]) for f in filters.values()
              for t in f["Properties"]["MetricTransformations"]}
    [(namespace, name)] = metric
    [guard] = alarm_on(template, namespace, name)
    assert guard["Threshold"] == 0 and guard["EvaluationPeriods"] == 1


def test_the_dashboard_has_golden_signals_and_top_tenants(template, stage):
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert dashboard["Properties"]["DashboardName"] == f"tenant-platform-{stage}"
    for signal in ("Traffic", "Errors", "Latency", "Saturation"):
        assert signal + ":" in body
    for metric in ("5XXError", "Latency", "ApproximateAgeOfOldestMessage", "Throttles", "Duration"):
        assert metric in body
    assert "TenantRequests" in body and "TenantErrors" in body and "SORT(SEARCH(" in body
    rules = {r["Properties"]["RuleName"]: json.loads(joined(r["Properties"]["RuleBody"], template))
             for r in resources(template, "AWS::CloudWatch::InsightRule").values()}
    assert set(rules) == {f"tenant-platform-{stage}-top-tenants-{k}" for k in ("requests", "errors", "throttled")}
    for name, rule in rules.items():
        assert rule["Contribution"]["Keys"] == ["$.tenant_id"] and rule["LogFormat"] == "JSON"
        assert rule["LogGroupNames"] == [f"/aws/lambda/tenant-platform-{stage}/api_handler"]
        assert name in body


def test_metric_cardinality_is_the_catalogues(template):
    """Only TenantRequests and TenantErrors carry a tenant dimension (cost: one metric per tenant)."""
    tenant_dimensioned = {name for name, (_, dims) in CATALOGUE.items() if "TenantId" in dims}
    assert tenant_dimensioned == {"TenantRequests", "TenantErrors"}


def test_both_tables_are_backed_up_daily_for_35_days_and_copied_to_dr_in_prod(template, stage, templates):
    [plan] = resources(template, "AWS::Backup::BackupPlan").values()
    [rule] = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["ScheduleExpression"].startswith("cron(0 5 * * ? *)") or rule["ScheduleExpression"] == \
        "cron(0 5 * * ? *)"
    assert rule["Lifecycle"]["DeleteAfterDays"] == 35
    copies = rule.get("CopyActions", [])
    if stage == "prod":
        [copy] = copies
        assert "us-west-2" in json.dumps(copy["DestinationBackupVaultArn"])
        assert copy["Lifecycle"]["DeleteAfterDays"] == 35
        dr = templates.get("prod-dr")
        assert dr is not None and resources(dr, "AWS::Backup::BackupVault")
    else:
        assert copies == []
    [selection] = resources(template, "AWS::Backup::BackupSelection").values()
    selected = json.dumps(selection["Properties"]["BackupSelection"]["Resources"])
    tables = resources(template, "AWS::DynamoDB::Table")
    assert len(tables) == 2 and all(logical in selected for logical in tables)


def test_the_assets_bucket_is_versioned_and_expires_noncurrent_versions(template):
    buckets = resources(template, "AWS::S3::Bucket")
    [assets] = [b for k, b in buckets.items() if k.startswith("AssetsBucket")]
    props = assets["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = props["LifecycleConfiguration"]["Rules"]
    assert any(r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 30 for r in rules)
