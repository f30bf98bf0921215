"""IAM: the functions' role and the tenant data-access role they assume per tenant.

The functions' role (platform scope) reaches the registry, the queues, mail, the
management of tenant keys, and the usage plans and tenant API keys. On the data table
it may only put items in a tenant's ``AUDIT``, ``AUDITDIGEST``, ``PROV``, ``USAGE``,
``BRANDVER`` and ``BRAND`` partitions: the registry+data transactions
(a tenant's creation and changes with their audit events, sealing and retention moving
the trail's anchor) must be signed by one principal, and the tenant role never reaches
the registry (chalicelib/store/connection.py ``PLATFORM_WRITABLE_KINDS``). It has no wildcard action and no ``Scan``.

Tenant-bound work runs under the tenant data-access role, assumed with the session tag
``tenant_id`` (chalicelib/tenancy/credentials.py). Its policy admits only:

* data-table items (table and each index) whose partition key starts
  ``T#<tenant>#``: every partition key of the data table, the index partition keys
  ``gsi1pk``..``gsi3pk`` included, is built by chalicelib/store/keys.py
  ``data_partition`` with that prefix, so one ``dynamodb:LeadingKeys`` pattern covers
  a Query on the table and on any index. IAM checks a written item's table key, not
  the index keys it carries: that an item's ``gsi*pk`` is its own tenant's is enforced
  by the guard (chalicelib/store/guard.py), not by this policy;
* objects under ``tenants/<tenant>/`` (chalicelib/store/keys.py ``tenant_object_key``);
* cryptographic use of KMS keys tagged ``tenant_id`` = the session's tenant
  (chalicelib/crypto/keys.py tags every tenant key so), and of the platform key only
  through S3 (the buckets' default encryption).
"""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.store import keys

TENANT_TAG = "tenant_id"
SESSION_TENANT = "${aws:PrincipalTag/" + TENANT_TAG + "}"
# chalicelib/store/keys.py tenant_prefix: "T#<tenant uuid>#".
LEADING_KEYS_PATTERN = f"T#{SESSION_TENANT}#*"
TENANT_OBJECT_PREFIX = f"tenants/{SESSION_TENANT}/"
# Data-table partitions the platform's own transactions write (any tenant's): the app's
# list (audit events, sealed digests, provisioning request, zero usage counters, branding
# versions), plus the branding pointer a super-admin's rename replaces (conditionally).
PLATFORM_WRITABLE_KINDS = (*keys.PLATFORM_WRITABLE_KINDS, keys.BRANDING)

# Item-level actions only. No Scan (it reads every tenant's partitions), no PartiQL,
# no table management. Transactions have no IAM action of their own: each item of a
# TransactWriteItems / TransactGetItems is authorized as its Put/Update/Delete/
# ConditionCheck/Get action, under the same LeadingKeys condition.
ITEM_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
# The Encryption SDK: GenerateDataKey to seal, Encrypt for each additional key of a
# multi-key message (during a rotation), Decrypt to open; DescribeKey for the provider.
TENANT_KEY_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
OBJECT_ACTIONS = (
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
)


def table_and_index_arns(table: dynamodb.Table, index_names: Sequence[str]) -> list[str]:
    """The table's ARN and each index's ARN, named one by one (no ``index/*``)."""
    return [table.table_arn, *(f"{table.table_arn}/index/{name}" for name in index_names)]


