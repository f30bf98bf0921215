"""Create the local AWS resources the app needs (idempotent): tables, buckets, queues, key, role,
usage plans.

Table definitions come from ``store/schema.py``, the same ones infra deploys.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError
from chalice import Chalice
from chalice.app import SQSEventConfig

from chalicelib import aws
from chalicelib.domains import gateway
from chalicelib.entry.fanout import TENANT_JOBS_QUEUE
from chalicelib.limits.storage import STORAGE_EVENTS_QUEUE
from chalicelib.notifications import NOTIFICATIONS_QUEUE
from chalicelib.ratelimit import rates as rate_limit_plans
from chalicelib.ratelimit import usage_plans
from chalicelib.ratelimit.bucket import OVERFLOW_BURST, OVERFLOW_RATE_PER_SECOND, PLATFORM_LIMITS, RateLimits
from chalicelib.settings import Settings
from chalicelib.store.schema import TTL_ATTRIBUTE, data_table_spec, registry_table_spec

DLQ_SUFFIX = "-dlq"
MAX_RECEIVES = 3
# Six times the longest consumer timeout we configure (AWS guidance for SQS triggers).
VISIBILITY_TIMEOUT_SECONDS = 6 * 60


def _create_table(spec: dict[str, Any]) -> None:
    ddb = aws.client("dynamodb")
    try:
        ddb.create_table(**spec)
    except ddb.exceptions.ResourceInUseException:
        return
    ddb.get_waiter("table_exists").wait(TableName=spec["TableName"])
    ddb.update_time_to_live(
        TableName=spec["TableName"],
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


def create_queue_with_dlq(name: str) -> str:
    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(QueueName=name + DLQ_SUFFIX)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)})
    url: str = sqs.create_queue(
        QueueName=name,
        Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS)},
    )["QueueUrl"]
    return url


def _create_bucket(name: str, region: str) -> None:
    s3 = aws.client("s3")
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def _notify_storage_events(bucket: str, queue_url: str) -> None:
    """The assets bucket reports its tenants' objects to the storage-events queue (limits.storage)."""
    sqs = aws.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{
            "Id": "tenant-storage", "QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "tenants/"}]}},
        }]})


def platform_key_alias(settings: Settings) -> str:
    return f"alias/{settings.app_name}/{settings.stage}/platform"


def _create_platform_key(settings: Settings) -> str:
    kms = aws.client("kms")
    alias = platform_key_alias(settings)
    try:
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    except kms.exceptions.NotFoundException:
        pass
    key = kms.create_key(Description="platform secrets", Tags=[{"TagKey": "scope", "TagValue": "platform"}])
    arn = str(key["KeyMetadata"]["Arn"])
    kms.enable_key_rotation(KeyId=key["KeyMetadata"]["KeyId"])
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyMetadata"]["KeyId"])
    return arn


