"""Notifications a provider did not take, kept in the tenant's outbox and retried.

Choice recorded (issue 10): a failed send is stored as an item of the tenant's own
partition (``T#<tenant>#OUTBOX``), its recipient and text sealed under the tenant's key
like any PII, and the ``notifications_retry`` schedule (every 5 minutes, once per
active tenant) sends it again through the provider resolved *then*, so fixing or
removing a broken tenant integration delivers what waited. Backoff doubles from 5
minutes; after ``MAX_ATTEMPTS`` the item stays as ``failed`` (logged as an error) for
an operator instead of vanishing. An outbox rather than an SQS retry queue: the message
lives where the tenant guard, the key rotation and the tenant's deletion already reach,
and nothing new has to be deployed.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from pynamodb.exceptions import PynamoDBException
from pynamodb.transactions import TransactWrite

from chalicelib import clock
from chalicelib.crypto import pii
from chalicelib.integrations.errors import ProviderError
from chalicelib.store import data, keys
from chalicelib.store.data import DataItem, TransactionCancelledError

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

    def build(tx: TransactWrite) -> None:
        tx.update(item, actions=[*actions, DataItem.version.set(expected + 1)], condition=DataItem.version == expected)

    try:
        data.transact(build)
    except TransactionCancelledError as exc:
        if not exc.failed(0):
            raise
        # Another run of the schedule handled it meanwhile.


def retry_due(deliver: Deliver, now: datetime | None = None) -> dict[str, int]:
    """Send again every pending item whose time has come; counts of sent, deferred, abandoned."""
    moment = now or clock.now()
    counts = {"sent": 0, "deferred": 0, "abandoned": 0}
    for item in pending():
        fields = data.loads(item.data)
        if fields["next_attempt_at"] > clock.iso(moment):
            continue
        message = pii.unseal(keys.OUTBOX, str(item.entity_id), item.pii)
        try:
            deliver(fields["channel"], message)
        except ProviderError as exc:
            attempts = int(fields["attempts"]) + 1
            give_up = attempts >= MAX_ATTEMPTS
            fields.update(attempts=attempts, last_error=str(exc), next_attempt_at=clock.iso(moment + backoff(attempts)))
            _update(item, [DataItem.data.set(data.dumps(fields)), DataItem.updated_at.set(clock.iso(moment)),
                           DataItem.status.set(FAILED if give_up else PENDING)])
            level, text = (logging.ERROR, "notification abandoned") if give_up else (logging.WARNING,
                                                                                    "notification retry failed")
            log.log(level, text, extra={"fields": {"channel": fields["channel"], "provider": exc.provider,
                                                   "reason": exc.reason, "attempts": attempts,
                                                   "outbox_id": item.sk}})
            counts["abandoned" if give_up else "deferred"] += 1
            continue
        try:
            DataItem(pk=item.pk, sk=item.sk).delete(condition=DataItem.version == item.version)
        except PynamoDBException as exc:
            if not data.condition_failed(exc):
                raise
        log.info("notification delivered on retry", extra={"fields": {"channel": fields["channel"],
                                                                      "attempts": int(fields["attempts"]) + 1,
                                                                      "outbox_id": item.sk}})
        counts["sent"] += 1
    return counts
