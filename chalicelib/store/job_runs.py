"""A fanned-out job's run for the bound tenant: the marker that runs it once per run id.

A scheduled job reaches each tenant as an SQS message (``entry/fanout.py``), and SQS
delivers at least once; EventBridge also retries a failed schedule invocation with the
same event id, which enqueues the same (job, tenant, run id) again. Before running, the
consumer claims the run: an item in the tenant's own partition (``T#<tenant>#JOBRUN``,
sort key ``<job>#<run id>``), written on the tenant's credentials like its other items.

- ``done``: never claimed again (a redelivery is acknowledged and nothing runs);
- ``failed``: the next delivery claims it at once (that is the retry);
- ``running``: claimed again only after ``lease_seconds`` (a Lambda that timed out in the
  middle of the job leaves it so); before that a second, concurrent delivery is refused.

Markers expire with DynamoDB's TTL after ``MARKER_DAYS``, well past the queue's retention
(4 days), after which no delivery of the run can arrive.
"""
from __future__ import annotations

import enum
from datetime import timedelta

from pynamodb.exceptions import PutError

from chalicelib import clock
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem

RUNNING, DONE, FAILED = "running", "done", "failed"
MARKER_DAYS = 8


class Claim(enum.Enum):
    CLAIMED = "claimed"
    ALREADY_DONE = "already_done"
    HELD = "held"  # another delivery runs it now (its lease has not expired)


def _key(job: str, run_id: str) -> tuple[str, str]:
    return data.partition(keys.JOB_RUN), f"{job}#{run_id}"


def _item(job: str, run_id: str, status: str) -> DataItem:
    pk, sk = _key(job, run_id)
    now = clock.now()
    return data.new_item(pk=pk, sk=sk, kind=keys.JOB_RUN, status=status, updated_at=clock.iso(now),
                         data=data.dumps({"job": job, "run_id": run_id}),
                         expires_at=int((now + timedelta(days=MARKER_DAYS)).timestamp()))


def claim(job: str, run_id: str, *, lease_seconds: int) -> Claim:
    """Take the run for this delivery, or say why not."""
    item = _item(job, run_id, RUNNING)
    stale = clock.iso(clock.now() - timedelta(seconds=lease_seconds))
    condition = (DataItem.pk.does_not_exist() | (DataItem.status == FAILED)
                 | ((DataItem.status == RUNNING) & (DataItem.updated_at < stale)))
    try:
        item.save(condition=condition)
        return Claim.CLAIMED
    except PutError as exc:
        if not data.condition_failed(exc):
            raise
    stored = data.get(*_key(job, run_id))
    return Claim.ALREADY_DONE if stored is not None and stored.status == DONE else Claim.HELD


def finish(job: str, run_id: str, *, succeeded: bool) -> None:
    """Record the outcome of a claimed run: ``done`` for good, or ``failed`` for the retry to claim."""
    _item(job, run_id, DONE if succeeded else FAILED).save()


def status(job: str, run_id: str) -> str | None:
    stored = data.get(*_key(job, run_id))
    return stored.status if stored is not None else None
