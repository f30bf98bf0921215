"""The tenant-jobs queue's consumer: one scheduled job for one tenant per message.

The schedules declared with ``@tenant_schedule`` (audit chaining and retention, exports
cleanup, notification retry, referral expiry, usage reconciliation) enqueue here; the
pipeline (tenant binding, per-job deadline, run-id idempotency, continuation of the
enumeration, partial batch failures) is ``entry/fanout.py``.
"""
from __future__ import annotations

from typing import Any

from chalice.app import SQSEvent

from chalicelib.entry import fanout

QUEUE = fanout.TENANT_JOBS_QUEUE
BATCH_SIZE = fanout.BATCH_SIZE


def run_tenant_jobs(event: SQSEvent) -> dict[str, Any]:
    remaining = getattr(getattr(event, "context", None), "get_remaining_time_in_millis", None)
    return fanout.run_batch((record.to_dict() for record in event), remaining)
