"""Scheduled jobs fanned out per tenant (chalicelib/entry/fanout.py), under moto in-process.

A throwaway app declares one ``@tenant_schedule`` job and the tenant-jobs consumer, as
app.py does; the pump fires the schedule and delivers the queue as Lambda would
(partial batch failures, redrive to the DLQ after ``MAX_RECEIVES`` receives).
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from bench.scale_jobs import registry_tenants
from chalicelib import aws, clock
from chalicelib.entry import fanout, tenant_handler
from chalicelib.local import pump as pump_module
from chalicelib.local.bootstrap import DLQ_SUFFIX, MAX_RECEIVES
from chalicelib.local.pump import EventPump, LocalLambdaContext, scheduled_event
from chalicelib.settings import get_settings
from chalicelib.store import job_runs
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy.context import TenantContext
from chalicelib.tenancy.tenant import TenantStatus
from tests.support.tenant_jobs import (
    JOB,
    SCHEDULE,
    JobRecorder,
    emf_documents,
    job_outcomes,
    jobs_app,
)


@pytest.fixture
def recorder() -> JobRecorder:
    return JobRecorder()


@pytest.fixture
def pump(aws_mock: None, recorder: JobRecorder, monkeypatch: pytest.MonkeyPatch) -> EventPump:
    # A failed message is received again at once (a deployed queue waits its visibility timeout).
    monkeypatch.setattr(pump_module, "LOCAL_RETRY_DELAY_SECONDS", 0)
    return EventPump(jobs_app(recorder), get_settings().region)


def _queue_url(name: str) -> str:
    return str(aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def _visible(name: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=_queue_url(name), AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _dead_letters() -> list[dict[str, Any]]:
    sqs, bodies = aws.client("sqs"), []
    while True:
        batch = sqs.receive_message(QueueUrl=_queue_url(fanout.TENANT_JOBS_QUEUE + DLQ_SUFFIX),
                                    MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not batch:
            return bodies
        bodies.extend(json.loads(m["Body"]) for m in batch)


def _run_status(tenant: Any, run_id: str) -> str | None:
    with tenancy_context.bound(TenantContext(tenant=tenant, request_id="test")):
        return job_runs.status(JOB, run_id)


def _take_continuation() -> dict[str, Any]:
    """Remove the continuation message from the queue (the others are made visible again)."""
    sqs, url = aws.client("sqs"), _queue_url(fanout.TENANT_JOBS_QUEUE)
    received: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages"):
        received.extend(batch)
    (continuation,) = [m for m in received if "continuation" in json.loads(m["Body"])]
    for message in received:
        if message is continuation:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        else:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return continuation


class CountdownContext:
    """A Lambda context whose remaining time is read from a list (the last value repeats):
    a deadline that nears after a chosen number of pages, with no clock involved."""

    def __init__(self, *remaining_ms: int) -> None:
        self._values = list(remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return self._values.pop(0) if len(self._values) > 1 else self._values[0]


def test_a_job_for_300_tenants_with_one_failing_runs_the_other_299_and_reports_the_one(pump, recorder):
    # Given 300 active tenants (one of whose job fails every time) and a suspended one
    tenants = registry_tenants(300)
    registry_tenants(1, prefix="asleep", status=TenantStatus.SUSPENDED)
    failing = tenants[150]
    recorder.failing.add(str(failing.id))

    # When the schedule fires and the pump delivers its messages
    with emf_documents() as documents:
        result = pump.fire(SCHEDULE)

    # Then every other tenant's job ran exactly once, the failing one once per receive
    others = {str(t.id) for t in tenants} - {str(failing.id)}
    assert result["tenants_enqueued"] == 300 and result["continued"] is False
    assert result["tenants_processed"] == 299 and result["tenants_failed"] == [str(failing.id)]
    assert set(recorder.runs) == others | {str(failing.id)}
    assert {recorder.runs[t] for t in others} == {1}
    assert recorder.runs[str(failing.id)] == MAX_RECEIVES
    # And the failure is in the metric (each attempt) and in the dead-letter queue, and is marked failed
    assert job_outcomes(documents) == Counter({"ok": 299, "failed": MAX_RECEIVES})
    dead = _dead_letters()
    assert [(d["tenant_id"], d["job"], d["run_id"]) for d in dead] == [(str(failing.id), JOB, result["run_id"])]
    assert _visible(fanout.TENANT_JOBS_QUEUE) == 0
    assert _run_status(failing, result["run_id"]) == job_runs.FAILED
    assert _run_status(tenants[0], result["run_id"]) == job_runs.DONE


def test_each_job_runs_with_its_own_deadline_within_the_invocations(pump, recorder):
    registry_tenants(3)
    pump.fire(SCHEDULE)
    assert len(recorder.deadlines_ms) == 3
    assert all(0 < left <= fanout.JOB_BUDGET_SECONDS * 1000 for left in recorder.deadlines_ms)


def test_a_redelivered_message_of_a_run_already_done_runs_nothing(pump, recorder):
    tenants = registry_tenants(3)
    first = pump.fire(SCHEDULE)
    assert sum(recorder.runs.values()) == 3

    # The same run enqueued again (a redelivery, or EventBridge retrying the invocation with its event id)
    with emf_documents() as documents:
        fanout.enqueue(fanout.Run(JOB, first["run_id"]), None, None)
        again = pump.deliver_run(first["run_id"])

    assert again == {"tenants_processed": 3, "tenants_failed": []}  # acknowledged...
    assert sum(recorder.runs.values()) == 3  # ...and nothing ran twice
    assert job_outcomes(documents) == Counter({"duplicate": 3})
    # A new run (the next firing) runs again
    pump.fire(SCHEDULE)
    assert recorder.runs == Counter({str(t.id): 2 for t in tenants})


def test_a_failed_run_is_retried_and_then_done_once(pump, recorder):
    (tenant,) = registry_tenants(1)
    recorder.failing.add(str(tenant.id))
    result = pump.fire(SCHEDULE, deliver=False)
    source = next(q for q in pump.queues if q.queue == fanout.TENANT_JOBS_QUEUE)

    assert pump.pump_queue(source) == 1  # the first delivery fails
    assert _run_status(tenant, result["run_id"]) == job_runs.FAILED
    recorder.failing.clear()
    assert pump.pump_queue(source) == 1  # the redelivery claims the failed run and finishes it
    assert _run_status(tenant, result["run_id"]) == job_runs.DONE
    assert pump.pump_queue(source) == 0 and recorder.runs[str(tenant.id)] == 2
    assert _dead_letters() == []


def test_a_run_held_by_another_delivery_is_not_run_until_its_lease_ends(pump, recorder):
    (tenant,) = registry_tenants(1)
    result = pump.fire(SCHEDULE, deliver=False)
    # Given another delivery of the same run holds it (a concurrent duplicate, or one whose Lambda timed out)
    with tenancy_context.bound(TenantContext(tenant=tenant, request_id="other")):
        assert job_runs.claim(JOB, result["run_id"], lease_seconds=fanout.RUN_LEASE_SECONDS) is job_runs.Claim.CLAIMED
    source = next(q for q in pump.queues if q.queue == fanout.TENANT_JOBS_QUEUE)

    assert pump.pump_queue(source) == 1
    assert recorder.runs == Counter()  # refused while held: the message returns to the queue

    later = clock.now() + timedelta(seconds=fanout.RUN_LEASE_SECONDS + 1)
    with clock.use(wall=lambda: later):
        assert pump.pump_queue(source) == 1
    assert recorder.runs == Counter({str(tenant.id): 1})
    assert _run_status(tenant, result["run_id"]) == job_runs.DONE


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 10 tenants: three pages in 25 tenants (the page size is not what is tested)."""
    monkeypatch.setattr(fanout, "ENQUEUE_PAGE", 10)


