"""The notifications queue's sender and the scheduled retry of what a provider refused
(``notifications.dispatch`` and ``notifications.outbox``)."""
from __future__ import annotations

from typing import Any

from chalicelib.entry import tenant_handler, tenant_schedule
from chalicelib.notifications import NOTIFICATIONS_QUEUE, retry_outbox, send_queued
from chalicelib.notifications.dispatch import BATCH_SIZE as QUEUE_BATCH_SIZE

RETRY_SCHEDULE = "rate(5 minutes)"
QUEUE = NOTIFICATIONS_QUEUE
BATCH_SIZE = QUEUE_BATCH_SIZE


@tenant_schedule
def retry_notifications(_detail: dict[str, Any]) -> None:
    retry_outbox()


@tenant_handler
def send_notification(body: dict[str, Any]) -> None:
    send_queued(body)