def tenant_role_policy(settings: Settings) -> dict[str, Any]:
    """The tenant data-access role's permissions, as infra grants them (moto does not check them).

    Written here so the local role reads like the real one; the golden test of the real
    policy lives with infra.
    """
    partition = "arn:aws"
    tag = "${aws:PrincipalTag/tenant_id}"
    table = f"{partition}:dynamodb:{settings.region}:*:table/{settings.data_table}"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "TenantItems", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                    "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
                    "dynamodb:ConditionCheckItem"],
         "Resource": [table, f"{table}/index/*"],
         "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"T#{tag}#*"]}}},
        {"Sid": "TenantObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"{partition}:s3:::{bucket}/tenants/{tag}/*"
                      for bucket in (settings.exports_bucket, settings.assets_bucket)]},
        {"Sid": "TenantKeys", "Effect": "Allow",
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
         "Resource": f"{partition}:kms:{settings.region}:*:key/*",
         "Condition": {"StringEquals": {"aws:ResourceTag/tenant_id": tag}}},
    ]}


def _create_tenant_role(settings: Settings) -> str | None:
    """The role tenant data access assumes (moto's STS answers AssumeRole for it)."""
    if settings.tenant_data_role_arn is None:
        return None
    iam = aws.client("iam")
    account = settings.tenant_data_role_arn.split(":")[4]
    name = settings.tenant_data_role_arn.rsplit("/", 1)[-1]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringLike": {"aws:RequestTag/tenant_id": "*"}}}]}
    try:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                        MaxSessionDuration=max(3600, settings.tenant_credentials_seconds))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    iam.put_role_policy(RoleName=name, PolicyName="tenant-data",
                        PolicyDocument=json.dumps(tenant_role_policy(settings)))
    return settings.tenant_data_role_arn


def app_queue_names(app: Chalice) -> list[str]:
    return [s.queue for s in app.event_sources if isinstance(s, SQSEventConfig) and s.queue]


def create_usage_plans_like_the_stack(plans: dict[str, RateLimits]) -> dict[str, str]:
    """The stack's usage plans and shared keys, made in moto where they are missing; plan -> id.

    The app never makes or edits usage plans (CloudFormation owns them in AWS); this is
    the local stand-in of the stack, so it lives with the local runner.
    """
    apigateway = aws.client("apigateway")
    existing = usage_plans.managed_usage_plans()
    wanted: dict[str, RateLimits | None] = {**plans, usage_plans.PLATFORM_PLAN: PLATFORM_LIMITS,
                                            usage_plans.OVERFLOW_PLAN: None}
    ids = {}
    for plan, limits in wanted.items():
        if plan in existing:
            ids[plan] = existing[plan]["id"]
            continue
        quota = {} if limits is None else {"quota": {"limit": limits.requests_per_day, "period": "DAY"}}
        throttle = ({"rateLimit": OVERFLOW_RATE_PER_SECOND, "burstLimit": OVERFLOW_BURST} if limits is None
                    else {"rateLimit": float(limits.rate_per_second), "burstLimit": limits.burst})
        ids[plan] = apigateway.create_usage_plan(name=usage_plans.usage_plan_name(plan), throttle=throttle,
                                                 tags={"plan": plan}, **quota)["id"]
    for name, plan in ((usage_plans.platform_key_name(), usage_plans.PLATFORM_PLAN),
                       (usage_plans.overflow_key_name(), usage_plans.OVERFLOW_PLAN)):
        key = usage_plans.find_key(name) or apigateway.create_api_key(name=name, enabled=True)
        holding = {p["id"] for p in apigateway.get_usage_plans(keyId=key["id"])["items"]}
        if ids[plan] not in holding:
            apigateway.create_usage_plan_key(usagePlanId=ids[plan], keyId=key["id"], keyType="API_KEY")
    return ids


def create_rest_api_like_the_stack(name: str, stage: str) -> str:
    """The stage's REST API (its name and stage as infra makes them), for the custom domains'
    base-path mappings (chalicelib/domains): made in moto where missing; its id. moto
    deploys a stage only of an API with a method: one mock GET at the root."""
    apigateway = aws.client("apigateway")
    found = [a["id"] for a in apigateway.get_rest_apis(limit=500).get("items", []) if a.get("name") == name]
    if found:
        return str(found[0])
    api_id = str(apigateway.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]})["id"])
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api_id, stageName=stage)
    return api_id


def bootstrap(settings: Settings, extra_queues: Iterable[str] = ()) -> dict[str, Any]:
    _create_table(registry_table_spec(settings.registry_table))
    _create_table(data_table_spec(settings.data_table))
    _create_bucket(settings.exports_bucket, settings.region)
    _create_bucket(settings.assets_bucket, settings.region)
    queues = sorted({settings.exports_queue, STORAGE_EVENTS_QUEUE, NOTIFICATIONS_QUEUE, TENANT_JOBS_QUEUE,
                     *extra_queues})
    urls = {queue: create_queue_with_dlq(queue) for queue in queues}
    _notify_storage_events(settings.assets_bucket, urls[STORAGE_EVENTS_QUEUE])
    key_arn = _create_platform_key(settings)
    tenant_role = _create_tenant_role(settings)
    # SES refuses unverified senders (moto too); in AWS the identity is verified by infra.
    aws.client("ses").verify_email_identity(EmailAddress=settings.platform_sender_email)
    # What the stack makes in AWS (infra/platform_infra/api.py, edge.py): one usage plan
    # per plan, the platform's and the overflow one, and their two shared keys.
    plan_ids = create_usage_plans_like_the_stack(rate_limit_plans.plan_rate_limits())
    api_id = create_rest_api_like_the_stack(gateway.api_name(), gateway.API_STAGE)
    return {
        "tables": [settings.registry_table, settings.data_table],
        "buckets": [settings.exports_bucket, settings.assets_bucket],
        "queues": queues,
        "platform_key": key_arn,
        "tenant_role": tenant_role,
        "sender": settings.platform_sender_email,
        "usage_plans": sorted(plan_ids),
        "rest_api": api_id,
    }
