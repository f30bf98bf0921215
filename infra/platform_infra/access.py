"""IAM: the tenant data-access role, and the statement builders the functions' roles share.

Each function has its own role (function_roles.py), granted what its code paths call.
Platform-scope grants reach the registry, the queues, mail, the management of tenant
keys, and the usage plans and tenant API keys. On the data table a function's role
may only put items in a tenant's ``AUDIT``, ``AUDITDIGEST``, ``PROV``, ``USAGE``,
``BRANDVER`` and ``BRAND`` partitions: the registry+data transactions
(a tenant's creation and changes with their audit events, chaining and retention moving
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
* the platform key only through DynamoDB (the data table's encryption) and S3 (the
  buckets' default encryption).

A tenant's own KMS key is not granted here: its key policy names this role, for a
session tagged with that tenant only (chalicelib/crypto/key_policy.py), and KMS needs no
IAM permission beside a key policy that names the principal. An IAM grant on keys
"tagged ``tenant_id`` = the session's tenant" would trust the tag alone, and tagging a
key at creation needs kms:TagResource on every key of the account: a key of the account
tagged so (by mistake, or by the role that creates tenant keys) would have opened to
that tenant's sessions.
"""
from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from chalicelib.store import keys

TENANT_TAG = "tenant_id"
SESSION_TENANT = "${aws:PrincipalTag/" + TENANT_TAG + "}"
# chalicelib/store/keys.py tenant_prefix: "T#<tenant uuid>#".
LEADING_KEYS_PATTERN = f"T#{SESSION_TENANT}#*"
TENANT_OBJECT_PREFIX = f"tenants/{SESSION_TENANT}/"
# Data-table partitions the platform's own transactions write (any tenant's): the app's
# list (audit events, chained digests, provisioning request, zero usage counters, branding
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
            # The data table is encrypted with the platform key: DynamoDB uses it with the caller's permissions.
            sid="TableEncryptionThroughDynamoDB",
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
                     "kms:ReEncryptFrom", "kms:ReEncryptTo"],
            resources=[platform_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},
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


def tenant_role(scope: Construct, *, assumed_by: Sequence[iam.IRole], policy: iam.PolicyDocument) -> iam.Role:
    """Trusted only by the roles of the functions that assume it, with one tenant_id tag.

    Role chaining (a Lambda role's session assuming this role) caps its sessions at one
    hour whatever MaxSessionDuration says: chalicelib/settings.py bounds
    TENANT_CREDENTIALS_SECONDS to that.
    """
    if not assumed_by:
        raise ValueError("no function assumes the tenant role")
    # Session tags need sts:TagSession in the trust policy beside sts:AssumeRole.
    principals = [iam.ArnPrincipal(role.role_arn).with_conditions(tenant_session_condition()).with_session_tags()
                  for role in assumed_by]
    return iam.Role(
        scope, "TenantDataRole",
        description="Tenant-scoped data access, assumed by the platform functions with a tenant_id session tag",
        assumed_by=iam.CompositePrincipal(*principals) if len(principals) > 1 else principals[0],
        max_session_duration=Duration.hours(1),
        inline_policies={"TenantData": policy},
    )


def api_gateway_arn(path: str) -> str:
    return f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::{path}"


def usage_plan_statements() -> list[iam.PolicyStatement]:
    """Tenant API keys, managed by the app (chalicelib/ratelimit/usage_plans.py) on the stack's usage plans.

    API Gateway's IAM actions are HTTP verbs on resource paths: list the usage plans, list,
    create and delete keys, attach and detach a key, tag on creation. No ``POST`` on
    ``/usageplans`` or ``PATCH``/``DELETE`` on ``/usageplans/*``: the usage plans are
    CloudFormation's, and the app must not change them.
    """
    return [
        iam.PolicyStatement(sid="UsagePlansAndKeys", actions=["apigateway:GET"],
                            resources=[api_gateway_arn("/usageplans")]),
        iam.PolicyStatement(sid="ApiKeys", actions=["apigateway:GET", "apigateway:POST"],
                            resources=[api_gateway_arn("/apikeys")]),
        iam.PolicyStatement(sid="ApiKeyDeletion", actions=["apigateway:DELETE"],
                            resources=[api_gateway_arn("/apikeys/*")]),
        iam.PolicyStatement(sid="UsagePlanKeys", actions=["apigateway:GET", "apigateway:POST", "apigateway:DELETE"],
                            resources=[api_gateway_arn("/usageplans/*/keys"), api_gateway_arn("/usageplans/*/keys/*")]),
        iam.PolicyStatement(sid="TagOnCreation", actions=["apigateway:PUT"],
                            resources=[api_gateway_arn("/tags/*")]),
    ]


def custom_domain_statements() -> list[iam.PolicyStatement]:
    """Tenants' custom domains (chalicelib/domains): ACM certificates the app requests, each
    tagged with its tenant, and the API Gateway domain names and root mappings made with them.

    A certificate may be requested only with the tenant tag (``aws:RequestTag``; ACM asks for
    ``acm:AddTagsToCertificate`` too when a request carries tags), and described or deleted
    only when it carries one (``aws:ResourceTag``): the stage's other certificates (the
    platform domain's, infra's) stay out of reach. API Gateway's IAM resources are paths:
    the domain names and their mappings, the REST API list (the app finds its API by name;
    its id in the functions' environment would be a CloudFormation cycle), tags on creation.
    """
    tagged = {"Null": {f"aws:RequestTag/{TENANT_TAG}": "false"},
              "ForAllValues:StringEquals": {"aws:TagKeys": [TENANT_TAG]}}
    certificates = f"arn:{Aws.PARTITION}:acm:{Aws.REGION}:{Aws.ACCOUNT_ID}:certificate/*"
    return [
        iam.PolicyStatement(sid="RequestTenantCertificates", actions=["acm:RequestCertificate"], resources=["*"],
                            conditions=tagged),
        iam.PolicyStatement(sid="TagTenantCertificates", actions=["acm:AddTagsToCertificate"],
                            resources=[certificates], conditions=tagged),
        iam.PolicyStatement(sid="TenantCertificates", actions=["acm:DescribeCertificate", "acm:DeleteCertificate"],
                            resources=[certificates], conditions={"Null": {f"aws:ResourceTag/{TENANT_TAG}": "false"}}),
        iam.PolicyStatement(sid="CreateDomainNames", actions=["apigateway:POST"],
                            resources=[api_gateway_arn("/domainnames"),
                                       api_gateway_arn("/domainnames/*/basepathmappings")]),
        iam.PolicyStatement(sid="DomainNames", actions=["apigateway:GET", "apigateway:DELETE"],
                            resources=[api_gateway_arn("/domainnames/*"),
                                       api_gateway_arn("/domainnames/*/basepathmappings/*")]),
        iam.PolicyStatement(sid="FindRestApi", actions=["apigateway:GET"], resources=[api_gateway_arn("/restapis")]),
        iam.PolicyStatement(sid="TagDomainNamesOnCreation", actions=["apigateway:PUT"],
                            resources=[api_gateway_arn("/tags/*")]),
    ]
