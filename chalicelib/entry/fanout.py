"""Scheduled work fanned out per tenant: ``@tenant_schedule`` and the tenant-jobs queue's consumer.

Why: a schedule that loops over every active tenant in one 60 s invocation stops well
before the thousands of tenants the platform hosts, and a tenant's failure inside the
loop left the function's error metric at zero. Instead:

1. The schedule's function (EventBridge) pages through the active tenants (the registry's
   tenants index, ``ENQUEUE_PAGE`` at a time: memory is one page) and sends one message
   per tenant to ``TENANT_JOBS_QUEUE`` with ``SendMessageBatch`` (10 per call). The run id
   is the EventBridge event id, which EventBridge keeps when it retries the invocation.
2. Near its deadline (``ENQUEUE_MARGIN_MS`` left) it stops after a page and sends a
   continuation message (the job, run id and the listing cursor: the checkpoint); the
   consumer picks it up and enumerates on from there within a job's budget, and so on
   until the listing ends. 100,000 tenants take a chain of invocations, none timing out.
3. The consumer (``run_tenant_jobs``, batches of ``BATCH_SIZE``) runs each tenant's job
   with the tenant bound and a deadline of its own (``JOB_BUDGET_SECONDS``, capped by the
   Lambda's; jobs that checkpoint read it from the bound ``Delivery``). A failed job is
   reported as a partial batch failure: only that message returns to the queue, and after
   the queue's ``maxReceiveCount`` receives it goes to the dead-letter queue (alarmed in
   infra). Each failure also counts in ``JobTenantRuns`` (Job, Outcome=failed).
4. A run is claimed in the tenant's partition before it runs (``store/job_runs.py``): a
   redelivered message of a run already done is acknowledged and runs nothing.

A tenant suspended or made inactive between enqueue and delivery is skipped (as the loop
skipped it); a message naming an unknown tenant or job is refused and dead-lettered.
"""
from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from chalicelib import aws, caches, clock, lazy, tracing
from chalicelib.entry import telemetry
from chalicelib.entry.handlers import message_tenant_id, receive_count
from chalicelib.entry.process import reset_request_state
from chalicelib.logs import bind_log_keys, configure_logging, security_event
from chalicelib.metrics import add_properties
from chalicelib.settings import get_settings
from chalicelib.tenancy import context as tenancy_context
from chalicelib.tenancy.context import Delivery, TenantContext
from chalicelib.tenancy.tenant import TenantStatus

if TYPE_CHECKING:
    from chalicelib.store import job_runs, registry
else:
    # Deferred to the first run (cold start, docs/cold-start.md): `import app` declares the
    # schedules of every function without loading the store.
    job_runs, registry = lazy.module("chalicelib.store.job_runs"), lazy.module("chalicelib.store.registry")

log = logging.getLogger("jobs")

# A stable literal, like the other queues: Chalice reads queue names when it packages
# app.py, before any stage is known. The local bootstrap and infra create it with its DLQ.
TENANT_JOBS_QUEUE = "tenant-platform-tenant-jobs"
# The consumer's batch and budgets: BATCH_SIZE jobs of JOB_BUDGET_SECONDS fit in
# CONSUMER_TIMEOUT_SECONDS (infra sets the function's timeout from it), so a batch never
# runs into the Lambda deadline unless a job overruns its own.
BATCH_SIZE = 5
JOB_BUDGET_SECONDS = 60
CONSUMER_TIMEOUT_SECONDS = 360
# A run left ``running`` (its Lambda timed out) may be claimed again after this; the queue's
# visibility timeout (6 x the consumer's timeout) is longer, so the retry can claim it.
RUN_LEASE_SECONDS = CONSUMER_TIMEOUT_SECONDS
# A job is not started with less than this left of the invocation: it returns to the queue.
START_MARGIN_MS = 10_000
# Tenants read per registry page; SendMessageBatch takes at most 10 entries.
ENQUEUE_PAGE = 100
SEND_BATCH = 10
# The enumeration stops and continues itself with this much of its invocation left.
ENQUEUE_MARGIN_MS = 10_000

Job = Callable[[dict[str, Any]], Any]
Remaining = Callable[[], int]
_JOBS: dict[str, Job] = {}


class EnqueueError(RuntimeError):
    """SQS refused part of a batch twice: the invocation fails (and EventBridge retries it)."""


@dataclass(frozen=True)
class Run:
    job: str
    run_id: str
    detail: dict[str, Any] = field(default_factory=dict)


