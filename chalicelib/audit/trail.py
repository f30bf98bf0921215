"""The bound tenant's trail in the data table: events and digests, read in key order.

Events are spread over the trail's shards (``keys.AUDIT_SHARD_KINDS``, one partition
each); :func:`iter_events` merges the shards' Queries by event id, so chaining,
verification and retention see one stream in id order, as before sharding: the digest
chain is one chain over the merge, and an event altered, inserted or deleted in any
shard shows in it. Reads that chain, verify or purge are strongly consistent, so an event
committed before the read began is never missed.
"""
from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from chalicelib.audit import events, policy
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem

NEW_DIGEST = DataItem.pk.does_not_exist()
_PAGE = 500


def events_pks() -> list[str]:
    """The partitions of the trail's shards."""
    return [data.partition(kind) for kind in keys.AUDIT_SHARD_KINDS]


def digests_pk() -> str:
    return data.partition(keys.AUDIT_DIGEST)


def _range(start: str | None, end: str | None) -> Any:
    """A key condition for ``start <= sk <= end`` (callers drop ``sk == end``: a sort key
    condition is one comparison or one BETWEEN, and BETWEEN is inclusive)."""
    if start is not None and end is not None:
        return DataItem.sk.between(start, end)
    if start is not None:
        return DataItem.sk >= start
    if end is not None:
        return DataItem.sk < end
    return None


def iter_events(start: str | None = None, end: str | None = None, *,
                keys_only: bool = False) -> Iterator[DataItem]:
    """Events with ``start <= id < end``, oldest first."""
    if start is not None and end is not None and end <= start:
        return
    data.bind()
    shards = [DataItem.query(pk, range_key_condition=_range(start, end), consistent_read=True, page_size=_PAGE,
                             attributes_to_get=["pk", "sk"] if keys_only else None) for pk in events_pks()]
    for item in heapq.merge(*shards, key=_event_id):
        if end is not None and item.sk >= end:
            return
        yield item


def _event_id(item: DataItem) -> str:
    return str(item.sk)


def iter_digests(end: str | None = None) -> Iterator[DataItem]:
    """Digests whose start is before ``end`` (all when None), oldest first."""
    data.bind()
    return DataItem.query(digests_pk(), range_key_condition=_range(None, end), consistent_read=True, page_size=50)


def latest_digest() -> DataItem | None:
    data.bind()
    return next(iter(DataItem.query(digests_pk(), consistent_read=True, scan_index_forward=False, limit=1)), None)


def digest_document(item: DataItem) -> dict[str, Any]:
    """A digest's document; empty when its ``data`` is not one (verification says so)."""
    try:
        document = json.loads(item.data or "")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def digest_item(document: dict[str, Any], chained_at: datetime) -> DataItem:
    return data.new_item(pk=digests_pk(), sk=document["start"], kind=keys.AUDIT_DIGEST,
                         created_at=document["sealed_at"], data=events.canonical(document),
                         expires_at=policy.ttl_backstop(chained_at))


def delete(items: Iterable[DataItem]) -> int:
    """Delete ``items`` in batches (BatchWriteItem, 25 a call); how many were deleted."""
    data.bind()
    count = 0
    with DataItem.batch_write() as batch:
        for item in items:
            batch.delete(DataItem(pk=item.pk, sk=item.sk))
            count += 1
    return count