def test_the_enumeration_continues_itself_from_its_cursor_near_the_deadline(pump, recorder, small_pages):
    tenants = registry_tenants(25)
    app = pump.app

    # When the schedule's invocation nears its deadline after its first page
    result = app.handler_map[SCHEDULE](scheduled_event(SCHEDULE, "us-east-1"),
                                       CountdownContext(fanout.ENQUEUE_MARGIN_MS - 1))

    # Then it enqueued that page and a continuation, and stopped
    assert result["tenants_enqueued"] == fanout.ENQUEUE_PAGE and result["continued"] is True
    assert _visible(fanout.TENANT_JOBS_QUEUE) == fanout.ENQUEUE_PAGE + 1
    # And the consumer, itself near its deadline after one more page, continues again
    continuation = _take_continuation()
    record = {"messageId": continuation["MessageId"], "body": continuation["Body"], "attributes": {}}
    remaining = CountdownContext(60_000, fanout.ENQUEUE_MARGIN_MS - 1).get_remaining_time_in_millis
    assert fanout.run_batch([record], remaining) == {"batchItemFailures": []}
    assert _visible(fanout.TENANT_JOBS_QUEUE) == 2 * fanout.ENQUEUE_PAGE + 1

    # And once delivered, every tenant's job ran exactly once
    delivered = pump.deliver_run(result["run_id"])
    assert delivered == {"tenants_processed": 25, "tenants_failed": []}
    assert recorder.runs == Counter({str(t.id): 1 for t in tenants})


