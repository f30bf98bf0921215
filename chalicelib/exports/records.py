"""Export records: one item per export in the tenant's ``EXPORT`` partition.

``T#<tenant>#EXPORT`` / ``<export id>`` holds the status (top level, so writes can be
conditioned on it), the public fields and the worker's progress as JSON in ``data``,
and the recipient's address sealed in ``pii``. ``gsi1`` lists a tenant's exports by
creation (``T#<tenant>#EXPORTS`` / ``<created_at>#<id>``). Every save is conditioned on
the version read, so two workers (SQS delivers at least once) never both advance one.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pynamodb.exceptions import PutError
from pynamodb.transactions import TransactWrite

from chalicelib import audit
from chalicelib.crypto import pii
from chalicelib.exports.models import ACTIVE_STATUSES, Entity, Export, ExportFormat, ExportStatus, Progress
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem

_PUBLIC = set(Export.model_fields)


class RecordChangedError(Exception):
    """The record was saved by someone else since it was read: this run stops."""


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UUID
    status: ExportStatus
    format: ExportFormat
    include: list[Entity]
    requested_by: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    size_bytes: int | None = None
    sha256: str | None = None
    error: str | None = None
    # The worker: which run may go on (messages carry it), until when the run holding it
    # is presumed alive, and where it stopped.
    step: int = 1
    lease_until: datetime | None = None
    revivals: int = 0  # times the cleanup re-sent a stalled step
    progress: Progress = Field(default_factory=Progress)
    version: int = 0
    sealed: str | None = None  # the pii ciphertext as stored

    def view(self) -> Export:
        return Export.model_validate(self.model_dump(include=_PUBLIC))

    def notify_email(self) -> str | None:
        value = pii.unseal(keys.EXPORT, str(self.id), self.sealed).get("notify_email")
        return value if isinstance(value, str) else None


def now() -> datetime:
    return datetime.now(UTC)


def _pk() -> str:
    return data.partition(keys.EXPORT)


def _record(item: DataItem) -> Record:
    fields = data.loads(item.data)
    return Record.model_validate({**fields, "id": item.sk, "status": item.status, "version": int(item.version or 0),
                                  "created_at": item.created_at, "updated_at": item.updated_at,
                                  "sealed": item.pii})


def load(export_id: UUID) -> Record | None:
    item = data.get(_pk(), str(export_id))
    return _record(item) if item is not None else None


def list_page(limit: int, cursor: str | None) -> tuple[list[Record], str | None]:
    """The bound tenant's exports, newest first."""
    page = data.query_page(data.partition(keys.EXPORT_BY_TIME), index="gsi1", limit=limit, cursor=cursor,
                           newest_first=True)
    return [_record(item) for item in page.items], page.next_cursor


def _all(pk: str, index: str, condition: Any = None) -> list[Record]:
    found: list[Record] = []
    cursor: str | None = None
    while True:
        page = data.query_page(pk, index=index, limit=data.MAX_PAGE, cursor=cursor, range_key_condition=condition)
        found += [_record(item) for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return found


def created_since(since: datetime) -> list[Record]:
    """Exports created at or after ``since`` (a key condition on the creation index)."""
    return _all(data.partition(keys.EXPORT_BY_TIME), "gsi1", DataItem.gsi1sk >= since.isoformat())


def created_before(before: datetime) -> list[Record]:
    """Exports created before ``before``, still listed (completed ones are expired from here)."""
    condition = DataItem.gsi1sk < before.isoformat()
    return [r for r in _all(data.partition(keys.EXPORT_BY_TIME), "gsi1", condition)
            if r.status is not ExportStatus.EXPIRED]


def active() -> list[Record]:
    """Queued and running exports: a sparse index holds only those."""
    return _all(data.partition(keys.EXPORT_ACTIVE), "gsi2")


def _item(record: Record) -> DataItem:
    document = record.model_dump(mode="json", exclude={"id", "status", "version", "created_at", "updated_at",
                                                       "sealed"})
    created = record.created_at.isoformat()
    # Sparse: only queued and running exports are in gsi2 (the concurrency limit, stall checks).
    active_index = {"gsi2pk": data.partition(keys.EXPORT_ACTIVE), "gsi2sk": keys.time_ordered(created, record.id)} \
        if record.status in ACTIVE_STATUSES else {}
    return data.new_item(
        pk=_pk(), sk=str(record.id), kind=keys.EXPORT, entity_id=str(record.id), status=record.status.value,
        version=record.version, created_at=created, updated_at=record.updated_at.isoformat(),
        gsi1pk=data.partition(keys.EXPORT_BY_TIME), gsi1sk=keys.time_ordered(created, record.id),
        data=data.dumps(document), pii=record.sealed, **active_index,
    )


def seal_recipient(export_id: UUID, email: str | None) -> str:
    return pii.seal(keys.EXPORT, str(export_id), {"notify_email": email})


def save(record: Record, *, event: audit.Action | None = None, details: dict[str, Any] | None = None) -> Record:
    """Store ``record`` if the stored one is still the version it was read as (a new
    record: if none exists); with ``event``, in one transaction with that audit event."""
    stored = record.model_copy(update={"version": record.version + 1, "updated_at": now()})
    item = _item(stored)
    condition = DataItem.pk.does_not_exist() if record.version == 0 else DataItem.version == record.version
    if event is None:
        try:
            item.save(condition=condition)
        except PutError as exc:
            if data.condition_failed(exc):
                raise RecordChangedError() from exc
            raise
        return stored

    def build(tx: TransactWrite) -> None:
        tx.save(item, condition=condition)
        audit.record(tx, event, audit.Target("export", str(record.id)), details=details)

    try:
        data.transact(build)
    except data.TransactionCancelledError as exc:
        if "ConditionalCheckFailed" in exc.reasons:
            raise RecordChangedError() from exc
        raise
    return stored
