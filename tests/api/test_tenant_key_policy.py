"""A tenant's KMS key admits, for cryptography, only that tenant's sessions of the tenant role.

KMS's default key policy delegates to IAM: any principal of the account whose IAM policy
allows ``kms:Decrypt`` on ``*`` could use every tenant's key. The policy the app gives a
tenant key at creation is evaluated here (tests/infra/iam_eval.py) as KMS would.
"""
from __future__ import annotations

import json
import uuid

import boto3

from tests.infra.iam_eval import Request, allowed_with_resource_policy

ACCOUNT = "123456789012"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/AnyOtherRole"
# An IAM policy as broad as an account's admin roles have: it must not be enough.
BROAD_IAM = [{"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}]


def _policy(key_arn: str) -> dict:
    kms = boto3.client("kms", region_name="us-east-1")
    return json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])


def _use(action: str, key: str, principal: str, tenant: str, context_tenant: str, **extra: str) -> Request:
    return Request(action, key, principal, {"aws:PrincipalTag/tenant_id": tenant, "aws:PrincipalArn": principal,
                                            "kms:EncryptionContext:tenant_id": context_tenant,
                                            "kms:EncryptionContextKeys": ["tenant_id", "kind"], **extra})


def test_only_the_tenants_own_sessions_may_use_its_key(tenant_a, app_env):
    key, role, tenant = tenant_a.kms_key_arn, app_env["TENANT_DATA_ROLE_ARN"], str(tenant_a.id)
    policy = _policy(key)
    other = str(uuid.uuid4())

    for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"):
        assert allowed_with_resource_policy([], policy, _use(action, key, role, tenant, tenant)), action
        # another tenant's session of the same role, even with this tenant's context
        assert not allowed_with_resource_policy(BROAD_IAM, policy, _use(action, key, role, other, tenant)), action
        # the right session, a context naming another tenant
        assert not allowed_with_resource_policy(BROAD_IAM, policy, _use(action, key, role, tenant, other)), action
        # any other principal of the account, whatever its IAM policy says
        assert not allowed_with_resource_policy(BROAD_IAM, policy, _use(action, key, OTHER_ROLE, tenant, tenant)), action


def test_the_platform_keeps_administering_the_key_through_iam(tenant_a, app_env):
    key = tenant_a.kms_key_arn
    policy = _policy(key)
    admin = [{"Statement": [{"Effect": "Allow", "Action": ["kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"],
                             "Resource": "*"}]}]

    for action in ("kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"):
        assert allowed_with_resource_policy(admin, policy, Request(action, key, OTHER_ROLE, {}))
    assert not allowed_with_resource_policy([], policy, Request("kms:ScheduleKeyDeletion", key, OTHER_ROLE, {}))


def test_exports_encrypted_by_s3_under_the_key_stay_under_the_tenants_prefix(tenant_a, app_env):
    key, role, tenant = tenant_a.kms_key_arn, app_env["TENANT_DATA_ROLE_ARN"], str(tenant_a.id)
    policy = _policy(key)
    bucket = app_env["EXPORTS_BUCKET"]

    def via_s3(object_key: str) -> Request:
        return Request("kms:GenerateDataKey", key, role, {
            "aws:PrincipalTag/tenant_id": tenant, "kms:ViaService": "s3.us-east-1.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}/{object_key}"})

    assert allowed_with_resource_policy([], policy, via_s3(f"tenants/{tenant}/exports/x.jsonl"))
    # With S3 Bucket Keys (infra enables them) the context is the bucket's ARN.
    bucket_key = via_s3("x")
    bucket_key = Request(bucket_key.action, key, role, {**bucket_key.context,
                                                         "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}"})
    assert allowed_with_resource_policy([], policy, bucket_key)
    assert not allowed_with_resource_policy(BROAD_IAM, policy, via_s3(f"tenants/{uuid.uuid4()}/exports/x.jsonl"))
