"""What each stage deploys, checked on the synthesized templates with CDK assertions."""
from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from chalice.app import ScheduledEventConfig, SQSEventConfig
from chalice.utils import to_cfn_resource_name

from app import app
from chalicelib.entry.fanout import BATCH_SIZE, CONSUMER_TIMEOUT_SECONDS, JOB_BUDGET_SECONDS, TENANT_JOBS_QUEUE
from chalicelib.limits.plan_catalogue import DEFAULT_PLANS as PLANS
from chalicelib.settings import _ENV, Settings
from chalicelib.store.schema import TTL_ATTRIBUTE, data_table_spec, registry_table_spec
from tests.infra.conftest import STAGES, one, resources

FUNCTION = "AWS::Serverless::Function"


@pytest.fixture(scope="module", params=STAGES)
def stage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def template(templates: dict[str, dict[str, Any]], stage: str) -> dict[str, Any]:
    return templates[stage]


@pytest.fixture(scope="module")
def assertions(template: dict[str, Any]) -> Template:
    return Template.from_json(template, skip_cyclical_dependencies_check=True)


def _key_id(template: dict[str, Any]) -> str:
    """The platform key's logical id (the storage-events queue has a key of its own)."""
    return next(k for k in resources(template, "AWS::KMS::Key") if k.startswith("PlatformKey"))


def _function_env(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: f["Properties"]["Environment"]["Variables"] for name, f in resources(template, FUNCTION).items()}


@pytest.mark.parametrize("spec_of, setting", [(registry_table_spec, "REGISTRY_TABLE"), (data_table_spec, "DATA_TABLE")])
def test_tables_are_the_schema_with_pitr_kms_ttl_and_stage_protection(template, assertions, stage, spec_of, setting):
    # Given the table name the stage's functions are told
    table_ref = next(iter(_function_env(template).values()))[setting]
    logical = table_ref["Ref"]
    spec = spec_of("unused")
    # Then that table is the schema's, protected as the stage requires
    table = template["Resources"][logical]["Properties"]
    assert table["KeySchema"] == spec["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        spec["AttributeDefinitions"], key=lambda a: a["AttributeName"])
    assert sorted(table.get("GlobalSecondaryIndexes", []), key=lambda i: i["IndexName"]) == sorted(
        spec.get("GlobalSecondaryIndexes", []), key=lambda i: i["IndexName"])
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS",
                                         "KMSMasterKeyId": {"Fn::GetAtt": [_key_id(template), "Arn"]}}
    assert table["DeletionProtectionEnabled"] is (stage == "prod")
    assert template["Resources"][logical]["DeletionPolicy"] == ("Retain" if stage == "prod" else "Delete")


def test_platform_key_rotates_and_lets_alarms_publish_to_the_encrypted_topic(assertions):
    assertions.resource_count_is("AWS::KMS::Key", 2)  # the platform's, and the storage-events queue's
    assertions.has_resource_properties("AWS::KMS::Key", {
        "EnableKeyRotation": True,
        "KeyPolicy": {"Statement": Match.array_with([Match.object_like({
            "Sid": "AlarmsPublishToEncryptedTopic", "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"]})])}})


@pytest.mark.parametrize("setting", ["EXPORTS_BUCKET", "ASSETS_BUCKET"])
def test_tenant_buckets_are_private_tls_only_kms_encrypted_with_lifecycle(template, setting):
    logical = next(iter(_function_env(template).values()))[setting]["Ref"]
    bucket = template["Resources"][logical]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [{
        "BucketKeyEnabled": True,
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                          "KMSMasterKeyID": {"Fn::GetAtt": [_key_id(template), "Arn"]}}}]
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    if setting == "EXPORTS_BUCKET":
        # The bucket holds only exports, under tenants/<uuid>/exports/: the app deletes them
        # after EXPORT_RETENTION_DAYS, the lifecycle rule on the same day at the latest.
        assert rules["expire-exports"]["Prefix"] == "tenants/"
        retention = {env["EXPORT_RETENTION_DAYS"] for env in _function_env(template).values()}
        assert retention == {str(rules["expire-exports"]["ExpirationInDays"])}
    policy = one(template, "AWS::S3::BucketPolicy", Bucket={"Ref": logical})[1]["Properties"]["PolicyDocument"]
    assert {"Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [{"Fn::GetAtt": [logical, "Arn"]},
                         {"Fn::Join": ["", [{"Fn::GetAtt": [logical, "Arn"]}, "/*"]]}]} in policy["Statement"]


def _queues(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["QueueName"]: {"id": name, **r["Properties"]}
            for name, r in resources(template, "AWS::SQS::Queue").items()}


