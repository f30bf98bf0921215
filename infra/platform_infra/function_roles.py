"""One IAM role per Lambda function, granted what that function's calls need and nothing else.

``function_access.json`` (beside this module) names, per function, the grants its code
paths need. It is generated from the AWS calls the tests record in each function
(tests/infra/function_access.py), and tests/infra/test_contract.py evaluates every
recorded call against the role built here, so a role cannot drift from its code.

Every grant on a resource that a customer-managed key encrypts carries the KMS use of
that key through the service (``kms:ViaService``): DynamoDB, SQS and S3 call KMS with
the caller's permissions. A function consuming a queue (its event source mapping, which
Lambda runs with the function's role) gets the consumer actions on that queue.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from platform_infra.access import (
    ITEM_ACTIONS,
    PLATFORM_WRITABLE_KINDS,
    TENANT_TAG,
    api_gateway_arn,
    custom_domain_statements,
    key_arn_pattern,
    table_and_index_arns,
    tenant_session_condition,
    usage_plan_statements,
)

MANIFEST = Path(__file__).with_name("function_access.json")
READ_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:Query")
WRITE_ACTIONS = tuple(a for a in ITEM_ACTIONS if a not in READ_ACTIONS) + ("dynamodb:ConditionCheckItem",)
# What DynamoDB asks KMS for with the caller's permissions on a table under a customer key
# (the actions CDK's grantReadData / grantReadWriteData add, spelled out: no wildcard action).
KEY_READ_THROUGH_SERVICE = ("kms:Decrypt",)
KEY_WRITE_THROUGH_SERVICE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
                             "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo")
QUEUE_CONSUMER_ACTIONS = ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                          "sqs:ReceiveMessage")


def function_grants() -> dict[str, list[str]]:
    """Function name -> its grants, as generated from the recorded calls."""
    return json.loads(MANIFEST.read_text())


@dataclass(frozen=True)
class Targets:
    """What the grants name: the stack's resources."""

    registry: dynamodb.Table
    registry_indexes: Sequence[str]
    data_table: dynamodb.Table
    queues: Mapping[str, sqs.IQueue]
    queue_keys: Mapping[str, kms.IKey]
    tenant_role_arn: str
    sender_identities: Sequence[str]
    tenant_key_alias_prefix: str
    # The stage's DR region (tenant keys' replicas), or None: then no replica grant is given.
    dr_region: str | None = None