def registered_jobs() -> dict[str, Job]:
    return dict(_JOBS)


def tenant_schedule(fn: Job) -> Callable[[Any], dict[str, Any]]:
    """Declare ``fn(detail)`` a per-tenant scheduled job; returns the schedule's handler.

    ``app.schedule(...)`` registers the returned function; it enqueues one message per
    active tenant, and ``run_tenant_jobs`` runs ``fn`` for each with the tenant bound.
    The job's name (``JobTenantRuns``' Job dimension) is ``fn.__name__``.
    """
    name = fn.__name__
    known = _JOBS.get(name)
    if known is not None and (known.__module__, known.__qualname__) != (fn.__module__, fn.__qualname__):
        raise ValueError(f"two tenant jobs are named {name!r}: {known.__module__} and {fn.__module__}")
    _JOBS[name] = fn

    @functools.wraps(fn)
    @caches.job_path  # a schedule is not a request: its lookups stay off the request path's caches
    def schedule(event: Any) -> dict[str, Any]:
        configure_logging(get_settings().log_level)
        reset_request_state()
        run = Run(name, str(getattr(event, "event_id", None) or uuid.uuid4()),
                  dict(getattr(event, "detail", None) or {}))
        remaining = getattr(getattr(event, "context", None), "get_remaining_time_in_millis", None)
        bind_log_keys(request_id=run.run_id)
        with tracing.subsegment(f"## {name}"):
            return enqueue(run, None, remaining)

    return schedule


# -- enumeration ---------------------------------------------------------------------------

def _job_message(run: Run, tenant_id: UUID) -> dict[str, Any]:
    body = {"tenant_id": str(tenant_id), "job": run.job, "run_id": run.run_id, "detail": run.detail}
    return {"MessageBody": json.dumps(body, separators=(",", ":")),
            "MessageAttributes": {"tenant_id": {"DataType": "String", "StringValue": str(tenant_id)}}}


def _continuation_message(run: Run, cursor: str) -> dict[str, Any]:
    body = {"continuation": {"job": run.job, "run_id": run.run_id, "cursor": cursor, "detail": run.detail}}
    return {"MessageBody": json.dumps(body, separators=(",", ":"))}


def _queue_url() -> str:
    return str(aws.client("sqs").get_queue_url(QueueName=TENANT_JOBS_QUEUE)["QueueUrl"])


