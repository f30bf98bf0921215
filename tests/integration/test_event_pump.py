"""The local event pump against moto's server: SQS delivery, DLQ, partial batches, schedules.

A throwaway Chalice app declares one queue handler (``@tenant_handler``), one per-tenant
schedule (``@tenant_schedule``) and the tenant-jobs consumer that runs it per tenant; the
pump reads those declarations exactly as it reads ``app.py``'s.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from chalice import Chalice

from chalicelib import aws
from chalicelib.entry import tenant_handler, tenant_schedule
from chalicelib.entry.fanout import TENANT_JOBS_QUEUE
from chalicelib.jobs.tenant_jobs import BATCH_SIZE as TENANT_JOBS_BATCH
from chalicelib.jobs.tenant_jobs import run_tenant_jobs
from chalicelib.local import pump as pump_module
from chalicelib.local.bootstrap import DLQ_SUFFIX, MAX_RECEIVES, bootstrap
from chalicelib.local.pump import EventPump
from chalicelib.settings import get_settings
from chalicelib.tenancy.context import current_or_none, current_tenant_id
from chalicelib.tenancy.tenant import TenantStatus
from chalicelib.tenants.service import change_status
from tests.conftest import create_tenant

QUEUE = "pump-test"
WAIT_SECONDS = 10


@pytest.fixture
def local_aws(moto_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test's environment pointed at a freshly reset moto server, resources bootstrapped."""
    monkeypatch.setattr(pump_module, "LOCAL_RETRY_DELAY_SECONDS", 0)
    bootstrap(get_settings(), [QUEUE])
    yield moto_env


