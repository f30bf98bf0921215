"""Manual key rotation: a new current key for a tenant, then its data re-encrypted under it.

KMS's automatic rotation (enabled on every tenant key) renews key material behind the
same key id, and needs no re-encryption. This is the other kind: a new key, for when a
key must stop being used (suspected exposure, policy). The steps, each resumable:

1. ``start`` (POST .../keys/rotate, 202): create the key (503 if KMS is unavailable, and
   nothing is written), record the rotation (``pending``), make the key the tenant's
   current one in the registry with the old ones kept as ``previous`` (still accepted for
   reads), and send the job. A failure before the switch undoes both; a POST while a
   rotation is unfinished sends its job again instead of starting another.
2. The job (``run``, from SQS): points the alias at the new key, then sweeps every sealed
   partition (``inventory``) page by page, re-sealing what is not under the new key with
   a ciphertext-equality condition (so a concurrent edit wins and is never overwritten),
   checkpointing after each page. It runs within a time budget and re-sends itself.
3. Processes may hold the tenant as it was before the switch for up to the grace period
   (settings.key_rotation_grace_seconds): the sweep that decides completion must start
   after it, so anything they sealed under an old key is found.
4. Retire: the registry forgets the old keys, KMS schedules them for deletion (30 days,
   cancellable), the record says ``complete``.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from pynamodb.exceptions import UpdateError

from chalicelib import aws, clock
from chalicelib.crypto import KEY_ROTATION_QUEUE, keys, pii
from chalicelib.crypto.errors import DataIntegrityError
from chalicelib.errors import ConflictError, InternalError, ServiceUnavailableError
from chalicelib.key_rotation import inventory, record
from chalicelib.key_rotation.record import Checkpoint, RecordChangedError, Rotation, RotationStatus
from chalicelib.settings import get_settings
from chalicelib.store import data, registry
from chalicelib.store.data import DataItem
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy.context import TenantContext, current_context
from chalicelib.tenancy.resolution import invalidate_tenant
from chalicelib.tenancy.tenant import Tenant, TenantStatus

QUEUE = KEY_ROTATION_QUEUE
# Work per invocation, well inside Chalice's default 60 s Lambda timeout; then the job
# re-sends itself and the next invocation resumes from the checkpoint.
RUN_BUDGET_SECONDS = 40.0
PAGE = 100
ITEM_ATTEMPTS = 5
MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds

log = logging.getLogger("crypto.rotation")


class RotationInProgressError(ConflictError):
    code, title = "rotation_in_progress", "Another key rotation of this tenant is starting"


class TenantNotActiveError(ConflictError):
    code, title = "tenant_not_active", "Only an active tenant's keys can be rotated"


# ---- start (the admin route) ----------------------------------------------------------

def start(tenant: Tenant) -> Rotation:
    """Begin a rotation of ``tenant``'s key, or re-send the job of an unfinished one."""
    if tenant.status is not TenantStatus.ACTIVE:
        raise TenantNotActiveError("the job runs only for active tenants")
    # acting_in: the guard needs the tenant bound, and the key.rotated event needs the caller.
    with tenancy_context.bound(tenancy_context.acting_in(tenant)):
        previous = record.load()
        if previous is not None and previous.active:
            _switch(previous)
            _enqueue(tenant.id, previous)
            return previous
        new_key = keys.create_tenant_key(tenant.id, alias=False)
        rotation = Rotation(id=str(uuid4()), status=RotationStatus.PENDING, new_key=new_key,
                            old_keys=list(dict.fromkeys([tenant.kms_key_arn, *tenant.previous_kms_key_arns])),
                            started_at=clock.now(), version=previous.version if previous else 0)
        try:
            rotation = record.save(rotation)
        except RecordChangedError:
            keys.discard_key(new_key, tenant_id=None)
            raise RotationInProgressError("retry to resume it") from None
        except BaseException:
            keys.discard_key(new_key, tenant_id=None)
            raise
        try:
            rotation = _switch(rotation)
        except BaseException:
            _undo_unless_switched(tenant.id, rotation)
            raise
        _enqueue(tenant.id, rotation)
        return rotation


def _request_id() -> str:
    origin = tenancy_context.current_or_none()
    return origin.request_id if origin is not None else f"rotation-{uuid4()}"


