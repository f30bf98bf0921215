"""Deliver local SQS messages and scheduled events to the app's handlers.

``chalice local`` serves HTTP only. This pump reads the app's own declarations
(``app.event_sources``), so any ``@app.on_sqs_message`` or ``@app.schedule`` handler a
feature adds works locally with no extra wiring: queues are polled and their messages
delivered in Lambda's event shape, partial batch failures are honoured (failed
messages return to the queue and reach its dead-letter queue after its
``maxReceiveCount``), and schedules fire on their cadence.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from chalice import Chalice
from chalice.app import ScheduledEventConfig, SQSEventConfig

from chalicelib import aws, clock
from chalicelib.entry.fanout import TENANT_JOBS_QUEUE
from chalicelib.local.schedules import Schedule, parse_schedule

log = logging.getLogger("local.pump")
# Locally a failed message is retried after a short pause, not after the 6-minute
# visibility timeout a deployed queue has.
LOCAL_RETRY_DELAY_SECONDS = 2


class LocalLambdaContext:
    """The part of Lambda's context object handlers use."""

    def __init__(self, function_name: str, timeout_seconds: int = 60) -> None:
        self.function_name = function_name
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = {
        name: {"stringValue": value.get("StringValue"), "dataType": value.get("DataType", "String")}
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def scheduled_event(name: str, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{name}"],
        "detail": {},
    }


class EventPump:
    def __init__(self, app: Chalice, region: str) -> None:
        self.app = app
        self.region = region
        self.queues = [s for s in app.event_sources if isinstance(s, SQSEventConfig) and s.queue]
        self.schedules: list[tuple[ScheduledEventConfig, Schedule]] = [
            (s, parse_schedule(_expression(s))) for s in app.event_sources if isinstance(s, ScheduledEventConfig)
        ]
        self._next_fire: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- SQS ------------------------------------------------------------------------------
    def pump_queue(self, source: SQSEventConfig, wait_seconds: int = 0) -> int:
        """Deliver one batch from ``source``'s queue; returns how many messages were handled."""
        return len(self._deliver_batch(source, wait_seconds))

    def _deliver_batch(self, source: SQSEventConfig, wait_seconds: int = 0) -> list[tuple[dict[str, Any], bool]]:
        """Deliver one batch; each message received, and whether it failed (it returns to the queue)."""
        sqs = aws.client("sqs")
        url = sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        received = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(max(source.batch_size, 1), 10),
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return []
        event = {"Records": [_record(m, arn, self.region) for m in received]}
        failed: set[str] = set()
        try:
            result = self.app.handler_map[source.name](event, LocalLambdaContext(source.name))
            if isinstance(result, dict):
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            log.exception("SQS handler %s raised; the whole batch will be retried", source.name)
            failed = {m["MessageId"] for m in received}
        for message in received:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=LOCAL_RETRY_DELAY_SECONDS
                )
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [(message, message["MessageId"] in failed) for message in received]

    def drain(self, max_rounds: int = 100) -> int:
        """Deliver until every queue is empty (or ``max_rounds``); for tests and the CLI."""
        handled = 0
        for _ in range(max_rounds):
            round_count = sum(self.pump_queue(q) for q in self.queues)
            handled += round_count
            if round_count == 0:
                break
        return handled

    # -- schedules ------------------------------------------------------------------------
    def fire(self, name: str, *, deliver: bool = True) -> Any:
        """Run the schedule handler ``name`` now, as EventBridge would.

        A ``@tenant_schedule`` enqueues its tenants' jobs; with ``deliver`` they are then
        delivered from the tenant-jobs queue (continuations included) until nothing is
        visible, and the result says which tenants' jobs ran and which failed on their
        first delivery (a failed one is back on the queue, for the next pump or its DLQ).
        """
        if name not in self.app.handler_map or not any(s.name == name for s, _ in self.schedules):
            raise KeyError(f"no scheduled handler named {name!r}; known: {[s.name for s, _ in self.schedules]}")
        result = self.app.handler_map[name](scheduled_event(name, self.region), LocalLambdaContext(name))
        if deliver and isinstance(result, dict) and "run_id" in result:
            result = {**result, **self.deliver_run(str(result["run_id"]))}
        return result

    def deliver_run(self, run_id: str, max_rounds: int = 10_000) -> dict[str, Any]:
        """Deliver the tenant-jobs queue until a receive is empty; the outcome of ``run_id``'s jobs."""
        source = next((q for q in self.queues if q.queue == TENANT_JOBS_QUEUE), None)
        ran: set[str] = set()
        failed: set[str] = set()
        for _ in range(max_rounds if source is not None else 0):
            delivered = self._deliver_batch(source)  # type: ignore[arg-type]
            if not delivered:
                break
            for message, message_failed in delivered:
                body = _json_or_none(message["Body"])
                if isinstance(body, dict) and body.get("run_id") == run_id and isinstance(body.get("tenant_id"), str):
                    (failed if message_failed else ran).add(body["tenant_id"])
        return {"tenants_processed": len(ran), "tenants_failed": sorted(failed - ran)}

    def fire_due(self, now: datetime) -> list[str]:
        fired = []
        for source, schedule in self.schedules:
            due = self._next_fire.setdefault(source.name, schedule.next_after(now))
            if now >= due:
                try:
                    self.fire(source.name, deliver=False)  # the loop delivers the queues
                except Exception:
                    log.exception("scheduled handler %s failed", source.name)
                fired.append(source.name)
                self._next_fire[source.name] = schedule.next_after(now)
        return fired

    # -- background loop ------------------------------------------------------------------
    def start(self, poll_seconds: float = 0.5) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the event pump is already running")
        self._stop.clear()  # a pump that was stopped can be started again

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    busy = sum(self.pump_queue(q) for q in self.queues)
                    self.fire_due(clock.now())
                except Exception:
                    log.exception("event pump iteration failed")
                    busy = 0
                if not busy:
                    self._stop.wait(poll_seconds)

        self._thread = threading.Thread(target=loop, name="event-pump", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _expression(source: ScheduledEventConfig) -> str:
    expression = source.schedule_expression
    return expression if isinstance(expression, str) else expression.to_string()
