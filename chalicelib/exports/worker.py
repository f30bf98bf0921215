"""The export worker: one SQS message runs (or continues) one export of the bound tenant.

A message names the export and the *step* it may run. The record holds the step too:
a run starts only if both agree and no other run holds the record's lease, and it
takes the lease with a conditional write (``queued -> running`` the first time). So a
redelivered or duplicated message never runs an export twice, and a run killed without
a word (Lambda timeout) is resumed by the redelivery once its lease has lapsed (the
queue's visibility timeout, six times the function timeout, is longer than the lease).

A run reads the entities page by page, writes them through the format's writer into a
multipart upload, and checks the time left after every page: with less than
``export_checkpoint_margin_seconds`` left it checkpoints (see ``writers`` and
``storage``), saves the progress with the next step, and sends itself the next step.

SHA-256: a hash object cannot be saved across invocations. A run that wrote the whole
object hashes it as it goes; an export that was checkpointed is hashed at completion by
reading the object back from S3 in 1 MiB chunks (constant memory; about a second per
100 MB in Lambda).

Errors: a damaged item (it does not decrypt for this tenant) or an archive past 4 GiB
fails the export at once; anything else releases the lease and fails the message, so
SQS retries it, and on the last receive before the dead-letter queue the export is
recorded ``failed`` instead. A failed export's multipart upload is aborted and its
requester emailed.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from string import Template
from uuid import UUID

from chalicelib import aws, clock
from chalicelib.audit import Action
from chalicelib.config.dates import display_datetime, local_time
from chalicelib.crypto.errors import DataIntegrityError
from chalicelib.errors import NotFoundError
from chalicelib.exports import records, sources, storage
from chalicelib.exports.models import ExportStatus, Progress
from chalicelib.exports.records import Record, RecordChangedError
from chalicelib.exports.writers import ExportTooLargeError, Writer, writer_for
from chalicelib.notifications import DEFAULT_TEMPLATES, render, send_email
from chalicelib.settings import get_settings
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy.context import current_context

log = logging.getLogger("exports.worker")

# The worker's Lambda timeout this code assumes (Chalice's default, and the local
# pump's); the queue's visibility timeout must be at least six times it.
WORKER_TIMEOUT_SECONDS = 60
# A run is presumed dead once its lease lapses: longer than any invocation can last.
LEASE_SECONDS = WORKER_TIMEOUT_SECONDS + 30
# Receives before SQS moves a message to the dead-letter queue (the redrive policy's
# maxReceiveCount, local bootstrap and infra): the last one records the failure.
MAX_RECEIVES = 3

Remaining = Callable[[], float]


class _Run:
    """The record as last saved by this run (every save bumps its version)."""

    def __init__(self, record: Record) -> None:
        self.record = record

    def save(self, record: Record, **kwargs: object) -> Record:
        self.record = records.save(record, **kwargs)  # type: ignore[arg-type]
        return self.record


def enqueue(export_id: UUID, step: int) -> None:
    tenant_id = current_context().tenant_id
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().exports_queue)["QueueUrl"]
    body = {"tenant_id": str(tenant_id), "export_id": str(export_id), "step": step}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body),
                     MessageAttributes={"tenant_id": {"DataType": "String", "StringValue": str(tenant_id)}})


def _remaining_from_delivery() -> Remaining:
    delivery = tenancy_context.current_delivery()
    if delivery is not None and delivery.remaining_ms is not None:
        lambda_remaining = delivery.remaining_ms
        return lambda: lambda_remaining() / 1000
    deadline = time.monotonic() + WORKER_TIMEOUT_SECONDS
    return lambda: deadline - time.monotonic()


def run(export_id: UUID, step: int, remaining: Remaining | None = None) -> None:
    """Run step ``step`` of the bound tenant's export ``export_id`` (a queue message)."""
    record = records.load(export_id)
    claimed = _claim(record, step) if record is not None else None
    if claimed is None:
        log.info("export message ignored (duplicate, stale or held)",
                 extra={"fields": {"export_id": str(export_id), "step": step}})
        return
    current = _Run(claimed)
    try:
        _export(current, remaining or _remaining_from_delivery())
    except RecordChangedError:
        log.warning("export record changed under this run; stopping", extra={"fields": {"export_id": str(export_id)}})
    except (DataIntegrityError, ExportTooLargeError) as exc:
        fail(export_id, _reason(exc))
    except Exception:
        delivery = tenancy_context.current_delivery()
        if delivery is not None and delivery.receive_count >= MAX_RECEIVES:
            log.exception("export failed on its last delivery")
            fail(export_id, "the export failed repeatedly; request a new one")
            return
        _release(current)
        raise