def _switch(rotation: Rotation) -> Rotation:
    """Make the rotation's key the tenant's current one (idempotent); record ``switched_at``."""
    tenant = registry.get_tenant(current_context().tenant_id)
    if tenant is None:
        raise InternalError()
    if tenant.kms_key_arn != rotation.new_key:
        if tenant.kms_key_arn not in rotation.old_keys:
            raise InternalError("the tenant's key is neither the rotation's old nor its new key")
        keep = tuple(dict.fromkeys([tenant.kms_key_arn, *tenant.previous_kms_key_arns]))
        switched = registry.set_tenant_keys(tenant, current=rotation.new_key, previous=keep)
        if switched is None:
            raise data.ConcurrentWriteError()
        tenant = switched
    invalidate_tenant(tenant)
    if rotation.status is RotationStatus.PENDING:
        rotation = record.save(rotation.model_copy(update={
            "status": RotationStatus.REENCRYPTING, "switched_at": clock.now()}),
            audit_details={"rotation_id": rotation.id, "phase": "new key current; re-encryption started"})
    return rotation


def _undo_unless_switched(tenant_id: UUID, rotation: Rotation) -> None:
    """After a failed switch: if the registry did not take the key, forget key and record."""
    try:
        tenant = registry.get_tenant(tenant_id)
        if tenant is not None and rotation.new_key in (tenant.kms_key_arn, *tenant.previous_kms_key_arns):
            return  # it did switch (the reply was lost): the job will carry on
        record.delete(rotation)
        keys.discard_key(rotation.new_key, tenant_id=None)
    except Exception:
        log.exception("could not undo a rotation whose switch failed; a retry of the POST resumes it")


def _enqueue(tenant_id: UUID, rotation: Rotation, delay_seconds: float = 0) -> None:
    body = {"tenant_id": str(tenant_id), "rotation_id": rotation.id}
    try:
        sqs = aws.client("sqs")
        url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body),
                         DelaySeconds=max(0, min(MAX_DELAY_SECONDS, int(delay_seconds + 0.999))),
                         MessageAttributes={"tenant_id": {"DataType": "String", "StringValue": str(tenant_id)}})
    except Exception as exc:
        # The rotation is recorded; a retry of the POST re-sends its job.
        raise ServiceUnavailableError("could not queue the re-encryption; retry",
                                      headers={"Retry-After": "5"}) from exc


# ---- the job ---------------------------------------------------------------------------

def run(rotation_id: str) -> None:
    """Advance the bound tenant's rotation ``rotation_id`` (a queue message); idempotent."""
    rotation = record.load()
    if rotation is None or rotation.id != rotation_id or not rotation.active:
        return  # a duplicate or stale message: nothing to do
    try:
        rotation = _switch(rotation)
        tenant = registry.get_tenant(current_context().tenant_id)
        if tenant is None:
            return
        keys.point_alias(tenant.id, rotation.new_key)
        ctx = current_context()
        with tenancy_context.bound(TenantContext(tenant=tenant, request_id=ctx.request_id)):
            _advance(rotation)
    except RecordChangedError:
        log.info("another run advanced this rotation; stopping", extra={"fields": {"rotation_id": rotation_id}})


def _advance(rotation: Rotation) -> None:
    deadline = time.monotonic() + RUN_BUDGET_SECONDS
    grace = timedelta(seconds=get_settings().key_rotation_grace_seconds)
    while rotation.status is RotationStatus.REENCRYPTING:
        if rotation.sweep_started_at is None:
            rotation = record.save(rotation.model_copy(update={
                "sweep_started_at": clock.now(), "sweeps": rotation.sweeps + 1, "checkpoint": None}))
        rotation, finished = _sweep(rotation, deadline)
        if not finished:
            _enqueue(current_context().tenant_id, rotation)
            return
        if rotation.switched_at is None or rotation.sweep_started_at is None:
            raise InternalError("a re-encrypting rotation without its switch or sweep time")
        grace_end = rotation.switched_at + grace
        if rotation.sweep_started_at >= grace_end:
            rotation = record.save(rotation.model_copy(update={"status": RotationStatus.RETIRING}))
            break
        # That sweep began while stale processes could still seal under an old key: one
        # more, starting after the grace period.
        rotation = record.save(rotation.model_copy(update={"sweep_started_at": None, "checkpoint": None}))
        wait = (grace_end - clock.now()).total_seconds()
        if wait > 0:
            _enqueue(current_context().tenant_id, rotation, delay_seconds=wait)
            return
    if rotation.status is RotationStatus.RETIRING:
        _retire(rotation)


