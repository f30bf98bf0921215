"""Export records: one item per export in the tenant's ``EXPORT`` partition.

``T#<tenant>#EXPORT`` / ``<export id>`` holds the status (top level, so writes can be
conditioned on it), the public fields and the worker's progress as JSON in ``data``,
and the recipient's address sealed in ``pii``. ``gsi1`` lists a tenant's exports by
creation (``T#<tenant>#EXPORTS`` / ``<created_at>#<id>``). Every save is conditioned on
the version read, so two workers (SQS delivers at least once) never both advance one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, Field
from pynamodb.transactions import TransactWrite

from chalicelib import audit, clock
from chalicelib.crypto import pii
from chalicelib.exports.models import ACTIVE_STATUSES, Export, ExportStatus, Progress
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem, RecordChangedError
from chalicelib.tenancy.context import current_tenant_id

_PUBLIC = set(Export.model_fields)


class Record(Export):
    """The stored export: what the API shows, and the worker's own fields."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

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


@dataclass(frozen=True)
class Quota:
    """The plan's export limits a new export is checked against, in its own transaction."""

    per_day: int
    concurrent: int


class QuotaError(Exception):
    def __init__(self, which: str, limit: int) -> None:
        super().__init__(which)
        self.which, self.limit = which, limit


def day_key(at: datetime) -> str:
    return f"DAY#{at.date().isoformat()}"


def _counter(sk: str, delta: int, expires: datetime | None = None) -> tuple[DataItem, list[Any]]:
    """An ``ADD used delta`` that also names the tenant and kind, so a first use creates a
    complete item (an ADD alone would store one without ``tenant_id``)."""
    actions = [DataItem.used.add(delta), DataItem.tenant_id.set(str(current_tenant_id())),
               DataItem.kind.set(keys.EXPORT_QUOTA)]
    if expires is not None:
        actions.append(DataItem.expires_at.set(int(expires.timestamp())))
    return DataItem(pk=data.partition(keys.EXPORT_QUOTA), sk=sk), actions


def _take(tx: TransactWrite, sk: str, limit: int, expires: datetime | None = None) -> None:
    item, actions = _counter(sk, 1, expires)
    tx.update(item, actions=actions, condition=DataItem.used.does_not_exist() | (DataItem.used < limit))


def active_in_use() -> int:
    item = data.get(data.partition(keys.EXPORT_QUOTA), ACTIVE_SK)
    return int(item.used or 0) if item is not None else 0


def requested_on(at: datetime) -> int:
    item = data.get(data.partition(keys.EXPORT_QUOTA), day_key(at))
    return int(item.used or 0) if item is not None else 0


ACTIVE_SK = "ACTIVE"


def save(record: Record, *, event: audit.Action | None = None, details: dict[str, Any] | None = None,
         quota: Quota | None = None, release_slot: bool = False) -> Record:
    """Store ``record`` if the stored one is still the version it was read as (a new
    record: if none exists); with ``event``, in one transaction with that audit event.

    ``quota`` (a new export): the same transaction counts it in today's exports and in
    the running ones, each conditioned on its limit (QuotaError names the one reached).
    ``release_slot`` (an export leaving queued/running): gives its running slot back.
    So counters and records move together; concurrent requests cannot overshoot.
    """
    stored = record.model_copy(update={"version": record.version + 1, "updated_at": clock.now()})
    item = _item(stored)
    condition = data.version_condition(record.version)
    if event is None:
        data.save_versioned(item, record.version, RecordChangedError)
        return stored
    if quota is not None:
        if quota.per_day < 1:
            raise QuotaError("per_day", quota.per_day)
        if quota.concurrent < 1:
            raise QuotaError("concurrent", quota.concurrent)

    def build(tx: TransactWrite) -> None:
        tx.save(item, condition=condition)
        audit.record(tx, event, audit.Target("export", str(record.id)), details=details)
        if quota is not None:
            # pynamodb sends Puts before Updates: reasons 2 and 3 are these two.
            _take(tx, day_key(stored.created_at), quota.per_day, stored.created_at + timedelta(days=2))
            _take(tx, ACTIVE_SK, quota.concurrent)
        if release_slot:
            counter, actions = _counter(ACTIVE_SK, -1)
            tx.update(counter, actions=actions)

    try:
        data.transact(build)
    except data.TransactionCancelledError as exc:
        if quota is not None and exc.failed(2):
            raise QuotaError("per_day", quota.per_day) from exc
        if quota is not None and exc.failed(3):
            raise QuotaError("concurrent", quota.concurrent) from exc
        if "ConditionalCheckFailed" in exc.reasons:
            raise RecordChangedError() from exc
        raise
    return stored
