"""The buckets: tenant exports and tenant branding assets, plus the access-log bucket they log to.

Objects of a tenant live under ``tenants/<tenant uuid>/`` (chalicelib/store/keys.py
``tenant_object_key``): the tenant data-access role is confined to that prefix.
"""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from platform_infra.nag import acknowledge
from platform_infra.stages import StageSettings

TENANT_PREFIX = "tenants/"


def _removal(settings: StageSettings) -> RemovalPolicy:
    # No auto-delete custom resource (a Lambda of its own): deleting a dev stack deletes
    # its buckets only once they are empty.
    return RemovalPolicy.RETAIN if settings.protect_data else RemovalPolicy.DESTROY


def access_log_bucket(scope: Construct, settings: StageSettings) -> s3.Bucket:
    bucket = s3.Bucket(
        scope, "AccessLogs",
        # S3 server access logs can only be delivered to a bucket encrypted with SSE-S3.
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(365),
                                          abort_incomplete_multipart_upload_after=Duration.days(1))],
        removal_policy=_removal(settings),
    )
    acknowledge(bucket, "AwsSolutions-S1", "This is the access-log bucket itself; logging it into itself would loop.")
    return bucket


def tenant_bucket(scope: Construct, construct_id: str, *, key: kms.IKey, settings: StageSettings,
                  logs: s3.IBucket, lifecycle: list[s3.LifecycleRule], versioned: bool = False) -> s3.Bucket:
    return s3.Bucket(
        scope, construct_id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        # One KMS data key per bucket and day instead of one call per object.
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=versioned,
        server_access_logs_bucket=logs,
        server_access_logs_prefix=f"{construct_id.lower()}/",
        lifecycle_rules=[
            s3.LifecycleRule(id="abort-incomplete-multipart-uploads",
                             abort_incomplete_multipart_upload_after=Duration.days(settings.incomplete_upload_days)),
            *lifecycle,
        ],
        removal_policy=_removal(settings),
    )


def assets_lifecycle(settings: StageSettings) -> list[s3.LifecycleRule]:
    """Assets are versioned (an overwritten or deleted logo can be restored); old versions
    and the delete markers they leave expire."""
    return [s3.LifecycleRule(id="expire-noncurrent-assets",
                             noncurrent_version_expiration=Duration.days(settings.asset_noncurrent_days),
                             expired_object_delete_marker=True)]


def exports_lifecycle(settings: StageSettings) -> list[s3.LifecycleRule]:
    """Exports expire: a tenant's export is a copy of its data, kept only for download.

    The bucket holds nothing else, and a lifecycle prefix cannot name tenants/*/exports/,
    so the rule covers every tenant's objects.
    """
    return [s3.LifecycleRule(id="expire-exports", prefix=TENANT_PREFIX,
                             expiration=Duration.days(settings.export_retention_days))]
