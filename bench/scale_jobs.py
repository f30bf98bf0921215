"""Fanned-out scheduled jobs at scale: enqueue time and drain time per schedule, in moto.

Not a ``bench_*`` module of its own: the scale benchmark (issue 20) calls
:func:`run_jobs` for its "each scheduled job's enqueue time and total time" figures, and
``python -m bench.scale_jobs [N]`` prints them alone.

What is timed, per ``@tenant_schedule`` of app.py:
- *enqueue*: the schedule's Lambda handler, as EventBridge calls it: it pages through the
  active tenants and sends one message per tenant (``SendMessageBatch``, 10 a call), plus
  any continuation it needs;
- *drain*: the local pump delivering the tenant-jobs queue (batches of
  ``fanout.BATCH_SIZE``) until it is empty: each tenant's job with its tenant bound, its
  run claimed and marked done. One process, one thread: in AWS the queue's consumers run
  in parallel (Lambda scales an SQS event source to hundreds of concurrent batches), so
  this is the serial cost, the figure to divide by the concurrency.

In its own world (the default) the tenants are registry items written directly, without
their KMS keys and API keys: provisioning 10,000 tenants is the scale benchmark's to
measure, not this one's. Jobs that would need a tenant's key find nothing to encrypt in
an empty tenant. Its moto runs with DynamoDB's and SQS's cost models (``bench/moto_scale.py``),
so a tenant's job costs what it would with 10 or 10,000 tenants in the table and its message
what it would with 10 or 10,000 in the queue.
``own_world=False`` measures the caller's world (its active tenants).
"""
from __future__ import annotations

import sys
import time
import uuid
from typing import Any

from bench.harness import quiet_metrics, quiet_request_logs, world
from bench.moto_scale import dynamodb_cost_model, sqs_cost_model


