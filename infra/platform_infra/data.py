"""The platform KMS key and the two DynamoDB tables, exactly as chalicelib/store/schema.py defines them."""
from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from platform_infra.stages import StageSettings

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER, "B": dynamodb.AttributeType.BINARY}


# The tag that makes a KMS key a tenant's (chalicelib/crypto/keys.py TAG_TENANT).
TENANT_TAG = "tenant_id"


def refuse_tenant_tag(key: kms.Key) -> None:
    """No principal may put a ``tenant_id`` tag on this key of the platform.

    Tagging a key at its creation needs kms:TagResource in an IAM policy "not restricted
    to particular KMS keys" (KMS developer guide, Controlling access to tags), so the role
    that creates tenant keys may also tag an existing untagged key whose policy delegates
    to IAM, as CDK's default key policy does: this explicit deny keeps the platform's
    own keys from ever being taken for a tenant's.
    """
    key.add_to_resource_policy(iam.PolicyStatement(
        sid="NeverATenantKey", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
        actions=["kms:TagResource"], resources=["*"],
        conditions={"ForAnyValue:StringEquals": {"aws:TagKeys": [TENANT_TAG]}}))


def platform_key(scope: Construct, settings: StageSettings, app_name: str) -> kms.Key:
    """The customer-managed key of the platform's own data at rest: tables, buckets, queues, topic.

    Tenant PII is additionally sealed by the application under each tenant's own key.
    """
    key = kms.Key(
        scope, "PlatformKey",
        alias=f"alias/{app_name}/{settings.name}/platform",
        description=f"{app_name} {settings.name}: tables, buckets, queues and alarm topic at rest",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN if settings.protect_data else RemovalPolicy.DESTROY,
        pending_window=Duration.days(30 if settings.protect_data else 7),
    )
    # CloudWatch alarms publish to the alarm topic, which this key encrypts: without this
    # grant in the key policy, notifications are dropped silently.
    key.add_to_resource_policy(iam.PolicyStatement(
        sid="AlarmsPublishToEncryptedTopic",
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions=["kms:Decrypt", "kms:GenerateDataKey"],
        resources=["*"],
        conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
    ))
    refuse_tenant_tag(key)
    return key


def _attribute(spec: dict[str, Any], name: str) -> dynamodb.Attribute:
    types = {a["AttributeName"]: a["AttributeType"] for a in spec["AttributeDefinitions"]}
    return dynamodb.Attribute(name=name, type=_TYPES[types[name]])


def _key(spec_keys: list[dict[str, str]], kind: str) -> str:
    return next(k["AttributeName"] for k in spec_keys if k["KeyType"] == kind)


def table(scope: Construct, construct_id: str, spec: dict[str, Any], *, key: kms.IKey,
          settings: StageSettings, ttl_attribute: str) -> dynamodb.Table:
    """A table from a ``store/schema.py`` spec: keys, GSIs and billing as the spec says."""
    if spec["BillingMode"] != "PAY_PER_REQUEST":
        raise ValueError("the schema's tables are on-demand")
    created = dynamodb.Table(
        scope, construct_id,
        partition_key=_attribute(spec, _key(spec["KeySchema"], "HASH")),
        sort_key=_attribute(spec, _key(spec["KeySchema"], "RANGE")),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True),
        time_to_live_attribute=ttl_attribute,
        deletion_protection=settings.protect_data,
        removal_policy=RemovalPolicy.RETAIN if settings.protect_data else RemovalPolicy.DESTROY,
    )
    for index in spec.get("GlobalSecondaryIndexes", []):
        if index["Projection"]["ProjectionType"] != "ALL":
            raise ValueError("the schema's indexes project all attributes")
        created.add_global_secondary_index(
            index_name=index["IndexName"],
            partition_key=_attribute(spec, _key(index["KeySchema"], "HASH")),
            sort_key=_attribute(spec, _key(index["KeySchema"], "RANGE")),
            projection_type=dynamodb.ProjectionType.ALL,
        )
    return created
