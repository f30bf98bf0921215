"""The daily reconciliation: the bound tenant's usage counters set to what is really stored.

* ``professionals``, ``customers``: a consistent COUNT Query of the tenant's ``PRO`` and
  ``CUS`` partitions. The counter's shards are read first and rebalanced for the count
  conditioned on every shard being unchanged (``counters.rebalance``): every create and
  delete moves one shard in its own transaction, so unchanged shards mean nothing was
  created or deleted while counting (if one did change, the meter is left for the next
  run, and reported as ``busy``).
* ``file_bytes``: S3 ListObjectsV2 under ``tenants/<uuid>/`` in the assets bucket
  (paginated), written the same way; the object ledger is brought in line with the
  listing (missing objects added, vanished ones removed).
* ``item_bytes``: an estimate of the tenant's DynamoDB storage: every item of every one of
  its partitions (Queries of ``TABLE_KINDS`` and of ``PROCAT#<slug>`` per category; never a
  Scan), each sized as DynamoDB does (attribute names plus values) and counted once more
  per global secondary index it appears in (the indexes project every attribute).

Counters missing (a tenant from before counters) are created here. Each counter's
``updated_at`` records when it was reconciled.
"""
from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.clock import now_iso
from chalicelib.limits import counters
from chalicelib.limits.effective import effective_limits
from chalicelib.settings import get_settings
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.tenancy import clients
from chalicelib.tenancy.context import current_tenant_id

log = logging.getLogger("limits.reconciliation")
PAGE = 100
# Every kind whose items live in the tenant's own table partitions (index-only partition
# keys such as REFSTATUS are not partitions of the table). A feature that adds one adds it here.
TABLE_KINDS = (
    keys.CATEGORY, keys.PROFESSIONAL, keys.PROFESSIONAL_EMAIL, keys.PROFESSIONAL_USER, keys.CUSTOMER,
    keys.CUSTOMER_USER, keys.REFERRAL, keys.TENANT_SECRET, *keys.AUDIT_SHARD_KINDS, keys.AUDIT_DIGEST,
    keys.KEY_ROTATION,
    keys.PROVISIONING, keys.ROLE, keys.MEMBER, keys.MEMBER_EMAIL, keys.EMAIL_TEMPLATE, keys.CONFIG,
    keys.CONFIG_VERSION, keys.BRANDING, keys.BRANDING_VERSION, keys.USAGE, keys.STORED_OBJECT,
)
PER_CATEGORY_KINDS = (keys.PROFESSIONAL_CATEGORY,)
_INDEX_KEYS = ("gsi1pk", "gsi2pk", "gsi3pk")


def _items(pk: str) -> Iterator[DataItem]:
    cursor: str | None = None
    while True:
        page = data.query_page(pk, limit=PAGE, cursor=cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def _value_size(value: dict[str, Any]) -> int:
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return len(str(raw).lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(base64.b64decode(raw)) if isinstance(raw, str) else len(raw)
    if kind in ("L", "M"):
        members = raw if kind == "L" else raw.values()
        return 3 + sum(1 + _value_size(v) for v in members) + (sum(len(k) for k in raw) if kind == "M" else 0)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v)) for v in raw)
    return 1  # BOOL, NULL


def item_size(item: DataItem) -> int:
    """DynamoDB's size of ``item`` (attribute names and values), times the copies its indexes keep."""
    serialized = item.serialize()
    size = sum(len(name.encode()) + _value_size(value) for name, value in serialized.items())
    copies = 1 + sum(1 for name in _INDEX_KEYS if name in serialized)
    return size * copies


def estimate_item_bytes() -> int:
    slugs = [item.sk for item in _items(data.partition(keys.CATEGORY))]
    partitions = [data.partition(kind) for kind in TABLE_KINDS]
    partitions += [data.partition(kind, slug) for kind in PER_CATEGORY_KINDS for slug in slugs]
    return sum(item_size(item) for pk in partitions for item in _items(pk))


def stored_objects() -> dict[str, int]:
    """Every object under the tenant's prefix in the assets bucket: key -> size."""
    prefix = keys.tenant_object_key(current_tenant_id(), "x")[:-1]
    paginator = clients.for_current_tenant().s3.get_paginator("list_objects_v2")
    found: dict[str, int] = {}
    for page in paginator.paginate(Bucket=get_settings().assets_bucket, Prefix=prefix):
        found.update({entry["Key"]: int(entry["Size"]) for entry in page.get("Contents", [])})
    return found


def _sync_ledger(objects: dict[str, int]) -> None:
    ledger = {item.sk: int(item.used or 0) for item in _items(data.partition(keys.STORED_OBJECT))}
    with DataItem.batch_write() as batch:
        for key, size in objects.items():
            if ledger.get(key) != size:
                batch.save(data.new_item(pk=data.partition(keys.STORED_OBJECT), sk=key, kind=keys.STORED_OBJECT,
                                         used=size))
        for key in ledger.keys() - objects.keys():
            batch.delete(DataItem(pk=data.partition(keys.STORED_OBJECT), sk=key))


def _set(meter: str, before: int | None, value: int, *, guarded: bool) -> bool:
    """Write ``value``; when ``guarded``, only if the counter still holds ``before``."""
    stamp = now_iso()
    if before is None:
        try:
            counters.counter_item(meter, value, reconciled_at=stamp).save(condition=DataItem.pk.does_not_exist())
        except PutError as exc:
            if data.condition_failed(exc):
                return False
            raise
        return True
    # Unguarded still requires the counter to exist: the guard refuses an update that
    # could create an item without its tenant_id.
    condition = (DataItem.used == before) if guarded else DataItem.pk.exists()
    try:
        counters.key(meter).update(actions=[DataItem.used.set(value), DataItem.updated_at.set(stamp)],
                                   condition=condition)
    except UpdateError as exc:
        if data.condition_failed(exc):
            return False
        raise
    return True


def reconcile() -> dict[str, dict[str, Any]]:
    """Reconcile the bound tenant's counters; per meter: ``before``, ``after``, ``corrected``."""
    data.bind()
    report: dict[str, dict[str, Any]] = {}

    def settle(meter: str, measure: Any, *, guarded: bool = True) -> None:
        before = counters.current(meter)  # read before measuring: see the module's docstring
        value = measure()
        written = _set(meter, before, value, guarded=guarded)  # also when equal: records the check
        report[meter] = {"before": before, "after": value if written else before,
                         "corrected": written and before != value, "busy": not written}

    for meter, kind in counters.COUNTED.items():
        shards = counters.read(meter)  # read before counting: see the module's docstring
        before = shards.total if shards.complete else None
        value = counters.count_items(kind)
        quota = shards.quota if shards.complete else int(getattr(effective_limits(), counters.LIMIT_FIELDS[meter]))
        written = counters.rebalance(shards, value, quota, reconciled_at=now_iso())
        report[meter] = {"before": before, "after": value if written else before,
                         "corrected": written and before != value, "busy": not written}
    objects: dict[str, int] = {}

    def file_bytes() -> int:
        objects.update(stored_objects())
        return sum(objects.values())

    settle(counters.FILE_BYTES, file_bytes)
    _sync_ledger(objects)
    settle(counters.ITEM_BYTES, estimate_item_bytes, guarded=False)
    drift = {m: r for m, r in report.items() if r["corrected"] or r["busy"]}
    if drift:
        log.info("usage reconciled", extra={"fields": {"tenant_id": str(current_tenant_id()), "drift": drift}})
    return report
