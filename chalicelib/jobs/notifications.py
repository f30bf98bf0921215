"""The notifications queue's sender and the scheduled retry of what a provider refused
(``notifications.dispatch`` and ``notifications.outbox``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import lazy
from chalicelib.entry import tenant_handler, tenant_schedule
from chalicelib.notifications.dispatch import BATCH_SIZE as QUEUE_BATCH_SIZE
from chalicelib.notifications.dispatch import NOTIFICATIONS_QUEUE

if TYPE_CHECKING:
    from chalicelib.notifications import sender
else:
    # Deferred to the first call that runs them (cold start: docs/cold-start.md).
    sender = lazy.module("chalicelib.notifications.sender")

RETRY_SCHEDULE = "rate(5 minutes)"
QUEUE = NOTIFICATIONS_QUEUE
BATCH_SIZE = QUEUE_BATCH_SIZE


@tenant_schedule
def retry_notifications(_detail: dict[str, Any]) -> None:
    sender.retry_outbox()


@tenant_handler
def send_notification(body: dict[str, Any]) -> None:
    sender.send_queued(body)