def through(service: str, key: kms.IKey, actions: Sequence[str], sid: str) -> iam.PolicyStatement:
    region = Stack.of(key).region
    return iam.PolicyStatement(sid=sid, actions=list(actions), resources=[key.key_arn],
                               conditions={"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}})


def table_key_statements(table: dynamodb.Table, *, write: bool, sid: str) -> list[iam.PolicyStatement]:
    key = table.encryption_key
    if key is None:
        return []
    return [through("dynamodb", key, KEY_WRITE_THROUGH_SERVICE if write else KEY_READ_THROUGH_SERVICE, sid)]


def _sid(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace(":", "-").replace("_", "-").split("-") if part)


def grant_statements(grant: str, t: Targets) -> list[iam.PolicyStatement]:
    """The statements of one grant. An unknown grant is an error: the generator met a call
    infra has no statement for (add one here, then regenerate)."""
    if grant == "registry-read":
        return [iam.PolicyStatement(sid="RegistryRead", actions=list(READ_ACTIONS),
                                    resources=table_and_index_arns(t.registry, t.registry_indexes)),
                *table_key_statements(t.registry, write=False, sid="RegistryKeyThroughDynamoDB")]
    if grant == "registry-write":
        return [iam.PolicyStatement(sid="RegistryWrite", actions=list(WRITE_ACTIONS), resources=[t.registry.table_arn]),
                *table_key_statements(t.registry, write=True, sid="RegistryKeyWriteThroughDynamoDB")]
    if grant == "platform-partitions-write":
        return [iam.PolicyStatement(sid="PlatformTrailItems", actions=["dynamodb:PutItem"],
                                    resources=[t.data_table.table_arn],
                                    conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
                                        f"T#*#{kind}" for kind in PLATFORM_WRITABLE_KINDS]}}),
                *table_key_statements(t.data_table, write=True, sid="DataKeyWriteThroughDynamoDB")]
    if grant == "assume-tenant-role":
        return [iam.PolicyStatement(sid="AssumeTenantRole", actions=["sts:AssumeRole", "sts:TagSession"],
                                    resources=[t.tenant_role_arn], conditions=tenant_session_condition())]
    if grant.startswith("send:"):
        name = grant.removeprefix("send:")
        return [iam.PolicyStatement(sid=_sid(f"Send-{name}"), actions=["sqs:GetQueueUrl", "sqs:SendMessage"],
                                    resources=[t.queues[name].queue_arn]),
                through("sqs", t.queue_keys[name], ("kms:Decrypt", "kms:GenerateDataKey"), _sid(f"Key-{name}-Sqs"))]
    if grant == "send-platform-mail":
        return [iam.PolicyStatement(sid="SendPlatformMail", actions=["ses:SendEmail"],
                                    resources=list(t.sender_identities))]
    if grant == "send-tenant-mail":
        # Tenants' email integrations may send through SES from their own verified domains,
        # configured at run time (chalicelib/integrations/providers/email.py).
        return [iam.PolicyStatement(sid="SendTenantMail", actions=["ses:SendEmail"],
                                    resources=[f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}:identity/*"])]
    if grant == "send-platform-sms":
        # SMS to a phone number has no resource ARN ("*"); topics are refused, so only SMS is.
        return [iam.PolicyStatement(sid="SendPlatformSms", actions=["sns:Publish"], resources=["*"]),
                iam.PolicyStatement(sid="NoTopicPublish", effect=iam.Effect.DENY, actions=["sns:Publish"],
                                    resources=[f"arn:{Aws.PARTITION}:sns:*:*:*"])]
    if grant == "create-tenant-keys":
        # Created only with the tenant_id tag and no other (chalicelib/crypto/keys.py); tagging
        # at creation needs kms:TagResource, which a request without that tag may not use.
        return [iam.PolicyStatement(sid="CreateTenantKeys", actions=["kms:CreateKey", "kms:TagResource"],
                                    resources=["*"],
                                    conditions={"Null": {f"aws:RequestTag/{TENANT_TAG}": "false",
                                                         f"aws:ResourceTag/{TENANT_TAG}": "true"},
                                                "ForAllValues:StringEquals": {"aws:TagKeys": [TENANT_TAG]}})]
    if grant == "manage-tenant-keys":
        alias = f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:alias/{t.tenant_key_alias_prefix}*"
        return [iam.PolicyStatement(sid="ManageTenantKeys",
                                    actions=["kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
                                             "kms:EnableKeyRotation", "kms:GetKeyRotationStatus",
                                             "kms:ScheduleKeyDeletion", "kms:UpdateAlias"],
                                    resources=[key_arn_pattern()],
                                    conditions={"Null": {f"aws:ResourceTag/{TENANT_TAG}": "false"}}),
                iam.PolicyStatement(sid="TenantKeyAliases",
                                    actions=["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                                    resources=[alias])]
    if grant == "replicate-tenant-keys":
        if t.dr_region is None:
            return []
        # ReplicateKey on the primary (its key policy delegates it to IAM: crypto/key_policy.py);
        # the replica's kms:CreateKey and kms:TagResource are the create-tenant-keys statement's.
        return [iam.PolicyStatement(sid="ReplicateTenantKeys", actions=["kms:ReplicateKey"],
                                    resources=[f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:key/mrk-*"],
                                    conditions={"Null": {f"aws:ResourceTag/{TENANT_TAG}": "false"},
                                                "StringEquals": {"kms:ReplicaRegion": t.dr_region}})]
    if grant == "manage-tenant-key-replicas":
        if t.dr_region is None:
            return []
        region = t.dr_region
        alias = f"arn:{Aws.PARTITION}:kms:{region}:{Aws.ACCOUNT_ID}:alias/{t.tenant_key_alias_prefix}*"
        return [iam.PolicyStatement(sid="ManageTenantKeyReplicas",
                                    actions=["kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey",
                                             "kms:ScheduleKeyDeletion", "kms:UpdateAlias"],
                                    resources=[f"arn:{Aws.PARTITION}:kms:{region}:{Aws.ACCOUNT_ID}:key/mrk-*"],
                                    conditions={"Null": {f"aws:ResourceTag/{TENANT_TAG}": "false"}}),
                iam.PolicyStatement(sid="TenantKeyReplicaAliases",
                                    actions=["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                                    resources=[alias])]
    if grant == "read-api-keys":
        return [iam.PolicyStatement(sid="ReadApiKeys", actions=["apigateway:GET"],
                                    resources=[api_gateway_arn("/apikeys")])]
    if grant == "usage-plans":
        return usage_plan_statements()
    if grant == "custom-domains":
        return custom_domain_statements()
    raise ValueError(f"no statements for grant {grant!r} (infra/platform_infra/function_roles.py)")


def roles(scope: Construct, functions: Sequence[str]) -> dict[str, iam.Role]:
    """A role per function (``Role<Function>``), trusted by Lambda."""
    return {name: iam.Role(scope, "Role" + _sid(name), description=f"Lambda function {name}",
                           assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
            for name in functions}


def attach(scope: Construct, name: str, role: iam.Role, grants: Sequence[str], targets: Targets, *,
           log_group_arn: str, consumed_queue: str | None,
           failures: tuple[sqs.IQueue, kms.IKey] | None = None) -> iam.Policy:
    """The function's policy. ``failures``: the queue (and its key) where Lambda sends the
    function's failed asynchronous events, with the function's role (serverless.py)."""
    statements = [iam.PolicyStatement(sid="Logs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                      resources=[log_group_arn])]
    for grant in grants:
        statements += grant_statements(grant, targets)
    if consumed_queue is not None:
        statements += [iam.PolicyStatement(sid="ConsumeMessages", actions=list(QUEUE_CONSUMER_ACTIONS),
                                           resources=[targets.queues[consumed_queue].queue_arn]),
                       through("sqs", targets.queue_keys[consumed_queue], ("kms:Decrypt",), "ConsumedQueueKey")]
    if failures is not None:
        queue, key = failures
        statements += [iam.PolicyStatement(sid="SendFailedEvents", actions=["sqs:SendMessage"],
                                           resources=[queue.queue_arn]),
                       through("sqs", key, ("kms:Decrypt", "kms:GenerateDataKey"), "FailedEventsKey")]
    return iam.Policy(scope, "Policy" + _sid(name), roles=[role], statements=statements)