def _send(url: str, messages: list[dict[str, Any]]) -> None:
    sqs = aws.client("sqs")
    for start in range(0, len(messages), SEND_BATCH):
        entries = [{"Id": str(i), **m} for i, m in enumerate(messages[start:start + SEND_BATCH])]
        for _attempt in range(2):
            failed = {f["Id"] for f in sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed", [])}
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                break
        if entries:
            raise EnqueueError(f"SQS refused {len(entries)} tenant-job messages twice")


def _near_deadline(remaining: Remaining | None) -> bool:
    return remaining is not None and remaining() < ENQUEUE_MARGIN_MS


def enqueue(run: Run, cursor: str | None, remaining: Remaining | None) -> dict[str, Any]:
    """Enqueue ``run`` for the active tenants from ``cursor`` on, page by page, until the
    listing ends or the deadline nears (then a continuation message carries the cursor)."""
    enqueued, continued, url = 0, False, _queue_url()
    while True:
        tenants, cursor = registry.list_tenants_page(limit=ENQUEUE_PAGE, cursor=cursor,
                                                     status=TenantStatus.ACTIVE.value)
        _send(url, [_job_message(run, tenant.id) for tenant in tenants])
        enqueued += len(tenants)
        if cursor is None:
            break
        if _near_deadline(remaining):
            # Sent last: a failure before it leaves this enumeration to be retried whole, and
            # none after it can start a second chain.
            _send(url, [_continuation_message(run, cursor)])
            continued = True
            break
    log.info("tenant job enqueued", extra={"fields": {"job": run.job, "run_id": run.run_id,
                                                       "tenants_enqueued": enqueued, "continued": continued}})
    return {"job": run.job, "run_id": run.run_id, "tenants_enqueued": enqueued, "continued": continued}


# -- the consumer ----------------------------------------------------------------------------

@caches.job_path  # tenant after tenant: on the job side of every cache, never evicting the request path's
def run_batch(records: Iterable[dict[str, Any]], remaining: Remaining | None) -> dict[str, Any]:
    """Handle a batch of the tenant-jobs queue; the failed messages are the partial batch failures."""
    configure_logging(get_settings().log_level)
    failures = []
    for record in records:
        if remaining is not None and remaining() < START_MARGIN_MS:
            failures.append({"itemIdentifier": record["messageId"]})  # not started: too close to the deadline
            continue
        try:
            body = json.loads(record.get("body") or "")
        except ValueError:
            body = None
        if isinstance(body, dict) and "continuation" in body:
            handled = _continue(record, body["continuation"], remaining)
        else:
            handled = _run_tenant_job(record, body, remaining)
        if not handled:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _continue(record: dict[str, Any], spec: Any, remaining: Remaining | None) -> bool:
    reset_request_state()
    try:
        if not isinstance(spec, dict) or spec.get("job") not in _JOBS or not isinstance(spec.get("run_id"), str) \
                or not isinstance(spec.get("cursor"), str):
            security_event("message_refused", message_id=record.get("messageId"), reason="malformed continuation")
            return False
        bind_log_keys(request_id=spec["run_id"])
        # A job's budget, not the invocation: the rest of the batch still has its time.
        enqueue(Run(spec["job"], spec["run_id"], dict(spec.get("detail") or {})), spec["cursor"],
                _job_deadline(remaining))
        return True
    except Exception:
        log.exception("tenant job enumeration failed")
        return False
    finally:
        reset_request_state()


def _job_deadline(remaining: Remaining | None) -> Remaining:
    """The job's own deadline: its budget from now, or the invocation's if that comes first."""
    until = clock.monotonic() + JOB_BUDGET_SECONDS

    def job_remaining() -> int:
        own = int((until - clock.monotonic()) * 1000)
        return max(0, min(own, remaining()) if remaining is not None else own)

    return job_remaining


def _run_tenant_job(record: dict[str, Any], body: Any, remaining: Remaining | None) -> bool:
    """One tenant's job from its message; False: the message must return to the queue."""
    reset_request_state()
    message_id = str(record.get("messageId", ""))
    job = body.get("job") if isinstance(body, dict) else None
    run_id = body.get("run_id") if isinstance(body, dict) else None
    tenant_id = message_tenant_id(record, body)
    name = job if isinstance(job, str) and job in _JOBS else "unknown"
    telemetry.unit_started(f"{name}:{run_id}:{tenant_id}", str(tenant_id) if tenant_id else None)
    add_properties(run_id=run_id, message_id=message_id, receive_count=receive_count(record))
    outcome = "failed"
    try:
        if name == "unknown" or not isinstance(run_id, str) or not run_id or tenant_id is None:
            security_event("message_refused", message_id=message_id, reason="not a tenant job message")
            outcome = "refused"
            return False
        tenant = registry.get_tenant(tenant_id)
        if tenant is None:
            security_event("message_refused", message_id=message_id, reason="unknown tenant")
            outcome = "refused"
            return False
        if tenant.status != TenantStatus.ACTIVE:
            outcome = "skipped"  # suspended or made inactive since the enqueue: as the schedule would
            return True
        bind_log_keys(request_id=f"{name}:{run_id}", tenant_id=str(tenant.id))
        tenancy_context.set_delivery(Delivery(message_id, receive_count(record), _job_deadline(remaining)))
        with tenancy_context.bound(TenantContext(tenant=tenant, request_id=f"{name}:{run_id}")), \
                tracing.subsegment(f"## {name}"):
            outcome = _claimed_run(name, run_id, dict(body.get("detail") or {}))
        return outcome in ("ok", "duplicate")
    except Exception:
        log.exception("tenant job failed", extra={"fields": {"job": name, "run_id": run_id}})
        return False
    finally:
        telemetry.job_tenant_finished(name, outcome)
        reset_request_state()


def _claimed_run(name: str, run_id: str, detail: dict[str, Any]) -> str:
    claim = job_runs.claim(name, run_id, lease_seconds=RUN_LEASE_SECONDS)
    if claim is job_runs.Claim.ALREADY_DONE:
        return "duplicate"
    if claim is job_runs.Claim.HELD:
        return "held"  # another delivery runs it now: this one comes back later
    try:
        _JOBS[name](detail)
    except Exception:
        log.exception("tenant job failed", extra={"fields": {"job": name, "run_id": run_id}})
        job_runs.finish(name, run_id, succeeded=False)
        return "failed"
    job_runs.finish(name, run_id, succeeded=True)
    return "ok"
