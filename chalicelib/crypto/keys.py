"""A tenant key's lifecycle in KMS: create, alias, describe, retire.

One symmetric KMS key per tenant, created at provisioning and at each manual rotation:
tagged ``tenant_id`` (so IAM conditions and cost reports can name the tenant), with
KMS's automatic yearly rotation enabled, on a stage with a DR region (``DR_REGION``) a
multi-Region key replicated there (same key material: PII sealed here opens there), and the alias
``alias/<app>/<stage>/tenant/<uuid>`` pointing at the current one. A key is never
deleted outright: retiring schedules deletion after a waiting period, during which an
operator can cancel it.

Every KMS call goes through :func:`_kms`, which turns throttling and outages into a
503 with ``Retry-After``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from botocore.exceptions import ClientError

from chalicelib import aws
from chalicelib.crypto.errors import KeyServiceUnavailableError, is_transient
from chalicelib.crypto.key_policy import tenant_key_policy
from chalicelib.errors import ConflictError
from chalicelib.settings import get_settings

TAG_TENANT = "tenant_id"
# A key retired after a rotation waits the longest KMS allows: any copy of data still
# under it (a backup, an export) can be recovered by cancelling the deletion.
RETIRED_KEY_WAITING_DAYS = 30
# A key that never protected anything (its tenant insert failed) waits the shortest.
UNUSED_KEY_WAITING_DAYS = 7

log = logging.getLogger("crypto.keys")
T = TypeVar("T")


def tenant_key_alias(tenant_id: UUID) -> str:
    settings = get_settings()
    return f"alias/{settings.app_name}/{settings.stage}/tenant/{tenant_id}"


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if is_transient(exc):
            raise KeyServiceUnavailableError() from exc
        raise


def _kms(call: Callable[..., T], **params: Any) -> T:
    with _translated():
        return call(**params)


def _client() -> Any:
    return aws.client("kms")


def key_id(arn: str) -> str:
    """The key id of a key ARN. KMS accepts either; moto only the id in some operations."""
    return arn.rsplit("/", 1)[-1]


def create_tenant_key(tenant_id: UUID, *, alias: bool) -> str:
    """A new enabled key of the tenant, rotation on; its ARN. With ``alias``, the alias too.

    Either everything is done or the new key is scheduled for deletion and the error
    raised: no enabled key is left behind by a failure half-way.
    """
    kms = _client()
    settings = get_settings()
    # Only the tenant's own role sessions may use it (crypto/key_policy.py); without a tenant
    # role (the local stage's "shared" credentials) KMS's default policy applies.
    policy = {} if settings.tenant_data_role_arn is None else {"Policy": tenant_key_policy(
        tenant_id, tenant_role_arn=settings.tenant_data_role_arn, exports_bucket=settings.exports_bucket,
        region=settings.region)}
    dr_region = settings.dr_region
    tags = [{"TagKey": TAG_TENANT, "TagValue": str(tenant_id)}]
    created = _kms(kms.create_key, Description=f"tenant {tenant_id} data key",
                   KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT", Tags=tags,
                   MultiRegion=dr_region is not None, **policy)
    arn = str(created["KeyMetadata"]["Arn"])
    try:
        _kms(kms.enable_key_rotation, KeyId=key_id(arn))
        if alias:
            _create_alias(tenant_id, arn)
        if dr_region is not None:
            _replicate(tenant_id, arn, dr_region, tags, alias=alias)
    except BaseException:
        discard_key(arn, tenant_id=None)
        raise
    return arn


def _replicate(tenant_id: UUID, arn: str, region: str, tags: list[dict[str, str]], *, alias: bool) -> None:
    """The key's replica in the DR region (same key id and material; rotation follows the
    primary's), with the tenant's alias there too so a failed-over stage finds it. A replica
    does not inherit its primary's key policy: it gets the tenant's own, for its region."""
    settings = get_settings()
    policy = {} if settings.tenant_data_role_arn is None else {"Policy": tenant_key_policy(
        tenant_id, tenant_role_arn=settings.tenant_data_role_arn, exports_bucket=settings.exports_bucket,
        region=region)}
    _kms(_client().replicate_key, KeyId=key_id(arn), ReplicaRegion=region, Tags=tags,
         Description=f"tenant {tenant_id} data key (replica)", **policy)
    if not alias:
        return
    dr_kms = aws.client("kms", region)
    try:
        _kms(dr_kms.create_alias, AliasName=tenant_key_alias(tenant_id), TargetKeyId=key_id(arn))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "AlreadyExistsException":
            raise
        # Already there: fine if it names this key (a retried creation), a conflict otherwise.
        named = _kms(dr_kms.describe_key, KeyId=tenant_key_alias(tenant_id))["KeyMetadata"]["KeyId"]
        if named != key_id(arn):
            raise ConflictError("a tenant with this id already has a key in the DR region",
                                extra={"conflict": "id_taken"}) from exc


def replica_arn(arn: str, region: str) -> str:
    """The ARN of a multi-Region key's replica in ``region``: the same, but for the region."""
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)