def key_arn_pattern() -> str:
    return f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:key/*"


def tenant_data_policy(*, data_table: dynamodb.Table, data_indexes: Sequence[str],
                       buckets: Sequence[s3.IBucket], platform_key: kms.IKey) -> iam.PolicyDocument:
    region = Stack.of(data_table).region
    statements = [
        iam.PolicyStatement(
            sid="TenantItems",
            actions=list(ITEM_ACTIONS),
            resources=table_and_index_arns(data_table, data_indexes),
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [LEADING_KEYS_PATTERN]}},
        ),
        iam.PolicyStatement(
            sid="TenantObjects",
            actions=list(OBJECT_ACTIONS),
            resources=[bucket.arn_for_objects(f"{TENANT_OBJECT_PREFIX}*") for bucket in buckets],
        ),
        iam.PolicyStatement(
            sid="TenantObjectListing",
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn for bucket in buckets],
            conditions={"StringLike": {"s3:prefix": [f"{TENANT_OBJECT_PREFIX}*"]}},
        ),
        iam.PolicyStatement(
            sid="TenantKeys",
            actions=list(TENANT_KEY_ACTIONS),
            resources=[key_arn_pattern()],
            conditions={"StringEquals": {f"aws:ResourceTag/{TENANT_TAG}": SESSION_TENANT}},
        ),
        iam.PolicyStatement(
            sid="BucketEncryptionThroughS3",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[platform_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        ),
    ]
    return iam.PolicyDocument(statements=statements)


def tenant_session_condition() -> dict[str, dict[str, object]]:
    """An AssumeRole/TagSession request must carry a ``tenant_id`` tag and no other tag."""
    return {
        "Null": {f"aws:RequestTag/{TENANT_TAG}": "false"},
        "ForAllValues:StringEquals": {"aws:TagKeys": [TENANT_TAG]},
    }


def tenant_role(scope: Construct, *, assumed_by: iam.IRole, policy: iam.PolicyDocument) -> iam.Role:
    # Session tags need sts:TagSession in the trust policy beside sts:AssumeRole.
    trusted = iam.ArnPrincipal(assumed_by.role_arn).with_conditions(tenant_session_condition()).with_session_tags()
    return iam.Role(
        scope, "TenantDataRole",
        description="Tenant-scoped data access, assumed by the platform functions with a tenant_id session tag",
        assumed_by=trusted,
        inline_policies={"TenantData": policy},
    )


def function_role(scope: Construct) -> iam.Role:
    return iam.Role(
        scope, "FunctionRole",
        description="The platform's Lambda functions (API, workers, schedules)",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
    )


def api_gateway_arn(path: str) -> str:
    return f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::{path}"


def usage_plan_statements() -> list[iam.PolicyStatement]:
    """Usage plans and tenant API keys, managed by the app (chalicelib/ratelimit/usage_plans.py).

    API Gateway's IAM actions are HTTP verbs on resource paths: list and create plans and
    keys, update a plan, attach and detach a key, read a key's usage, tag on creation.
    """
    return [
        iam.PolicyStatement(sid="UsagePlansAndKeys", actions=["apigateway:GET", "apigateway:POST"],
                            resources=[api_gateway_arn("/usageplans"), api_gateway_arn("/apikeys")]),
        iam.PolicyStatement(sid="UsagePlanChanges", actions=["apigateway:GET", "apigateway:PATCH"],
                            resources=[api_gateway_arn("/usageplans/*")]),
        iam.PolicyStatement(sid="UsagePlanKeys", actions=["apigateway:POST", "apigateway:DELETE"],
                            resources=[api_gateway_arn("/usageplans/*/keys"), api_gateway_arn("/usageplans/*/keys/*")]),
        iam.PolicyStatement(sid="TagOnCreation", actions=["apigateway:PUT"],
                            resources=[api_gateway_arn("/tags/*")]),
    ]


def function_statements(*, tenant_role_arn: str, registry: dynamodb.Table, registry_indexes: Sequence[str],
                        data_table: dynamodb.Table,
                        producer_queues: Sequence[sqs.IQueue], consumer_queues: Sequence[sqs.IQueue],
                        platform_key: kms.IKey, log_group_arns: Sequence[str], sender_identities: Sequence[str],
                        tenant_key_alias_prefix: str) -> list[iam.PolicyStatement]:
    region = Stack.of(registry).region
    alias_arn = f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:alias/{tenant_key_alias_prefix}*"
    tenant_keys = {"Null": {f"aws:ResourceTag/{TENANT_TAG}": "false"}}
    return [
        iam.PolicyStatement(sid="Logs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=list(log_group_arns)),
        iam.PolicyStatement(sid="AssumeTenantRole", actions=["sts:AssumeRole", "sts:TagSession"],
                            resources=[tenant_role_arn], conditions=tenant_session_condition()),
        iam.PolicyStatement(sid="RegistryItems", actions=list(ITEM_ACTIONS),
                            resources=table_and_index_arns(registry, registry_indexes)),
        iam.PolicyStatement(sid="PlatformTrailItems", actions=["dynamodb:PutItem"], resources=[data_table.table_arn],
                            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
                                f"T#*#{kind}" for kind in PLATFORM_WRITABLE_KINDS]}}),
        iam.PolicyStatement(sid="SendMessages", actions=["sqs:GetQueueUrl", "sqs:SendMessage"],
                            resources=[q.queue_arn for q in producer_queues]),
        iam.PolicyStatement(sid="ConsumeMessages",
                            actions=["sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
                                     "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                            resources=[q.queue_arn for q in consumer_queues]),
        iam.PolicyStatement(sid="QueueEncryption", actions=["kms:Decrypt", "kms:GenerateDataKey"],
                            resources=[platform_key.key_arn],
                            conditions={"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}}),
        iam.PolicyStatement(sid="SendPlatformMail", actions=["ses:SendEmail"], resources=list(sender_identities)),
        # Tenant keys: created only with the tenant_id tag and no other (chalicelib/crypto/keys.py).
        # Tagging at creation needs kms:TagResource on every key; it is refused on a key that
        # already carries a tenant_id (re-tagging would hand one tenant's key to another)...
        iam.PolicyStatement(sid="CreateTenantKeys", actions=["kms:CreateKey", "kms:TagResource"], resources=["*"],
                            conditions={"Null": {f"aws:RequestTag/{TENANT_TAG}": "false",
                                                 f"aws:ResourceTag/{TENANT_TAG}": "true"},
                                        "ForAllValues:StringEquals": {"aws:TagKeys": [TENANT_TAG]}}),
        # ...and on the platform key (tagging it would open it to a tenant's role).
        iam.PolicyStatement(sid="NeverTagThePlatformKey", effect=iam.Effect.DENY,
                            actions=["kms:TagResource", "kms:UntagResource"], resources=[platform_key.key_arn]),
        iam.PolicyStatement(sid="ManageTenantKeys",
                            actions=["kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
                                     "kms:EnableKeyRotation", "kms:GetKeyRotationStatus",
                                     "kms:ScheduleKeyDeletion", "kms:UpdateAlias"],
                            resources=[key_arn_pattern()], conditions=tenant_keys),
        iam.PolicyStatement(sid="TenantKeyAliases", actions=["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                            resources=[alias_arn]),
        *usage_plan_statements(),
    ]
