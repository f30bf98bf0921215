"""The daily retention run for the bound tenant: delete what the retention in force expired.

Events written before ``now - retention_days`` are deleted (reads already hide them).
Digests are deleted one run later than their events: only those that end at or before
the watermark that a completed run recorded in the anchor, so every digest ever removed
is covered by the watermark, and verification can tell retention from tampering even if
a run stops half-way. The run ends with one transaction: its own audit event (counts
deleted) and the new watermark.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib import clock
from chalicelib.audit import ids, platform, policy, recording, trail
from chalicelib.audit.actions import Action
from chalicelib.audit.events import Target
from chalicelib.store import data
from chalicelib.tenancy.context import current_context


def apply_retention(now: datetime | None = None) -> dict[str, Any]:
    """Purge the bound tenant's expired events and digests; what the run did."""
    ctx = current_context()
    now = now or clock.now()
    days = policy.retention_days(ctx.tenant)
    cutoff = ids.floor(policy.cutoff(ctx.tenant, now))
    watermark = platform.anchor(ctx.tenant_id).purged_before
    events_deleted = trail.delete(trail.iter_events(None, cutoff, keys_only=True))
    digests_deleted = 0
    if watermark:
        expired = (d for d in trail.iter_digests(watermark) if trail.digest_document(d)["end"] <= watermark)
        digests_deleted = trail.delete(expired)
    # Monotonic: after a lengthening, what an earlier, shorter retention purged stays purged.
    purged_before = max(watermark or "", cutoff)
    details = {
        "retention_days": days,
        "cutoff": clock.iso(ids.moment(cutoff)),
        "events_deleted": events_deleted,
        "digests_deleted": digests_deleted,
        "purged_before": clock.iso(ids.moment(purged_before)),
    }

    def build(tx: TransactWrite) -> None:
        recording.record(tx, Action.AUDIT_RETENTION_APPLIED, Target("audit_trail", str(ctx.tenant_id)),
                         details=details)
        platform.purge_anchor(tx, ctx.tenant_id, purged_before)

    data.transact(build, with_registry=True)
    return details
