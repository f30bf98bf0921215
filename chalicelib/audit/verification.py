"""Verification: recompute the bound tenant's chain over the retained range.

Walks the digests oldest first and the events beside them, in id order (the trail's
shards merged: ``trail.iter_events``), and reports every difference, the first one first
(an event copied into a second shard shows as ``inserted``):

* ``altered``: an event whose canonical hash (or filterable copy) differs from its digest entry;
* ``inserted``: an event in a chained range that no digest lists;
* ``deleted``: an event a digest lists that is gone, though not expired;
* ``digest_altered``: a digest that disagrees with itself, with the next digest's link,
  or with the anchor;
* ``digest_missing``: a gap between digests, digests missing before the first retained
  one (beyond what retention removed) or after the last (the anchor says more was chained).

The chain is checked from the first retained digest (retention deletes the oldest; the
first one's link to its deleted predecessor cannot be checked, so the anchor's
retention watermark says where it may begin). Events older than the retention in force
or than the watermark are expired: their absence is not a problem. Events after the
last digest are counted as not yet chained (``unsealed_events`` in the report, the
API's field name), not judged.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from chalicelib import clock
from chalicelib.audit import chain, chaining, events, ids, platform, policy, trail
from chalicelib.store.data import DataItem
from chalicelib.tenancy.context import current_context

MAX_REPORTED = 20


class _Events:
    """The event stream with one item of look-ahead."""

    def __init__(self, items: Iterator[DataItem]) -> None:
        self._items = items
        self.head: DataItem | None = next(items, None)

    def take(self) -> DataItem:
        item, self.head = self.head, next(self._items, None)
        assert item is not None
        return item

    def before(self, bound: str) -> bool:
        return self.head is not None and self.head.sk < bound


class _Report:
    def __init__(self) -> None:
        self.problems: list[dict[str, Any]] = []
        self.count = 0
        self.events_checked = 0
        self.digests_checked = 0

    def add(self, kind: str, *, event_id: str | None = None, digest: str | None = None, detail: str) -> None:
        self.count += 1
        if len(self.problems) < MAX_REPORTED:
            at = clock.iso(ids.moment(event_id)) if event_id and ids.is_id(event_id) else None
            digest_at = clock.iso(ids.moment(digest)) if digest and ids.is_id(digest) else None
            self.problems.append({"kind": kind, "event_id": event_id, "event_at": at,
                                  "digest_start": digest_at, "detail": detail})


def _consistent(item: DataItem, tenant_id: str) -> bool:
    """Whether an item's keys and filterable copies say what its chained event says."""
    event = chain.stored_event(item)
    try:
        target = f'{event["target"]["kind"]}:{event["target"]["id"]}' if event else None
        actor = events.actor_ref(event) if event else None
    except (KeyError, TypeError):
        return False
    return (event is not None and event.get("id") == item.sk and event.get("tenant_id") == tenant_id
            and item.action == event.get("action") and item.actor == actor and item.target == target)


def _compare(report: _Report, document: dict[str, Any], stream: _Events, floor: str, tenant_id: str) -> None:
    """Match one digest's entries (those not expired) against the events it covers."""
    start, end = document["start"], document["end"]
    while stream.before(start):  # events no digest covers (before the first, or in a gap)
        report.add("inserted", event_id=stream.take().sk, detail="no digest covers this event")
    for event_id, chained_hash in (e for e in document["entries"] if e[0] >= floor):
        while stream.before(event_id):
            report.add("inserted", event_id=stream.take().sk, digest=start, detail="not in its hour's digest")
        if stream.head is None or stream.head.sk != event_id:
            report.add("deleted", event_id=event_id, digest=start, detail="chained, not expired, and missing")
            continue
        item = stream.take()
        report.events_checked += 1
        if chain.item_hash(item) != chained_hash or not _consistent(item, tenant_id):
            report.add("altered", event_id=event_id, digest=start, detail="differs from the chained event")
    while stream.before(end):
        report.add("inserted", event_id=stream.take().sk, digest=start, detail="not in its hour's digest")


def _digests(report: _Report) -> Iterator[dict[str, Any]]:
    """The stored digests, oldest first; one that disagrees with itself is reported and skipped."""
    for item in trail.iter_digests():
        document = trail.digest_document(item)
        report.digests_checked += 1
        if document.get("start") != item.sk or not chain.self_consistent(document):
            report.add("digest_altered", digest=item.sk, detail="the digest does not match its own entries")
            continue
        yield document


def _vouched(report: _Report, digest: dict[str, Any], successor: dict[str, Any] | None,
             anchor: platform.Anchor) -> None:
    """Whether ``digest`` is what its successor (or, for the newest, the anchor) recorded.
    Reported before the digest's events, since an edited digest explains their differences."""
    if successor is not None:
        if successor["start"] == digest["end"] and successor["previous"] != chain.digest_hash(digest):
            report.add("digest_altered", digest=digest["start"], detail="the next digest's link does not match")
    elif anchor.chained_end == digest["end"] and anchor.chained_hash != chain.digest_hash(digest):
        report.add("digest_altered", digest=digest["start"], detail="the newest digest differs from the anchor")


def _followed(report: _Report, digest: dict[str, Any], successor: dict[str, Any] | None,
              anchor: platform.Anchor) -> None:
    """Whether what comes after ``digest`` is there: the next digest, or nothing the anchor chained."""
    if successor is not None and successor["start"] != digest["end"]:
        report.add("digest_missing", digest=digest["end"], detail="two digests do not meet (a gap or an overlap)")
    elif successor is None and anchor.chained_end and digest["end"] != anchor.chained_end:
        report.add("digest_missing", digest=digest["end"], detail="the anchor records later digests")


def verify(now: datetime | None = None) -> dict[str, Any]:
    ctx = current_context()
    now = now or clock.now()
    tenant_id = str(ctx.tenant_id)
    anchor = platform.anchor(ctx.tenant_id)
    watermark = anchor.purged_before or ""
    floor = max(ids.floor(policy.cutoff(ctx.tenant, now)), watermark)  # older: expired or purged
    expected_first = max(chaining.genesis(ctx.tenant.created_at), watermark)
    report = _Report()
    stream = _Events(trail.iter_events(floor))
    documents = _digests(report)
    current = next(documents, None)
    if current is None and anchor.chained_end and anchor.chained_end > watermark:
        report.add("digest_missing", detail="the anchor records digests, and none is left")
    elif current is not None and current["start"] > expected_first:
        report.add("digest_missing", digest=expected_first, detail="digests before the first retained one")
    chained_end = None
    while current is not None:
        successor = next(documents, None)
        _vouched(report, current, successor, anchor)
        _compare(report, current, stream, floor, tenant_id)
        _followed(report, current, successor, anchor)
        chained_end, current = current["end"], successor
    unchained = 0
    while stream.head is not None:
        stream.take()
        unchained += 1
    return {
        "valid": report.count == 0,
        "retention_days": policy.retention_days(ctx.tenant),
        "verified_from": clock.iso(ids.moment(floor)),
        "sealed_through": clock.iso(ids.moment(chained_end)) if chained_end else None,  # API name kept
        "digests_checked": report.digests_checked,
        "events_checked": report.events_checked,
        "unsealed_events": unchained,  # API name kept
        "problem_count": report.count,
        "first_problem": report.problems[0] if report.problems else None,
        "problems": report.problems,
    }