def _claim(record: Record, step: int) -> Record | None:
    now = clock.now()
    if record.step != step or record.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING):
        return None
    if record.status is ExportStatus.RUNNING and record.lease_until is not None and record.lease_until > now:
        return None
    try:
        return records.save(record.model_copy(update={
            "status": ExportStatus.RUNNING, "started_at": record.started_at or now,
            "lease_until": now + timedelta(seconds=LEASE_SECONDS)}))
    except RecordChangedError:
        return None


def _release(current: _Run) -> None:
    try:
        current.save(current.record.model_copy(update={"lease_until": None}))
    except Exception:
        log.exception("could not release an export's lease; the redelivery waits for it to lapse")


def _reason(exc: Exception) -> str:
    if isinstance(exc, DataIntegrityError):
        return "an item of this network could not be decrypted; contact support"
    return str(exc)


def _open_object(current: _Run, writer_suffix: str, content_type: str) -> storage.MultipartObject:
    record, progress = current.record, current.record.progress
    if progress.upload_id is not None and progress.object_key and progress.kms_key:
        fresh = not progress.resumed
        obj = storage.MultipartObject(progress.object_key, progress.kms_key, progress.upload_id,
                                      progress.parts if not fresh else [], track_hash=fresh)
        if progress.pending_key and not fresh:
            obj.restore(progress.pending_key)
        return obj
    tenant = current_context().tenant
    key = storage.object_key(tenant.id, record.id, writer_suffix)
    obj = storage.MultipartObject.start(key, tenant.kms_key_arn, content_type)
    # Recorded at once, so that a failure from here on can abort the upload.
    current.save(record.model_copy(update={"progress": Progress(
        upload_id=obj.upload_id, object_key=key, kms_key=tenant.kms_key_arn)}))
    return obj


def _export(current: _Run, remaining: Remaining) -> None:
    settings = get_settings()
    record = current.record
    recorded = record.progress
    if recorded.upload_id and recorded.object_key and not storage.upload_open(recorded.object_key, recorded.upload_id):
        # An earlier delivery completed the object but could not record it: start again
        # (the new object replaces it), rather than writing to an upload that is gone.
        record = current.save(record.model_copy(update={"progress": Progress()}))
    progress = record.progress if record.progress.resumed else Progress()
    # A zip's entry times have no zone: written as the tenant's wall clock (config/dates.py).
    when = local_time(current_context().tenant, record.created_at).replace(tzinfo=None)
    probe = writer_for(record.format.value, lambda b: None, None, when)
    obj = _open_object(current, probe.suffix, probe.content_type)
    writer = writer_for(record.format.value, obj.write, progress.encoder or None, when)
    writer.begin()
    counts = dict(progress.counts)
    start, cursor = progress.entity, progress.cursor
    for index in range(start, len(record.include)):
        entity = record.include[index]
        read = sources.reader(entity)
        writer.begin_entity(entity.value, sources.columns(entity), resumed=progress.resumed and index == start)
        counts.setdefault(entity.value, 0)
        while True:
            rows, cursor = read(settings.export_page_size, cursor)
            for row in rows:
                writer.write(row)
            counts[entity.value] += len(rows)
            if cursor is None:
                break
            if remaining() < settings.export_checkpoint_margin_seconds:
                _checkpoint(current, obj, writer, index, cursor, counts)
                return
        writer.end_entity()
        if index + 1 < len(record.include) and remaining() < settings.export_checkpoint_margin_seconds:
            _checkpoint(current, obj, writer, index + 1, None, counts)
            return
    _complete(current, obj, writer, counts)


