"""Digests: what chaining an hour records about a range of events, and how digests chain.

In the manner of CloudTrail's log file integrity validation: each digest covers a
range of event ids ``[start, end)`` (normally whole closed hours), lists every event
in it as ``[id, SHA-256 of the event's canonical JSON]``, hashes that list, and holds
the hash of the previous digest, so digests form a chain from the tenant's first
hour. A digest's own hash is SHA-256 over its canonical JSON. Consecutive digests meet
exactly (``end`` of one is ``start`` of the next), so a missing digest shows as a gap.
A digest covers at most ``MAX_EVENTS`` events (DynamoDB items are limited to 400 KB;
an entry is about 100 bytes); a busy hour is split at an event id.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from chalicelib import clock
from chalicelib.audit import events, ids
from chalicelib.store.data import DataItem

GENESIS = "0" * 64
MAX_EVENTS = 2000


class BrokenChainError(RuntimeError):
    """The newest digest is damaged: chaining stops until someone verifies the trail."""


def stored_event(item: DataItem) -> dict[str, Any] | None:
    """The event document of an item, or None when its ``data`` is not one."""
    try:
        document = json.loads(item.data or "")
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def item_hash(item: DataItem) -> str:
    """SHA-256 of the item's event in canonical form (of its raw text if it is not JSON)."""
    document = stored_event(item)
    return events.event_hash(document) if document is not None else events.sha256(item.data or "")


def entries_hash(entries: list[list[str]]) -> str:
    return events.sha256("\n".join(f"{event_id}:{digest}" for event_id, digest in entries))


def make_digest(tenant_id: UUID, start: str, end: str, entries: list[list[str]], previous: str,
                chained_at: datetime) -> dict[str, Any]:
    # "sealed_at" is the stored key, kept: it is part of every digest's hash, so renaming
    # it would break the verification of digests already written.
    return {
        "tenant_id": str(tenant_id),
        "start": start,
        "end": end,
        "start_at": clock.iso(ids.moment(start)),
        "end_at": clock.iso(ids.moment(end)),
        "count": len(entries),
        "entries": entries,
        "entries_hash": entries_hash(entries),
        "previous": previous,
        "sealed_at": clock.iso(chained_at),
    }


def digest_hash(document: dict[str, Any]) -> str:
    return events.event_hash(document)


def self_consistent(document: dict[str, Any]) -> bool:
    """Whether a digest's list, count and list hash agree (it was not edited on its own)."""
    entries = document.get("entries")
    if not all(isinstance(document.get(name), str) for name in ("start", "end", "previous")):
        return False
    if not isinstance(entries, list) or not all(
            isinstance(e, list) and len(e) == 2 and all(isinstance(part, str) for part in e) for e in entries):
        return False
    ordered = all(entries[i][0] < entries[i + 1][0] for i in range(len(entries) - 1))
    inside = all(document["start"] <= e[0] < document["end"] for e in entries)
    return (ordered and inside and document.get("count") == len(entries)
            and document.get("entries_hash") == entries_hash(entries))
