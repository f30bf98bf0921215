"""The key policy of a tenant's KMS key: cryptography for that tenant's sessions only.

KMS's default key policy names the account, which delegates to IAM: any principal whose
IAM policy allows ``kms:Decrypt`` on ``*`` (an administrator, a CI role) could decrypt
every tenant's data. A tenant key instead gets, at creation:

* key administration for the account through IAM (the functions' roles manage tenant
  keys with their own policies; ``kms:PutKeyPolicy`` also satisfies KMS's lockout check),
  and no cryptographic action that way;
* cryptographic use by the tenant data-access role only in a session tagged with this
  tenant (``aws:PrincipalTag/tenant_id``) and with this tenant in the encryption context
  the Encryption SDK sends (crypto/pii.py ``encryption_context``);
* the same role through S3 (exports are SSE-KMS under the tenant's key), only in the
  exports bucket: S3's encryption context is the bucket's ARN when the bucket uses S3
  Bucket Keys (infra enables them), the object's ARN otherwise, then under the tenant's
  own prefix.
"""
from __future__ import annotations

import json
from uuid import UUID

from chalicelib.store.keys import tenant_object_key

TAG_TENANT = "tenant_id"
# kms:ReplicateKey: KMS requires it of the primary's key policy (crypto/keys.py replicates
# a tenant's key to the DR region); IAM then names the one role that replicates.
ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
    "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ReplicateKey", "kms:ScheduleKeyDeletion", "kms:UpdateAlias",
)
CRYPTO_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")


def account_of(role_arn: str) -> str:
    return role_arn.split(":")[4]


def tenant_key_policy(tenant_id: UUID, *, tenant_role_arn: str, exports_bucket: str, region: str,
                      partition: str = "aws") -> str:
    tenant = str(tenant_id)
    root = f"arn:{partition}:iam::{account_of(tenant_role_arn)}:root"
    session = {"aws:PrincipalTag/" + TAG_TENANT: tenant}
    bucket = f"arn:{partition}:s3:::{exports_bucket}"
    objects = f"{bucket}/{tenant_object_key(tenant_id, '*')}"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministrationThroughIam", "Effect": "Allow", "Principal": {"AWS": root},
         "Action": list(ADMIN_ACTIONS), "Resource": "*"},
        {"Sid": "TenantSessionsDescribe", "Effect": "Allow", "Principal": {"AWS": tenant_role_arn},
         "Action": "kms:DescribeKey", "Resource": "*", "Condition": {"StringEquals": session}},
        {"Sid": "TenantSessionsSealAndOpen", "Effect": "Allow", "Principal": {"AWS": tenant_role_arn},
         "Action": list(CRYPTO_ACTIONS), "Resource": "*",
         "Condition": {"StringEquals": {**session, "kms:EncryptionContext:" + TAG_TENANT: tenant}}},
        {"Sid": "TenantExportsThroughS3", "Effect": "Allow", "Principal": {"AWS": tenant_role_arn},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
         "Condition": {"StringEquals": {**session, "kms:ViaService": f"s3.{region}.amazonaws.com"},
                       "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket, objects]}}},
    ]})