class Recorder:
    """What the handlers saw, and which messages they should fail on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.runs: list[str] = []
        self.fail_marks: set[str] = set()
        self.failing_tenants: set[str] = set()

    def message(self, body: dict[str, Any]) -> None:
        tenant = str(current_tenant_id())
        with self.lock:
            self.messages.append((tenant, body))
        if body.get("mark") in self.fail_marks:
            raise RuntimeError(f"handler failure for {body['mark']}")

    def run(self) -> None:
        tenant = str(current_tenant_id())
        with self.lock:
            self.runs.append(tenant)
        if tenant in self.failing_tenants:
            raise RuntimeError("scheduled job failure")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app(recorder: Recorder) -> Chalice:
    app = Chalice(app_name="pump-test-app")

    @app.on_sqs_message(queue=QUEUE, batch_size=10)
    @tenant_handler
    def on_message(body: dict[str, Any]) -> None:
        recorder.message(body)

    @app.schedule("rate(1 minute)")
    @tenant_schedule
    def every_minute(detail: dict[str, Any]) -> None:
        recorder.run()

    app.on_sqs_message(queue=TENANT_JOBS_QUEUE, batch_size=TENANT_JOBS_BATCH, name="tenant_jobs")(run_tenant_jobs)
    return app


@pytest.fixture
def pump(local_aws: str, app: Chalice) -> Iterator[EventPump]:
    event_pump = EventPump(app, get_settings().region)
    yield event_pump
    event_pump.stop()


@pytest.fixture
def tenants(local_aws: str) -> tuple[Any, Any]:
    return create_tenant("north-motors"), create_tenant("south-motors")


def queue_url(name: str = QUEUE) -> str:
    return str(aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def send(body: Any, *, attribute: str | None = None) -> str:
    attributes = {"tenant_id": {"DataType": "String", "StringValue": attribute}} if attribute is not None else {}
    text = body if isinstance(body, str) else json.dumps(body)
    response = aws.client("sqs").send_message(QueueUrl=queue_url(), MessageBody=text, MessageAttributes=attributes)
    return str(response["MessageId"])


def send_for(tenant: Any, **body: Any) -> str:
    return send({"tenant_id": str(tenant.id), **body}, attribute=str(tenant.id))


def queue_counts(name: str) -> tuple[int, int]:
    """(visible, in flight) for the queue ``name``."""
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url(name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def dlq_bodies(queue: str = QUEUE) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = queue_url(queue + DLQ_SUFFIX)
    bodies = []
    for _ in range(20):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        if not batch:
            break
        bodies.extend(json.loads(m["Body"]) if m["Body"].startswith("{") else {"raw": m["Body"]} for m in batch)
    return bodies


def pump_until_empty(pump: EventPump, max_rounds: int = 20) -> int:
    """Pump the test queue until a round delivers nothing; returns the number of deliveries."""
    source = pump.queues[0]
    deliveries = 0
    for _ in range(max_rounds):
        handled = pump.pump_queue(source)
        if handled == 0:
            return deliveries
        deliveries += handled
    pytest.fail(f"the queue was still delivering after {max_rounds} rounds")


# -- SQS --------------------------------------------------------------------------------------

def test_the_pump_reads_the_apps_declarations(pump: EventPump) -> None:
    assert [q.queue for q in pump.queues] == [QUEUE, TENANT_JOBS_QUEUE]
    assert [s.name for s, _ in pump.schedules] == ["every_minute"]


def test_the_bootstrap_makes_the_tenant_jobs_queue_with_its_dead_letter_queue(local_aws: str) -> None:
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url(TENANT_JOBS_QUEUE), AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=queue_url(TENANT_JOBS_QUEUE + DLQ_SUFFIX),
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn and int(redrive["maxReceiveCount"]) == MAX_RECEIVES


def test_message_is_delivered_with_its_tenant_bound(pump: EventPump, recorder: Recorder, tenants) -> None:
    north, south = tenants
    send_for(north, mark="n1")
    send_for(south, mark="s1")
    assert pump_until_empty(pump) == 2
    assert sorted(recorder.messages, key=lambda m: m[1]["mark"]) == [
        (str(north.id), {"tenant_id": str(north.id), "mark": "n1"}),
        (str(south.id), {"tenant_id": str(south.id), "mark": "s1"}),
    ]
    assert queue_counts(QUEUE) == (0, 0)
    assert queue_counts(QUEUE + DLQ_SUFFIX) == (0, 0)
    assert current_or_none() is None  # nothing stays bound in the caller


def _refused_messages(north: Any, south: Any) -> dict[str, tuple[Any, str | None]]:
    unknown = str(uuid.uuid4())
    return {
        "no-tenant-at-all": ({"mark": "no-tenant-at-all"}, None),
        "attribute-only": ({"mark": "attribute-only"}, str(north.id)),
        "body-only": ({"mark": "body-only", "tenant_id": str(north.id)}, None),
        "mismatch": ({"mark": "mismatch", "tenant_id": str(north.id)}, str(south.id)),
        "unknown-tenant": ({"mark": "unknown-tenant", "tenant_id": unknown}, unknown),
        "not-a-uuid": ({"mark": "not-a-uuid", "tenant_id": "north-motors"}, "north-motors"),
        "empty-attribute": ({"mark": "empty-attribute", "tenant_id": ""}, ""),
    }


def test_messages_without_a_valid_tenant_are_refused_then_dead_lettered(
    pump: EventPump, recorder: Recorder, tenants
) -> None:
    north, south = tenants
    cases = _refused_messages(north, south)
    for body, attribute in cases.values():
        send(body, attribute=attribute)
    send("not json at all", attribute=str(north.id))

    deliveries = pump_until_empty(pump)

    assert recorder.messages == []  # the handler never ran
    assert deliveries == (len(cases) + 1) * MAX_RECEIVES  # each delivered maxReceiveCount times
    assert queue_counts(QUEUE) == (0, 0)
    dead = dlq_bodies()
    assert sorted(b.get("mark", b.get("raw")) for b in dead) == sorted([*cases, "not json at all"])


def test_messages_of_a_tenant_that_is_not_active_are_refused(pump: EventPump, recorder: Recorder, tenants) -> None:
    north, south = tenants
    west = create_tenant("west-motors")
    change_status(north.id, TenantStatus.SUSPENDED)
    change_status(west.id, TenantStatus.INACTIVE)
    send_for(north, mark="to-suspended")
    send_for(west, mark="to-inactive")
    send_for(south, mark="to-active")

    deliveries = pump_until_empty(pump)

    assert recorder.messages == [(str(south.id), {"tenant_id": str(south.id), "mark": "to-active"})]
    assert deliveries == 1 + 2 * MAX_RECEIVES
    assert sorted(b["mark"] for b in dlq_bodies()) == ["to-inactive", "to-suspended"]


def test_a_failing_message_is_retried_alone(pump: EventPump, recorder: Recorder, tenants) -> None:
    north, south = tenants
    recorder.fail_marks.add("bad")
    for mark in ("ok-1", "bad", "ok-2"):
        send_for(north, mark=mark)
    send_for(south, mark="ok-3")

    source = pump.queues[0]
    first = pump.pump_queue(source)
    assert first == 4  # one batch
    # Only the failed message is left on the queue; the others were deleted.
    assert sum(queue_counts(QUEUE)) == 1

    deliveries = first + pump_until_empty(pump)

    marks = [body["mark"] for _, body in recorder.messages]
    assert sorted(marks) == sorted(["ok-1", "ok-2", "ok-3"] + ["bad"] * MAX_RECEIVES)  # no ok message twice
    assert deliveries == 3 + MAX_RECEIVES
    assert [b["mark"] for b in dlq_bodies()] == ["bad"]
    assert queue_counts(QUEUE) == (0, 0)


def test_a_message_that_fails_once_succeeds_on_retry(pump: EventPump, recorder: Recorder, tenants) -> None:
    north, _ = tenants
    recorder.fail_marks.add("flaky")
    send_for(north, mark="flaky")
    source = pump.queues[0]
    assert pump.pump_queue(source) == 1
    recorder.fail_marks.clear()
    assert pump_until_empty(pump) == 1
    assert [body["mark"] for _, body in recorder.messages] == ["flaky", "flaky"]
    assert queue_counts(QUEUE) == (0, 0) and dlq_bodies() == []


def _wait_for_messages(recorder: Recorder, count: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and len(recorder.messages) < count:
        time.sleep(0.05)


def test_the_background_loop_delivers_and_can_be_restarted(pump: EventPump, recorder: Recorder, tenants) -> None:
    north, _ = tenants
    pump.start(poll_seconds=0.05)
    send_for(north, mark="first")
    _wait_for_messages(recorder, 1)
    pump.stop()
    assert recorder.messages == [(str(north.id), {"tenant_id": str(north.id), "mark": "first"})]

    pump.start(poll_seconds=0.05)  # a stopped pump starts again (the CLI and tests reuse one)
    send_for(north, mark="second")
    _wait_for_messages(recorder, 2)
    pump.stop()
    assert [body["mark"] for _, body in recorder.messages] == ["first", "second"]
    assert queue_counts(QUEUE) == (0, 0)


# -- schedules --------------------------------------------------------------------------------

def test_fire_runs_once_per_active_tenant(pump: EventPump, recorder: Recorder, tenants) -> None:
    north, south = tenants
    suspended = create_tenant("east-motors")
    inactive = create_tenant("west-motors")
    change_status(suspended.id, TenantStatus.SUSPENDED)
    change_status(inactive.id, TenantStatus.INACTIVE)

    result = pump.fire("every_minute")

    assert sorted(recorder.runs) == sorted([str(north.id), str(south.id)])
    assert (result["tenants_enqueued"], result["tenants_processed"], result["tenants_failed"]) == (2, 2, [])
    assert queue_counts(TENANT_JOBS_QUEUE) == (0, 0)
    assert current_or_none() is None


def test_one_tenants_failure_does_not_stop_the_others_and_is_dead_lettered(
    pump: EventPump, recorder: Recorder, tenants
) -> None:
    north, south = tenants
    third = create_tenant("west-motors")
    recorder.failing_tenants.add(str(north.id))

    result = pump.fire("every_minute")

    # The failing tenant's message is received MAX_RECEIVES times (no retry delay here), then dead-lettered.
    assert sorted(recorder.runs) == sorted([str(north.id)] * MAX_RECEIVES + [str(south.id), str(third.id)])
    assert (result["tenants_processed"], result["tenants_failed"]) == (2, [str(north.id)])
    assert [(b["tenant_id"], b["job"]) for b in dlq_bodies(TENANT_JOBS_QUEUE)] == [(str(north.id), "every_minute")]


def test_the_background_loop_delivers_the_tenant_jobs_a_schedule_enqueued(
    pump: EventPump, recorder: Recorder, tenants
) -> None:
    north, south = tenants
    result = pump.fire("every_minute", deliver=False)
    assert result["tenants_enqueued"] == 2 and recorder.runs == []

    pump.start(poll_seconds=0.05)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and len(recorder.runs) < 2:
        time.sleep(0.05)
    pump.stop()

    assert sorted(recorder.runs) == sorted([str(north.id), str(south.id)])
    assert queue_counts(TENANT_JOBS_QUEUE) == (0, 0)


def test_fire_of_an_unknown_name_raises_key_error(pump: EventPump) -> None:
    with pytest.raises(KeyError, match="no_such_job"):
        pump.fire("no_such_job")
    with pytest.raises(KeyError):
        pump.fire("on_message")  # a queue handler is not a schedule