def _checkpoint(current: _Run, obj: storage.MultipartObject, writer: Writer, entity: int, cursor: str | None,
                counts: dict[str, int]) -> None:
    record = current.record
    writer.checkpoint()
    parked = obj.park(record.step)
    old = record.progress.pending_key
    progress = Progress(upload_id=obj.upload_id, object_key=obj.key, kms_key=obj.kms_key, parts=obj.parts,
                        entity=entity, cursor=cursor, counts=counts, encoder=writer.state(),
                        pending_key=parked, resumed=True)
    saved = current.save(record.model_copy(update={"progress": progress, "step": record.step + 1,
                                                   "lease_until": None, "counts": counts}))
    storage.discard(old)
    try:
        enqueue(saved.id, saved.step)
    except Exception:
        # The checkpoint is saved; the cleanup schedule re-sends a stalled export's step.
        log.exception("could not queue the next step of an export")


def _complete(current: _Run, obj: storage.MultipartObject, writer: Writer, counts: dict[str, int]) -> None:
    record = current.record
    writer.finish()
    obj.complete()
    storage.discard(record.progress.pending_key)
    size, _ = storage.describe(obj.key)
    digest = obj.hasher.hexdigest() if obj.hasher is not None else storage.sha256_of(obj.key)
    now = clock.now()
    done = current.save(record.model_copy(update={
        "status": ExportStatus.COMPLETED, "completed_at": now, "lease_until": None, "counts": counts,
        "expires_at": now + timedelta(days=get_settings().export_retention_days), "size_bytes": size,
        "sha256": digest, "progress": Progress(object_key=obj.key, kms_key=obj.kms_key, counts=counts)}),
        event=Action.EXPORT_COMPLETED, details={"counts": counts, "size_bytes": size, "sha256": digest},
        release_slot=True)
    _notify_ready(done)


def fail(export_id: UUID, reason: str) -> None:
    """Record the bound tenant's export ``failed`` with ``reason``, abort its upload, email."""
    record = records.load(export_id)
    if record is None or record.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING):
        return
    progress = record.progress
    storage.abort(progress.object_key, progress.upload_id)
    storage.discard(progress.pending_key)
    failed = records.save(record.model_copy(update={
        "status": ExportStatus.FAILED, "error": reason, "completed_at": clock.now(), "lease_until": None,
        "progress": Progress(counts=progress.counts)}), event=Action.EXPORT_FAILED, details={"reason": reason},
        release_slot=True)
    _notify_failed(failed)


def download_link(export_id: UUID) -> str:
    settings = get_settings()
    base = settings.public_base_url or f"https://{current_context().tenant.slug}.{settings.platform_domain}"
    return f"{base}/api/tenant/exports/{export_id}/download"


def _render(name: str, values: dict[str, str]) -> tuple[str, str]:
    """The tenant's template, or the platform's default for a tenant created before it existed."""
    try:
        return render(name, values)
    except NotFoundError:
        [default] = [t for t in DEFAULT_TEMPLATES if t.name == name]
        return Template(default.subject).safe_substitute(values), Template(default.body).safe_substitute(values)


def _notify_ready(record: Record) -> None:
    try:
        to = record.notify_email()
        if not to:
            return
        expires = display_datetime(current_context().tenant, record.expires_at) if record.expires_at else ""
        subject, body = _render("export_ready", {"network_name": current_context().tenant.display_name,
                                                 "expires_at": expires, "download_url": download_link(record.id)})
        send_email(to, subject, body)
    except Exception:
        # The export stands (GET /api/tenant/exports/{id} shows it); only the mail is lost.
        log.exception("could not email an export's link", extra={"fields": {"export_id": str(record.id)}})


def _notify_failed(record: Record) -> None:
    network = current_context().tenant.display_name
    try:
        to = record.notify_email()
        if not to:
            return
        send_email(to, f"Your {network} export failed",
                   f"Hello,\n\nThe data export you requested ({record.id}) could not be completed: "
                   f"{record.error}\nYou can request a new one.\n")
    except Exception:
        log.exception("could not email an export's failure", extra={"fields": {"export_id": str(record.id)}})