def test_every_queue_has_an_encrypted_dlq_and_every_queue_is_encrypted(template):
    queues = _queues(template)
    main = {name: q for name, q in queues.items() if not name.endswith("-dlq")}
    assert {"tenant-platform-key-rotation", "tenant-platform-exports"} <= main.keys()
    assert {env["EXPORTS_QUEUE"] for env in _function_env(template).values()} <= main.keys()
    for name, queue in main.items():
        dlq = queues[name + "-dlq"]
        assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq["id"], "Arn"]},
                                          "maxReceiveCount": 3}
    from chalicelib.limits.storage import STORAGE_EVENTS_QUEUE

    keys = {name: q["KmsMasterKeyId"]["Fn::GetAtt"][0] for name, q in queues.items()}
    # S3 writes the storage events: that queue has its own key (see its test below).
    own = (STORAGE_EVENTS_QUEUE, STORAGE_EVENTS_QUEUE + "-dlq")
    assert {k for n, k in keys.items() if n not in own} == {_key_id(template)}
    assert all(keys[name].startswith("StorageEventsKey") for name in own)


def _sqs_events(template: dict[str, Any]):
    for name, function in resources(template, FUNCTION).items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                yield name, function["Properties"], event["Properties"]


def test_every_sqs_event_source_reports_batch_item_failures_from_its_queue(template):
    declared = {to_cfn_resource_name(s.name): s.queue for s in app.event_sources if isinstance(s, SQSEventConfig)}
    assert "KeyRotation" in declared and "ExportsWorker" in declared
    queue_ids = {q["id"]: name for name, q in _queues(template).items()}
    events = list(_sqs_events(template))
    assert sorted(name for name, _, _ in events) == sorted(declared)
    for name, _, event in events:
        assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert queue_ids[event["Queue"]["Fn::GetAtt"][0]] == declared[name]


def test_function_timeouts_and_memory_are_the_stages(template, stage):
    from platform_infra.stages import stage_settings

    settings = stage_settings(stage)
    functions = resources(template, FUNCTION)
    declared = [s.name for s in app.event_sources] + [a.name for a in app.builtin_auth_handlers] + [
        f.name for f in app.pure_lambda_functions]
    names = {to_cfn_resource_name(name): name for name in declared} | {"APIHandler": "api_handler"}
    assert set(functions) == set(names)
    for logical, function in functions.items():
        assert function["Properties"]["Timeout"] == settings.timeout(names[logical])
        assert function["Properties"]["MemorySize"] == settings.memory(names[logical])
    # API Gateway gives up on an integration after 29 s.
    assert functions["APIHandler"]["Properties"]["Timeout"] <= 30


def test_visibility_timeout_is_at_least_six_times_the_consumer_timeout(template):
    by_id = {q["id"]: q for q in _queues(template).values()}
    for _, function, event in _sqs_events(template):
        queue = by_id[event["Queue"]["Fn::GetAtt"][0]]
        assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]


def test_the_schedules_are_the_ones_the_app_declares(template):
    declared = {s.name: s.schedule_expression for s in app.event_sources if isinstance(s, ScheduledEventConfig)}
    deployed = {}
    for name, function in resources(template, FUNCTION).items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "Schedule":
                deployed[name] = event["Properties"]["Schedule"]
    assert {"audit_chain", "audit_retention", "provisioning_resume", "exports_cleanup"} <= declared.keys()
    assert deployed == {to_cfn_resource_name(name): expression for name, expression in declared.items()}