def _create_alias(tenant_id: UUID, arn: str) -> None:
    kms = _client()
    try:
        _kms(kms.create_alias, AliasName=tenant_key_alias(tenant_id), TargetKeyId=key_id(arn))
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "AlreadyExistsException":
            # The alias names another key of this id: never move it from here, or a
            # failed insert would leave an existing tenant's alias on a deleted key.
            raise ConflictError("a tenant with this id already has a key", extra={"conflict": "id_taken"}) from exc
        raise


def point_alias(tenant_id: UUID, arn: str) -> None:
    """Make the tenant's alias name ``arn`` (idempotent), and in the DR region its replica:
    aliases are per region, and a failed-over stage finds the tenant's key by alias
    (docs/runbook-backup-and-dr.md). A key made before the stage had a DR region has no replica."""
    _point(_client(), tenant_id, arn)
    dr_region = get_settings().dr_region
    if dr_region is not None and key_id(arn).startswith("mrk-"):
        _point(aws.client("kms", dr_region), tenant_id, arn)


def _point(kms: Any, tenant_id: UUID, arn: str) -> None:
    try:
        _kms(kms.update_alias, AliasName=tenant_key_alias(tenant_id), TargetKeyId=key_id(arn))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NotFoundException":
            raise
        _kms(kms.create_alias, AliasName=tenant_key_alias(tenant_id), TargetKeyId=key_id(arn))


def schedule_deletion(arn: str, waiting_days: int) -> None:
    """Schedule ``arn`` for deletion, and first its DR replica (KMS deletes a multi-Region
    primary only once its replicas are gone); a key already pending deletion, or a key
    made before the stage had a DR region (no replica), is left as it is."""
    dr_region = get_settings().dr_region
    if dr_region is not None and key_id(arn).startswith("mrk-"):
        # The replica has the primary's key id; in its region the id names the replica.
        _schedule(aws.client("kms", dr_region), key_id(arn), waiting_days, ("NotFoundException",))
    _schedule(_client(), key_id(arn), waiting_days, ())


def _schedule(kms: Any, key: str, waiting_days: int, also_ignored: tuple[str, ...]) -> None:
    try:
        _kms(kms.schedule_key_deletion, KeyId=key, PendingWindowInDays=waiting_days)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("KMSInvalidStateException", *also_ignored):
            raise


def discard_key(arn: str, *, tenant_id: UUID | None) -> None:
    """Undo a key nothing was sealed with: drop the tenant's alias, schedule the key's deletion.

    Best effort with a fallback: if scheduling fails, the key is at least disabled. A
    failure is logged, not raised, so the caller's original error is the one reported.
    """
    kms = _client()
    try:
        if tenant_id is not None:
            try:
                kms.delete_alias(AliasName=tenant_key_alias(tenant_id))
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NotFoundException":
                    raise
        schedule_deletion(arn, UNUSED_KEY_WAITING_DAYS)
    except Exception:
        log.exception("could not schedule an unused tenant key for deletion; disabling it")
        try:
            kms.disable_key(KeyId=key_id(arn))
        except Exception:
            log.exception("could not disable an unused tenant key: it must be removed by hand",
                          extra={"fields": {"key_arn": arn}})


@dataclass(frozen=True)
class KeyState:
    arn: str
    state: str
    rotation_enabled: bool
    deletion_date: str | None


def describe(arn: str) -> KeyState:
    kms = _client()
    metadata = _kms(kms.describe_key, KeyId=key_id(arn))["KeyMetadata"]
    state = str(metadata["KeyState"])
    rotation = False
    if state not in ("PendingDeletion", "PendingReplicaDeletion"):
        rotation = bool(_kms(kms.get_key_rotation_status, KeyId=key_id(arn)).get("KeyRotationEnabled"))
    deletion = metadata.get("DeletionDate")
    return KeyState(arn, state, rotation, deletion.isoformat() if deletion is not None else None)
