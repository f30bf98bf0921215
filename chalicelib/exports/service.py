"""Exports as the API sees them: request, list, read, download; and the cleanup job.

A request writes the record (``queued``) and its ``export.requested`` event in one
transaction, then sends the worker's message. Downloads are never emailed as presigned
URLs (one made with the Lambda role's session credentials dies with that session):
the link names ``GET /api/tenant/exports/{id}/download``, which re-checks the caller
and redirects to a URL valid for five minutes.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from chalicelib import clock, lazy, limits
from chalicelib.audit import Action, Target
from chalicelib.audit.recording import NEW_EVENT, item_for, tenant_event
from chalicelib.errors import AppError, NotFoundError, RequestValidationError, ServiceUnavailableError
from chalicelib.exports import records
from chalicelib.exports.errors import (
    ExportConcurrencyLimitError,
    ExportDailyLimitError,
    ExportGoneError,
    ExportNotReadyError,
)
from chalicelib.exports.models import ACTIVE_STATUSES, ExportCreate, ExportFormat, ExportStatus, Progress
from chalicelib.exports.records import Record, RecordChangedError
from chalicelib.http import ListQuery
from chalicelib.settings import get_settings
from chalicelib.tenancy.context import current_context

if TYPE_CHECKING:
    from chalicelib.config import effective
    from chalicelib.exports import storage, worker
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    worker = lazy.module("chalicelib.exports.worker")
    storage = lazy.module("chalicelib.exports.storage")
    effective = lazy.module("chalicelib.config.effective")

log = logging.getLogger("exports")

# A running export whose record has not moved for this long lost its message (a crash
# after the lease lapsed and the last receive, or a failed re-send): the cleanup
# re-sends its step, up to REVIVALS times, then records it failed.
STALLED_AFTER = timedelta(minutes=15)
REVIVALS = 3


def _recipient(body: ExportCreate) -> str:
    principal = current_context().principal
    email = body.notify_email or (principal.email if principal is not None else None)
    if not email:
        raise RequestValidationError("no address to send the download link to", extra={"errors": [
            {"loc": ["body", "notify_email"], "type": "missing",
             "msg": "required when the token carries no email claim"}]})
    return email


def request_export(body: ExportCreate) -> Record:
    ctx = current_context()
    if body.format is None:
        body = body.model_copy(update={
            "format": ExportFormat(effective.setting(ctx.tenant, "exports", "default_format"))})
    assert body.format is not None
    recipient = _recipient(body)
    export_id = uuid4()
    now = clock.now()
    record = Record(id=export_id, status=ExportStatus.QUEUED, format=body.format, include=body.include,
                    requested_by=ctx.principal.sub if ctx.principal else None, created_at=now, updated_at=now,
                    sealed=records.seal_recipient(export_id, recipient))
    allowed = limits.effective_limits()
    quota = records.Quota(per_day=allowed.exports_per_day, concurrent=allowed.max_concurrent_exports)
    try:
        record = records.save(record, event=Action.EXPORT_REQUESTED, quota=quota,
                              details={"format": body.format.value, "include": [e.value for e in body.include]})
    except records.QuotaError as exc:
        raise _limit_error(exc, now) from None
    try:
        worker.enqueue(export_id, record.step)
    except Exception as exc:
        log.exception("could not queue an export")
        worker.fail(export_id, "the export could not be queued; request it again")
        raise ServiceUnavailableError("could not queue the export; retry", headers={"Retry-After": "5"}) from exc
    return record


def _limit_error(exc: records.QuotaError, now: datetime) -> AppError:
    if exc.which == "per_day":
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        return ExportDailyLimitError(
            f"this plan allows {exc.limit} exports per day (UTC); try again tomorrow",
            extra={"limit": exc.limit, "usage": records.requested_on(now)},
            headers={"Retry-After": str(max(1, int((midnight - now).total_seconds())))})
    return ExportConcurrencyLimitError(
        f"this plan allows {exc.limit} exports at a time; wait for one to finish",
        extra={"limit": exc.limit, "usage": records.active_in_use()}, headers={"Retry-After": "60"})


def list_exports(query: ListQuery) -> tuple[list[Record], str | None]:
    return records.list_page(query.limit, query.cursor)


def get_export(export_id: UUID) -> Record:
    record = records.load(export_id)
    if record is None:
        raise NotFoundError("no such export")
    return record


def download_url(export_id: UUID) -> str:
    """A presigned URL of the export's object (five minutes); ``export.downloaded`` audited first."""
    record = get_export(export_id)
    if record.status is ExportStatus.EXPIRED or (
            record.expires_at is not None and record.expires_at <= clock.now()):
        days = get_settings().export_retention_days
        raise ExportGoneError(f"exports are kept {days} days; request a new one")
    if record.status is not ExportStatus.COMPLETED or not record.progress.object_key:
        raise ExportNotReadyError(f"the export is {record.status.value}")
    # A read changes nothing, so its event is written alone (as record_read_access does).
    item_for(tenant_event(Action.EXPORT_DOWNLOADED, Target("export", str(record.id)),
                          details={"size_bytes": record.size_bytes, "sha256": record.sha256})).save(
        condition=NEW_EVENT)
    filename = record.progress.object_key.rsplit("/", 1)[-1]
    return storage.presigned_download(record.progress.object_key, filename)


# ---- the cleanup schedule -----------------------------------------------------------------

def cleanup() -> dict[str, int]:
    """For the bound tenant: expire completed exports past their days, revive or fail stalled ones."""
    now = clock.now()
    expired = revived = failed = 0
    oldest_live = now - timedelta(days=get_settings().export_retention_days)
    for record in records.created_before(oldest_live + timedelta(seconds=1)):
        if record.status is ExportStatus.COMPLETED and record.expires_at is not None and record.expires_at <= now:
            try:
                records.save(record.model_copy(update={"status": ExportStatus.EXPIRED,
                                                       "progress": Progress(counts=record.counts)}))
            except RecordChangedError:
                continue
            # The bucket's lifecycle rule deletes it too; this makes it immediate.
            storage.discard(record.progress.object_key)
            expired += 1
    for record in records.active():
        if record.status not in ACTIVE_STATUSES or now - record.updated_at < STALLED_AFTER:
            continue
        if record.lease_until is not None and record.lease_until > now:
            continue
        if record.revivals >= REVIVALS:
            worker.fail(record.id, "the export stopped making progress; request a new one")
            failed += 1
            continue
        try:
            saved = records.save(record.model_copy(update={"revivals": record.revivals + 1, "lease_until": None}))
        except RecordChangedError:
            continue
        worker.enqueue(saved.id, saved.step)
        revived += 1
    return {"expired": expired, "revived": revived, "failed": failed}
