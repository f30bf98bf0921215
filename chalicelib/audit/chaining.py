"""Chaining: each closed hour of the bound tenant's events goes into a chained digest.

Run hourly by a scheduled job, per active tenant. The range chained runs from where the
last digest ended (the tenant's creation hour for the first) to the last hour that
closed more than ``policy.CHAIN_MARGIN`` ago, so no event of a chained hour can still be
in flight. Every closed hour is covered, events or not, so an event later inserted in
a quiet hour is caught too. Writes are never serialised for this: events are written
freely, and only the chaining run, once an hour, reads them.

Each digest is written in one transaction with the tenant's anchor in the registry,
conditioned on the anchor's previous digest, so two concurrent runs cannot fork the
chain; and a chain whose newest digest is not the anchor's is not extended (the run
fails, for this tenant, and verification reports why).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from chalicelib import clock
from chalicelib.audit import chain, ids, platform, policy, trail
from chalicelib.store.unit_of_work import UnitOfWork
from chalicelib.tenancy.context import current_context

# One run catches up at most this many digests (a week of hours); the next run continues.
MAX_DIGESTS_PER_RUN = 168


def chainable_end(now: datetime) -> str:
    """The key bound up to which events may be chained at ``now``."""
    return ids.floor(ids.hour_floor(now - policy.CHAIN_MARGIN))


def genesis(created_at: datetime) -> str:
    """Where the tenant's chain starts: the hour it was created in."""
    return ids.floor(ids.hour_floor(created_at))


def _entries(start: str, limit: str) -> tuple[list[list[str]], str]:
    """The events from ``start`` (at most ``chain.MAX_EVENTS``) and where the digest ends."""
    entries: list[list[str]] = []
    for item in trail.iter_events(start, limit):
        if len(entries) == chain.MAX_EVENTS:
            return entries, item.sk
        entries.append([item.sk, chain.item_hash(item)])
    return entries, limit


def _head(tenant_id: UUID, created_at: datetime) -> tuple[str, str, str | None]:
    """Where the chain continues: (start, previous digest's hash, previous end or None).

    The anchor says where the last chained digest ended; the newest digest must be that one,
    unless retention has purged every digest. Anything else is a damaged chain, and
    extending it would launder the damage, so the run stops.
    """
    anchor = platform.anchor(tenant_id)
    last = trail.latest_digest()
    if anchor.chained_end is None:
        if last is not None:
            raise chain.BrokenChainError("digests exist that the anchor never recorded")
        return genesis(created_at), chain.GENESIS, None
    if last is None:
        if anchor.chained_end > (anchor.purged_before or ""):
            raise chain.BrokenChainError("the anchor records a chained range that no digest holds")
        return anchor.chained_end, anchor.chained_hash or chain.GENESIS, anchor.chained_end
    document = trail.digest_document(last)
    if document.get("start") != last.sk or not chain.self_consistent(document) or \
            document["end"] != anchor.chained_end or chain.digest_hash(document) != anchor.chained_hash:
        raise chain.BrokenChainError("the newest digest is not the one the anchor recorded")
    return anchor.chained_end, chain.digest_hash(document), anchor.chained_end


def chain_closed_hours(now: datetime | None = None) -> dict[str, Any]:
    """Chain every closed hour of the bound tenant not chained yet; what was written."""
    ctx = current_context()
    now = now or clock.now()
    limit = chainable_end(now)
    start, previous, previous_end = _head(ctx.tenant_id, ctx.tenant.created_at)
    written = 0
    while start < limit and written < MAX_DIGESTS_PER_RUN:
        entries, end = _entries(start, limit)
        digest = chain.make_digest(ctx.tenant_id, start, end, entries, previous, now)
        digest_hash = chain.digest_hash(digest)

        uow = UnitOfWork(with_registry=True)
        uow.put("digest", trail.digest_item(digest, now), trail.NEW_DIGEST)
        platform.chain_anchor(uow, ctx.tenant_id, previous_end=previous_end, end=digest["end"],
                              digest_hash=digest_hash)
        uow.commit()
        start, previous, previous_end = end, digest_hash, end
        written += 1
    return {"digests_written": written, "chained_through": clock.iso(ids.moment(start))}
