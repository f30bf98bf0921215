"""Notifications off the request path: stored in the outbox, sent by the queue's handler.

:func:`post` is what a tenant-bound caller uses: it stores the message in the tenant's
outbox (its own conditional write) and sends the outbox id to ``NOTIFICATIONS_QUEUE``,
then returns ``queued:<outbox id>`` without waiting for any provider. The
``notifications_sender`` handler (``jobs/notifications.py``) re-binds the tenant from the
message and calls :func:`deliver`. Retries: a provider's refusal books the next attempt
in the outbox with backoff (the ``notifications_retry`` schedule sends it); any other
failure (DynamoDB, KMS) fails the message, which SQS redelivers and, after the queue's
``maxReceiveCount``, moves to its dead-letter queue, while the item itself still waits
in the outbox for the schedule. If the queue cannot be reached at all, the item is sent
by the schedule once ``FIRST_ATTEMPT_BY_SCHEDULE`` has passed.
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws, lazy
from chalicelib.tenancy.context import current_context

if TYPE_CHECKING:
    from chalicelib.notifications import outbox
    from chalicelib.notifications.outbox import Deliver
else:
    # Deferred to the first message (cold start: docs/cold-start.md): app.py reads this
    # module's queue name and batch size; the outbox pulls in PII sealing and the store.
    outbox = lazy.module("chalicelib.notifications.outbox")

log = logging.getLogger("notifications")

# A stable literal, as the other queues: app.py declares its handler when imported.
NOTIFICATIONS_QUEUE = "tenant-platform-notifications"
# Ten messages a batch: each is one provider call bounded by INTEGRATION_TIMEOUT_SECONDS.
BATCH_SIZE = 10
# When the retry schedule sends an item the queue did not (a lost message): well after
# the queue's handler normally has (seconds), so the two rarely both send.
FIRST_ATTEMPT_BY_SCHEDULE = timedelta(minutes=5)


def _enqueue(outbox_id: str) -> None:
    tenant_id = str(current_context().tenant_id)
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=NOTIFICATIONS_QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"tenant_id": tenant_id, "outbox_id": outbox_id}),
                     MessageAttributes={"tenant_id": {"DataType": "String", "StringValue": tenant_id}})


def post(channel: str, message: dict[str, Any]) -> str:
    """Store ``message`` for the bound tenant and queue its sending; ``queued:<outbox id>``."""
    outbox_id = outbox.store(channel, message, FIRST_ATTEMPT_BY_SCHEDULE)
    try:
        _enqueue(outbox_id)
    except (BotoCoreError, ClientError):
        log.warning("notification not queued; the retry schedule will send it", exc_info=True,
                    extra={"fields": {"channel": channel, "outbox_id": outbox_id}})
    return outbox.QUEUED_PREFIX + outbox_id


def deliver(body: dict[str, Any], send: Deliver) -> str:
    """Send the outbox item a queue message names; its outcome (``outbox.attempt``)."""
    outbox_id = body.get("outbox_id")
    if not isinstance(outbox_id, str) or not outbox_id:
        raise ValueError("a notification message names its outbox item")
    return outbox.deliver_stored(outbox_id, send)
