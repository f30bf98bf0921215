"""The tenant's outbox: every notification a tenant-bound request or job sends waits here.

Choice recorded (issue 10, extended by issue 21): a notification is stored as an item of
the tenant's own partition (``T#<tenant>#OUTBOX``), its recipient and text sealed under
the tenant's key like any PII. The request that triggers it stores it (one conditional
write of its own, after the change it announces committed) and puts its id on the
notifications queue (``dispatch``); the queue's handler sends it, so a slow or dead
provider never adds to a request's latency. A provider that refuses books the next
attempt with backoff (doubling from 5 minutes) for the ``notifications_retry`` schedule,
which also sends any item whose queue message was lost; after ``MAX_ATTEMPTS`` the item
stays as ``failed`` (logged as an error) for an operator instead of vanishing. Delivery
is at least once: the item is deleted after the provider took it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from pynamodb.exceptions import PynamoDBException

from chalicelib import clock, metrics
from chalicelib.crypto import pii
from chalicelib.integrations.errors import ProviderError
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem
from chalicelib.store.unit_of_work import UnitOfWork, WriteCancelledError

log = logging.getLogger("notifications")

PENDING, FAILED = "pending", "failed"
MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(minutes=5)
PAGE = 100
MAX_PAGES = 20
QUEUED_PREFIX = "queued:"

Deliver = Callable[[str, dict[str, Any]], str]


def _pk() -> str:
    return data.partition(keys.OUTBOX)


def backoff(attempts: int) -> timedelta:
    return FIRST_BACKOFF * (2 ** max(0, attempts - 1))


def enqueue(channel: str, message: dict[str, Any], error: ProviderError) -> str:
    """Keep ``message`` for a retry after its first attempt failed; its outbox id."""
    outbox_id = keys.time_ordered(clock.now_iso(), uuid4())
    now = clock.now()
    item = data.new_item(pk=_pk(), sk=outbox_id, kind=keys.OUTBOX, entity_id=outbox_id, status=PENDING, version=1,
                         created_at=clock.iso(now), updated_at=clock.iso(now),
                         data=data.dumps({"channel": channel, "attempts": 1, "last_error": str(error),
                                          "next_attempt_at": clock.iso(now + backoff(1))}),
                         pii=pii.seal(keys.OUTBOX, outbox_id, message))
    item.save(condition=DataItem.pk.does_not_exist())
    log.warning("notification failed; kept for a retry", extra={"fields": {
        "channel": channel, "provider": error.provider, "reason": error.reason, "outbox_id": outbox_id}})
    return QUEUED_PREFIX + outbox_id


def pending() -> Iterator[DataItem]:
    """Pending items, oldest first; at most ``MAX_PAGES`` pages a run (items kept as failed
    are read past, so they cannot hide pending ones behind a first page)."""
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = data.query_page(_pk(), limit=PAGE, cursor=cursor, filter_condition=DataItem.status == PENDING)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def _update(item: DataItem, actions: list[Any]) -> None:
    expected = int(item.version or 1)

    uow = UnitOfWork()
    uow.update("message", item, [*actions, DataItem.version.set(expected + 1)], DataItem.version == expected)
    try:
        uow.commit()
    except WriteCancelledError as exc:
        if "message" not in exc.failed:
            raise
        # Another run of the schedule handled it meanwhile.


def attempt(item: DataItem, deliver: Deliver, moment: datetime) -> str:
    """Send ``item`` once: ``sent`` (and the item deleted), ``deferred`` (its next attempt
    booked with backoff) or ``abandoned`` (kept as failed after ``MAX_ATTEMPTS``)."""
    fields = data.loads(item.data)
    message = pii.unseal(keys.OUTBOX, str(item.entity_id), item.pii)
    attempts = int(fields["attempts"]) + 1
    try:
        deliver(fields["channel"], message)
    except ProviderError as exc:
        give_up = attempts >= MAX_ATTEMPTS
        fields.update(attempts=attempts, last_error=str(exc), next_attempt_at=clock.iso(moment + backoff(attempts)))
        _update(item, [DataItem.data.set(data.dumps(fields)), DataItem.updated_at.set(clock.iso(moment)),
                       DataItem.status.set(FAILED if give_up else PENDING)])
        level, text = (logging.ERROR, "notification abandoned") if give_up else (logging.WARNING,
                                                                                "notification attempt failed")
        log.log(level, text, extra={"fields": {"channel": fields["channel"], "provider": exc.provider,
                                               "reason": exc.reason, "attempts": attempts, "outbox_id": item.sk}})
        outcome = "abandoned" if give_up else "deferred"
        metrics.record("NotificationsSent", Channel=fields["channel"], Outcome=outcome)
        return outcome
    try:
        DataItem(pk=item.pk, sk=item.sk).delete(condition=DataItem.version == item.version)
    except PynamoDBException as exc:
        if not data.condition_failed(exc):
            raise
    log.info("notification delivered", extra={"fields": {"channel": fields["channel"], "attempts": attempts,
                                                         "outbox_id": item.sk}})
    metrics.record("NotificationsSent", Channel=fields["channel"], Outcome="sent")
    return "sent"


def store(channel: str, message: dict[str, Any], first_attempt_in: timedelta) -> str:
    """Keep ``message`` for the sender (its own conditional write); its outbox id. Nothing
    was attempted yet; the retry schedule takes it up after ``first_attempt_in`` if the
    queue-driven sender has not delivered it by then."""
    outbox_id = keys.time_ordered(clock.now_iso(), uuid4())
    now = clock.now()
    item = data.new_item(pk=_pk(), sk=outbox_id, kind=keys.OUTBOX, entity_id=outbox_id, status=PENDING, version=1,
                         created_at=clock.iso(now), updated_at=clock.iso(now),
                         data=data.dumps({"channel": channel, "attempts": 0, "last_error": None,
                                          "next_attempt_at": clock.iso(now + first_attempt_in)}),
                         pii=pii.seal(keys.OUTBOX, outbox_id, message))
    item.save(condition=DataItem.pk.does_not_exist())
    return outbox_id


def deliver_stored(outbox_id: str, deliver: Deliver, now: datetime | None = None) -> str:
    """The queue-driven send of one stored item: its outcome, or ``gone`` when it was
    already delivered or given up (a message delivered twice sends once)."""
    item = data.get(_pk(), outbox_id)
    if item is None or item.status != PENDING:
        return "gone"
    return attempt(item, deliver, now or clock.now())


def retry_due(deliver: Deliver, now: datetime | None = None) -> dict[str, int]:
    """Send again every pending item whose time has come; counts of sent, deferred, abandoned."""
    moment = now or clock.now()
    counts = {"sent": 0, "deferred": 0, "abandoned": 0}
    for item in pending():
        if data.loads(item.data)["next_attempt_at"] > clock.iso(moment):
            continue
        counts[attempt(item, deliver, moment)] += 1
    return counts
