"""Storage: the bytes of a tenant's files and an estimate of its DynamoDB items.

What counts: every object under the tenant's prefix ``tenants/<uuid>/`` in the assets
bucket (branding images today; any later upload stored there counts automatically),
plus ``item_bytes``, an estimate of the tenant's DynamoDB items set by the daily
reconciliation. Exports do not count: they are copies of data already counted, made by
the platform, in their own bucket, and expire.

Keeping ``file_bytes`` current: the assets bucket sends ``ObjectCreated``/``ObjectRemoved``
notifications for ``tenants/`` to an SQS queue (``STORAGE_EVENTS_QUEUE``; the local
bootstrap configures it, infra does in AWS), and :func:`apply_events` (through
``@tenant_handler``, the tenant named by the object key) records each object in a
ledger item (``OBJ``, sort key the object key, ``used`` its current size) in the same
transaction as the counter's change. An event is not trusted for the size: the handler
reads the object's current size (HeadObject; gone: removed) and applies the difference
from the ledger, so an overwrite counts its new size, a removal gives back what was
counted, and a redelivered or out-of-order event changes nothing. The daily
reconciliation corrects whatever events were lost.

Uploads: a presigned POST's ``content-length-range`` is at most what is left of the
tenant's allowance after what is stored and what outstanding presigns may still add
(``reservations.py``; nothing left: 403 ``limit_exceeded``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus
from uuid import UUID

from chalicelib import settings
from chalicelib.limits import counters, reservations
from chalicelib.limits.effective import effective_limits
from chalicelib.limits.errors import LimitExceededError
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError
from chalicelib.tenancy import clients
from chalicelib.tenancy.context import NOT_FOR_A_TENANT, current_tenant_id

# A stable literal (Chalice reads queue names when it packages app.py, before any stage
# is known), like the key-rotation queue: one per account; defined in settings.
STORAGE_EVENTS_QUEUE = settings.STORAGE_EVENTS_QUEUE
STORAGE = "storage_bytes"  # the resource a refused upload names
_TENANT_KEY = re.compile(r"^tenants/([0-9a-f-]{36})/")


@dataclass(frozen=True)
class StorageUsage:
    file_bytes: int
    item_bytes: int
    limit: int
    reconciled_at: datetime | None

    @property
    def used(self) -> int:
        return self.file_bytes + self.item_bytes

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def counter_values() -> dict[str, DataItem]:
    """Every usage counter of the bound tenant (one Query of its ``USAGE`` partition)."""
    return {item.sk: item for item in data.query_page(data.partition(keys.USAGE), limit=data.MAX_PAGE).items}


def usage(values: dict[str, DataItem] | None = None) -> StorageUsage:
    values = counter_values() if values is None else values
    stamps = [datetime.fromisoformat(v.updated_at) for v in values.values() if v.updated_at]

    def used(meter: str) -> int:
        return int(values[meter].used or 0) if meter in values else 0

    return StorageUsage(file_bytes=used(counters.FILE_BYTES), item_bytes=used(counters.ITEM_BYTES),
                        limit=effective_limits().max_storage_bytes, reconciled_at=min(stamps) if stamps else None)


def upload_allowance(key: str, max_bytes: int, lifetime_seconds: int) -> int:
    """Reserve the largest upload to ``key`` the tenant may make now (at most ``max_bytes``,
    held for the presign's life); 403 ``limit_exceeded`` when nothing is left."""
    seen: list[StorageUsage] = []

    def stored() -> tuple[int, int]:
        seen.append(usage())
        return seen[-1].used, seen[-1].limit

    granted = reservations.reserve(key, max_bytes, lifetime_seconds, stored)
    if granted < 1:
        current = seen[-1] if seen else usage()
        raise LimitExceededError(STORAGE, limit=current.limit, usage=min(current.limit, current.used))
    return granted


# ---- S3 events --------------------------------------------------------------------------

def tenant_of_event(record: dict[str, Any], body: Any) -> UUID | str | None:
    """The tenant an S3 notification is about: the one whose prefix holds every object key
    in it. None (refused) for anything else; S3's test event needs no work at all."""
    if isinstance(body, dict) and body.get("Event") == "s3:TestEvent":
        return NOT_FOR_A_TENANT
    records = body.get("Records") if isinstance(body, dict) else None
    if not isinstance(records, list) or not records:
        return None
    found: set[str] = set()
    for entry in records:
        match = _TENANT_KEY.match(_object_key(entry) or "")
        if match is None or _bucket(entry) != get_settings().assets_bucket:
            return None
        found.add(match.group(1))
    try:
        return UUID(found.pop()) if len(found) == 1 else None
    except ValueError:
        return None


def _object_key(entry: Any) -> str | None:
    try:
        return unquote_plus(entry["s3"]["object"]["key"])
    except (KeyError, TypeError):
        return None


def _bucket(entry: Any) -> str | None:
    try:
        return str(entry["s3"]["bucket"]["name"])
    except (KeyError, TypeError):
        return None


def apply_events(body: dict[str, Any]) -> None:
    """Apply an S3 notification's records to the bound tenant's ledger and counter."""
    prefix = keys.tenant_object_key(current_tenant_id(), "x")[:-1]
    for entry in body["Records"]:
        key = _object_key(entry)
        if key is None or not key.startswith(prefix):
            raise ValueError("an S3 record outside the bound tenant's prefix")
        if str(entry.get("eventName", "")).startswith(("ObjectCreated", "ObjectRemoved")):
            sync_object(key)


def _ledger(key: str, size: int | None = None) -> DataItem:
    if size is None:
        return DataItem(pk=data.partition(keys.STORED_OBJECT), sk=key)
    return data.new_item(pk=data.partition(keys.STORED_OBJECT), sk=key, kind=keys.STORED_OBJECT, used=size)


def _adjust(uow: UnitOfWork, delta: int) -> None:
    """Change ``file_bytes``; creates the counter with the tenant's id if it is missing."""
    uow.update("counter", counters.key(counters.FILE_BYTES), [
        DataItem.used.add(delta), DataItem.tenant_id.set(str(current_tenant_id())),
        DataItem.kind.set(keys.USAGE), DataItem.entity_id.set(counters.FILE_BYTES)])


def current_size(key: str) -> int | None:
    """The object's size now (None: it does not exist)."""
    s3 = clients.for_current_tenant().s3
    try:
        return int(s3.head_object(Bucket=get_settings().assets_bucket, Key=key)["ContentLength"])
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _recorded(key: str) -> int | None:
    data.bind()
    try:
        return int(DataItem.get(data.partition(keys.STORED_OBJECT), key, consistent_read=True).used or 0)
    except DataItem.DoesNotExist:
        return None


def sync_object(key: str, attempts: int = 5) -> int:
    """Make the ledger hold ``key``'s current size, applying the difference to the counter;
    the difference applied (0: the ledger was already right, e.g. a redelivered event)."""
    for _ in range(attempts):
        size, recorded = current_size(key), _recorded(key)
        if size == recorded:
            return 0

        uow = UnitOfWork()
        if size is None:
            uow.delete("ledger", _ledger(key), DataItem.used == recorded)
        elif recorded is None:
            uow.put("ledger", _ledger(key, size), DataItem.pk.does_not_exist())
        else:
            uow.put("ledger", _ledger(key, size), DataItem.used == recorded)
        _adjust(uow, (size or 0) - (recorded or 0))
        try:
            uow.commit()
        except WriteCancelledError as exc:
            if "ledger" in exc.failed:
                continue  # another event's handler changed the ledger: read again
            raise
        return (size or 0) - (recorded or 0)
    raise data.ConcurrentWriteError()