def test_functions_get_every_setting_and_the_tenant_role(template):
    required = {_ENV[name] for name, field in Settings.model_fields.items() if field.is_required() and name in _ENV}
    role = next(iter(resources(template, "AWS::IAM::Role").keys() - {
        n for n, r in resources(template, "AWS::IAM::Role").items()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")}))
    for env in _function_env(template).values():
        assert required <= env.keys(), required - env.keys()
        assert env["TENANT_DATA_ROLE_ARN"] == {"Fn::GetAtt": [role, "Arn"]}


def test_one_usage_plan_per_plan_on_the_api_stage_and_key_source_authorizer(template, assertions, stage):
    plans = resources(template, "AWS::ApiGateway::UsagePlan")
    # Named as chalicelib/ratelimit/usage_plans.py finds them; "platform" counts super-admins.
    names = sorted(p["Properties"]["UsagePlanName"] for p in plans.values())
    assert names == sorted(f"tenant-platform-{stage}-plan-{plan}" for plan in (*PLANS, "platform", "overflow"))
    for plan in plans.values():
        props = plan["Properties"]
        assert props["ApiStages"] == [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}]
        assert props["Throttle"]["RateLimit"] > 0 and props["Throttle"]["BurstLimit"] > 0
        if props["UsagePlanName"].endswith("-plan-overflow"):
            # Limited per tenant by the app's distributed limiter: the account's default throttle, no quota
            assert props["Throttle"] == {"RateLimit": 10_000, "BurstLimit": 5_000} and "Quota" not in props
        else:
            assert props["Quota"]["Period"] == "DAY" and props["Quota"]["Limit"] > 0
    assertions.has_resource_properties("AWS::Serverless::Api", {
        "DefinitionBody": Match.object_like({"x-amazon-apigateway-api-key-source": "AUTHORIZER"})})


def test_alarms_on_every_dlq_api_5xx_and_throttles_notify_the_topic(template):
    alarms = list(resources(template, "AWS::CloudWatch::Alarm").values())
    topic = next(iter(resources(template, "AWS::SNS::Topic")))
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
    dlq_ids = {q["id"] for name, q in _queues(template).items() if name.endswith("-dlq")}
    watched = {d["Value"]["Fn::GetAtt"][0] for a in alarms for d in a["Properties"].get("Dimensions", [])
               if d["Name"] == "QueueName" and a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"}
    assert watched == dlq_ids
    metrics = [(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms]
    assert ("AWS/ApiGateway", "5XXError") in metrics
    throttled = {d["Value"]["Ref"] for a in alarms if a["Properties"]["MetricName"] == "Throttles"
                 for d in a["Properties"]["Dimensions"]}
    assert throttled == set(resources(template, FUNCTION))
    assert metrics.count(("AWS/DynamoDB", "ThrottledRequests")) == 2
    topic_props = template["Resources"][topic]["Properties"]
    assert topic_props["KmsMasterKeyId"] == {"Fn::GetAtt": [_key_id(template), "Arn"]}


def test_the_assets_bucket_reports_object_events_to_the_storage_events_queue(template):
    from chalicelib.limits.storage import STORAGE_EVENTS_QUEUE

    [notifications] = resources(template, "Custom::S3BucketNotifications").values()
    configs = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert sorted(c["Events"][0] for c in configs) == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    queues = {name: q for name, q in resources(template, "AWS::SQS::Queue").items()
              if q["Properties"].get("QueueName") == STORAGE_EVENTS_QUEUE}
    [queue_id] = queues
    assert all(c["QueueArn"] == {"Fn::GetAtt": [queue_id, "Arn"]} for c in configs)
    assert all(c["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "tenants/"}] for c in configs)
    # Its own key (S3 must be allowed to use it), not the platform key that encrypts the bucket.
    key = queues[queue_id]["Properties"]["KmsMasterKeyId"]
    assert key != {"Fn::GetAtt": [_key_id(template), "Arn"]}


def test_every_function_runs_the_pinned_runtime_on_arm64_under_a_role_of_its_own(template):
    from platform_infra.stages import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

    functions = resources(template, FUNCTION)
    assert (LAMBDA_RUNTIME, LAMBDA_ARCHITECTURE) == ("python3.11", "arm64")
    assert {f["Properties"]["Runtime"] for f in functions.values()} == {LAMBDA_RUNTIME}
    assert {tuple(f["Properties"]["Architectures"]) for f in functions.values()} == {(LAMBDA_ARCHITECTURE,)}
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(functions)


def test_the_tenant_jobs_queue_its_dlq_alarm_and_its_consumer(template):
    """Fanned-out scheduled work (chalicelib/entry/fanout.py): a failing tenant's message
    ends in the DLQ, which pages; the consumer's timeout holds its batch of job budgets."""
    from platform_infra.stages import MAX_RECEIVES

    queues = _queues(template)
    jobs, dlq = queues[TENANT_JOBS_QUEUE], queues[TENANT_JOBS_QUEUE + "-dlq"]
    assert jobs["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES
    [(name, function, event)] = [e for e in _sqs_events(template) if e[0] == to_cfn_resource_name("tenant_jobs")]
    assert event["Queue"] == {"Fn::GetAtt": [jobs["id"], "Arn"]} and event["BatchSize"] == BATCH_SIZE
    assert function["Timeout"] == CONSUMER_TIMEOUT_SECONDS >= BATCH_SIZE * JOB_BUDGET_SECONDS
    depth = [a for a in resources(template, "AWS::CloudWatch::Alarm").values()
             if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
             and {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq["id"], "QueueName"]}}
             in a["Properties"]["Dimensions"]]
    assert len(depth) == 1 and depth[0]["Properties"]["Threshold"] == 0