def registry_tenants(count: int, *, prefix: str = "jobs", status: Any = None) -> list[Any]:
    """``count`` tenants written straight into the registry (``registry.insert_tenant``: their
    item and slug reservation), without their KMS keys and API keys: what a fanned-out job
    needs to bind a tenant. Active unless ``status`` says otherwise; slugs ``<prefix>-000000``
    on. Written under DynamoDB's cost model (a transaction snapshots the items it writes
    instead of deep-copying the table: 300 tenants took 10 s without it). The fan-out tests
    (tests/support/tenant_jobs.py) write theirs with it too."""
    from chalicelib import clock
    from chalicelib.store import registry
    from chalicelib.tenancy.tenant import Tenant, TenantStatus

    now = clock.now()
    tenants = []
    with dynamodb_cost_model():
        for n in range(count):
            tenant = Tenant(
                id=uuid.uuid4(), slug=f"{prefix}-{n:06d}", name=f"Jobs {n}", display_name=f"Jobs {n}",
                status=status or TenantStatus.ACTIVE, plan="free", created_at=now, updated_at=now,
                kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/unused-by-an-empty-tenant")
            registry.insert_tenant(tenant)
            tenants.append(tenant)
    return tenants


def tenant_schedules() -> list[str]:
    """The app's schedules that fan out per tenant (``@tenant_schedule``)."""
    from chalice.app import ScheduledEventConfig

    from app import app
    from chalicelib.entry import fanout

    jobs = fanout.registered_jobs()
    return sorted(s.name for s in app.event_sources
                  if isinstance(s, ScheduledEventConfig) and s.handler_string.rsplit(".", 1)[-1] in jobs)


def _measure(schedules: list[str]) -> dict[str, dict[str, Any]]:
    from app import app
    from chalicelib.local.pump import EventPump, LocalLambdaContext, scheduled_event
    from chalicelib.settings import get_settings

    pump = EventPump(app, get_settings().region)
    figures: dict[str, dict[str, Any]] = {}
    for name in schedules:
        started = time.perf_counter()
        result = app.handler_map[name](scheduled_event(name, get_settings().region), LocalLambdaContext(name))
        enqueued_at = time.perf_counter()
        delivered = pump.deliver_run(str(result["run_id"]))
        drained_at = time.perf_counter()
        figures[name] = {
            "tenants_enqueued": result["tenants_enqueued"],
            "continued": result["continued"],
            "enqueue_seconds": round(enqueued_at - started, 3),
            "drain_seconds": round(drained_at - enqueued_at, 3),
            "jobs_per_second": round(delivered["tenants_processed"] / max(drained_at - enqueued_at, 1e-9), 1),
            "tenants_processed": delivered["tenants_processed"],
            "tenants_failed": len(delivered["tenants_failed"]),
        }
        print(f"  scale_jobs: {name} {figures[name]}", file=sys.stderr, flush=True)  # long runs: as they come
    return figures


def enqueue_only(schedules: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Each per-tenant schedule's first invocation over every active tenant of the caller's
    world (its Lambda handler, with the local 60 s deadline), its messages then deleted
    undelivered: the enumeration's rate for the scale benchmark's provisioned tenants,
    where draining them all would add about an hour (``main`` drains 10,000 in its own world: 56 minutes).
    ``continued`` says the invocation reached its deadline margin
    and left the rest of the listing to a continuation message (not timed here)."""
    from app import app
    from chalicelib import aws
    from chalicelib.entry import fanout
    from chalicelib.local.pump import LocalLambdaContext, scheduled_event
    from chalicelib.settings import get_settings

    region = get_settings().region
    sqs = aws.client("sqs", region)
    url = sqs.get_queue_url(QueueName=fanout.TENANT_JOBS_QUEUE)["QueueUrl"]
    figures: dict[str, dict[str, Any]] = {}
    for name in schedules or tenant_schedules():
        started = time.perf_counter()
        result = app.handler_map[name](scheduled_event(name, region), LocalLambdaContext(name))
        seconds = time.perf_counter() - started
        enqueued = int(result["tenants_enqueued"])
        figures[name] = {"tenants_enqueued": enqueued, "continued": bool(result["continued"]),
                         "enqueue_seconds": round(seconds, 3),
                         "messages_per_second": round(enqueued / max(seconds, 1e-9), 1)}
        _discard(sqs, url)
    return figures


def _discard(sqs: Any, url: str) -> None:
    """Delete every visible message (PurgeQueue is allowed once a minute per queue)."""
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)])


def run_jobs(n_tenants: int, *, schedules: list[str] | None = None, own_world: bool = True) -> dict[str, Any]:
    """Enqueue and drain each per-tenant schedule (default: all of them) for ``n_tenants``.

    Returns ``{"tenants": n, "setup_seconds": s, "schedules": {name: {enqueue_seconds,
    drain_seconds, jobs_per_second, tenants_enqueued, tenants_processed, tenants_failed,
    continued}}}``.
    """
    names = schedules or tenant_schedules()
    if not own_world:
        with quiet_metrics(), quiet_request_logs():
            return {"tenants": None, "setup_seconds": 0.0, "schedules": _measure(names)}
    with quiet_metrics(), world(), quiet_request_logs(), dynamodb_cost_model(), sqs_cost_model():
        started = time.perf_counter()
        registry_tenants(n_tenants)
        setup = time.perf_counter() - started
        return {"tenants": n_tenants, "setup_seconds": round(setup, 3), "schedules": _measure(names)}


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 500
    names = argv[1:] or None
    figures = run_jobs(n, schedules=names)
    print(f"{figures['tenants']} tenants (registry items written in {figures['setup_seconds']:.1f} s)")
    print(f"{'schedule':<24}{'enqueue s':>10}{'continued':>10}{'drain s':>10}{'total s':>10}{'jobs/s':>9}"
          f"{'ok':>7}{'failed':>8}")
    for name, row in figures["schedules"].items():
        total = row["enqueue_seconds"] + row["drain_seconds"]
        print(f"{name:<24}{row['enqueue_seconds']:>10.2f}{'yes' if row['continued'] else 'no':>10}"
              f"{row['drain_seconds']:>10.2f}{total:>10.2f}{row['jobs_per_second']:>9.1f}"
              f"{row['tenants_processed']:>7}{row['tenants_failed']:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