def _sweep(rotation: Rotation, deadline: float) -> tuple[Rotation, bool]:
    """Re-seal from the checkpoint on; (record, whether every partition was done)."""
    checkpoint = rotation.checkpoint or Checkpoint()
    for partition in inventory.sealed_partitions():
        if checkpoint.done_through is not None and partition.pk <= checkpoint.done_through:
            continue
        if checkpoint.pk is not None and partition.pk < checkpoint.pk:
            continue
        cursor = checkpoint.cursor if partition.pk == checkpoint.pk else None
        while True:
            page = data.query_page(partition.pk, limit=PAGE, cursor=cursor)
            counts = [_reseal_item(item, partition.sealed_as) for item in page.items]
            cursor = page.next_cursor
            position = Checkpoint(pk=partition.pk, cursor=cursor) if cursor else Checkpoint(done_through=partition.pk)
            rotation = record.save(rotation.model_copy(update={
                "checkpoint": position,
                "items_checked": rotation.items_checked + len(counts),
                "items_reencrypted": rotation.items_reencrypted + counts.count("resealed"),
                "items_unreadable": rotation.items_unreadable + counts.count("unreadable"),
            }))
            if cursor is None:
                break
            if time.monotonic() > deadline:
                return rotation, False
        if time.monotonic() > deadline:
            return rotation, False
    return rotation, True


def _reseal_item(item: DataItem, sealed_as: str) -> str:
    """'resealed', 'current' (already under the new key, or gone) or 'unreadable'."""
    current: DataItem | None = item
    for _ in range(ITEM_ATTEMPTS):
        if current is None or current.pii is None:
            return "current"
        try:
            text = pii.reseal(sealed_as, current.entity_id or current.sk, current.pii)
        except DataIntegrityError:
            # Already refused (and reported) by pii: no key of this tenant opens it, so
            # re-encryption cannot help, and the retired key would not either.
            return "unreadable"
        if text is None:
            return "current"
        try:
            current.update(actions=[DataItem.pii.set(text)], condition=DataItem.pii == current.pii)
            return "resealed"
        except UpdateError as exc:
            if not data.condition_failed(exc):
                raise
        # Edited (or deleted) since it was read: the edit stands; look at it again.
        current = data.get(current.pk, current.sk)
    raise data.ConcurrentWriteError()


def _retire(rotation: Rotation) -> None:
    tenant = current_context().tenant
    if tenant.previous_kms_key_arns:
        retired = registry.set_tenant_keys(tenant, current=rotation.new_key, previous=())
        if retired is None:
            raise data.ConcurrentWriteError()
        invalidate_tenant(retired)
    for old_key in rotation.old_keys:
        keys.schedule_deletion(old_key, keys.RETIRED_KEY_WAITING_DAYS)
    record.save(rotation.model_copy(update={"status": RotationStatus.COMPLETE, "finished_at": clock.now(),
                                            "checkpoint": None}))


# ---- status (the admin GET) ------------------------------------------------------------

def status(tenant: Tenant) -> dict[str, Any]:
    """The tenant's keys as KMS has them, and its latest rotation."""
    with tenancy_context.bound(TenantContext(tenant=tenant, request_id=_request_id())):
        rotation = record.load()
    described = [keys.describe(arn) for arn in (tenant.kms_key_arn, *tenant.previous_kms_key_arns)]
    retired = [keys.describe(arn) for arn in (rotation.old_keys if rotation and not rotation.active else [])]
    view = [{"arn": k.arn, "state": k.state, "automatic_rotation": k.rotation_enabled,
             "deletion_date": k.deletion_date} for k in described]
    return {
        "tenant_id": str(tenant.id),
        "alias": keys.tenant_key_alias(tenant.id),
        "current_key": view[0],
        "previous_keys": view[1:],
        "retired_keys": [{"arn": k.arn, "state": k.state, "deletion_date": k.deletion_date} for k in retired],
        "rotation": rotation.model_dump(mode="json", exclude={"version"}) if rotation else None,
    }