def test_a_job_is_not_started_with_too_little_of_the_invocation_left(pump, recorder):
    registry_tenants(2)
    pump.fire(SCHEDULE, deliver=False)
    messages = aws.client("sqs").receive_message(QueueUrl=_queue_url(fanout.TENANT_JOBS_QUEUE),
                                                 MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    records = [{"messageId": m["MessageId"], "body": m["Body"], "attributes": {},
                "messageAttributes": {"tenant_id": {"stringValue": m["MessageAttributes"]["tenant_id"]["StringValue"]}}}
               for m in messages]

    result = fanout.run_batch(records, lambda: fanout.START_MARGIN_MS - 1)

    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(r["messageId"] for r in records)
    assert recorder.runs == Counter()


def test_messages_that_are_no_tenant_job_are_refused(pump, recorder):
    (tenant,) = registry_tenants(1)
    tid = str(tenant.id)
    bad = {
        "unknown-job": ({"tenant_id": tid, "job": "no_such_job", "run_id": "r1"}, tid),
        "no-run-id": ({"tenant_id": tid, "job": JOB}, tid),
        "attribute-mismatch": ({"tenant_id": tid, "job": JOB, "run_id": "r1"}, "00000000-0000-0000-0000-000000000000"),
        "unknown-tenant": ({"tenant_id": "00000000-0000-0000-0000-000000000000", "job": JOB, "run_id": "r1"},
                           "00000000-0000-0000-0000-000000000000"),
        "bad-continuation": ({"continuation": {"job": JOB, "run_id": "r1", "cursor": "not-a-cursor"}}, None),
    }
    records = [{"messageId": name, "body": json.dumps(body), "attributes": {},
                "messageAttributes": {"tenant_id": {"stringValue": attribute}} if attribute else {}}
               for name, (body, attribute) in bad.items()]

    result = fanout.run_batch(records, lambda: 60_000)

    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(bad)
    assert recorder.runs == Counter()


def test_a_tenant_handler_refuses_a_scheduled_event(app_env):
    @tenant_handler
    def on_message(_body: dict[str, Any]) -> None:
        raise AssertionError("never runs")

    with pytest.raises(TypeError, match="tenant_schedule"):
        on_message(object())


def _job_named(name: str, qualname: str) -> Any:
    def job(_detail: dict[str, Any]) -> None:
        return None

    job.__name__, job.__qualname__ = name, qualname
    return job


def test_two_different_jobs_cannot_share_a_name():
    fanout.tenant_schedule(_job_named("shared_name_job", "first"))
    fanout.tenant_schedule(_job_named("shared_name_job", "first"))  # the same job declared again (a re-import)
    with pytest.raises(ValueError, match="two tenant jobs"):
        fanout.tenant_schedule(_job_named("shared_name_job", "second"))


def test_the_schedule_handler_is_what_lambda_calls(pump, recorder):
    registry_tenants(2)
    result = pump.app.handler_map[SCHEDULE](scheduled_event(SCHEDULE, "us-east-1"), LocalLambdaContext(SCHEDULE))
    assert result["tenants_enqueued"] == 2 and recorder.runs == Counter()  # enqueued, not run inline


class RefuseEntries:
    """A botocore hook that reports entries of SendMessageBatch as failed (SQS's partial
    failure), for the first ``calls`` calls (moto has already queued them)."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def __call__(self, parsed: dict[str, Any], **_: Any) -> None:
        if self.calls > 0 and parsed.get("Successful"):
            self.calls -= 1
            refused = parsed["Successful"].pop(0)
            parsed.setdefault("Failed", []).append({"Id": refused["Id"], "SenderFault": False,
                                                    "Code": "InternalError", "Message": "try again"})


def test_entries_sqs_refuses_are_sent_again_and_the_duplicate_runs_nothing(pump, recorder):
    tenants = registry_tenants(12)
    aws.client("sqs").meta.events.register("after-call.sqs.SendMessageBatch", RefuseEntries(calls=1))

    with emf_documents() as documents:
        result = pump.fire(SCHEDULE)

    assert result["tenants_enqueued"] == 12 and result["tenants_processed"] == 12
    assert recorder.runs == Counter({str(t.id): 1 for t in tenants})
    assert job_outcomes(documents) == Counter({"ok": 12, "duplicate": 1})  # the entry moto had queued anyway


def test_entries_refused_twice_fail_the_schedules_invocation(pump, recorder):
    registry_tenants(3)
    aws.client("sqs").meta.events.register("after-call.sqs.SendMessageBatch", RefuseEntries(calls=2))

    with pytest.raises(fanout.EnqueueError):
        pump.fire(SCHEDULE)


def test_a_continuation_lists_within_a_jobs_budget_not_the_whole_invocation(pump, recorder, small_pages):
    registry_tenants(25)
    pump.app.handler_map[SCHEDULE](scheduled_event(SCHEDULE, "us-east-1"),
                                   CountdownContext(fanout.ENQUEUE_MARGIN_MS - 1))
    continuation = _take_continuation()
    record = {"messageId": continuation["MessageId"], "body": continuation["Body"], "attributes": {}}
    # The invocation has minutes left, but each reading of the monotonic clock is 55 s later:
    # the job's budget (JOB_BUDGET_SECONDS) is spent after one page.
    ticks = iter(range(0, 10**7, 55))
    with clock.use(monotonic=lambda: float(next(ticks))):
        assert fanout.run_batch([record], lambda: 300_000) == {"batchItemFailures": []}

    assert _visible(fanout.TENANT_JOBS_QUEUE) == 2 * fanout.ENQUEUE_PAGE + 1  # one more page, one more continuation
