"""Helpers for tests of fanned-out scheduled jobs (chalicelib/entry/fanout.py).

The tests write their tenants with ``bench.scale_jobs.registry_tenants``, which writes them
straight into the registry (their item and slug reservation, as ``registry.insert_tenant``
does), without provisioning their keys: a fanned-out job needs a tenant to bind, and
hundreds of provisioned tenants would cost the test minutes of KMS and API Gateway calls
that it does not exercise. It writes them under moto's DynamoDB cost model (tested in
tests/unit/test_bench_moto_cost_model.py); only the writing: what the test exercises runs
on moto as it is.
"""
from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalice import Chalice

from chalicelib import metrics
from chalicelib.entry import tenant_schedule
from chalicelib.entry.fanout import TENANT_JOBS_QUEUE
from chalicelib.jobs.tenant_jobs import BATCH_SIZE, run_tenant_jobs
from chalicelib.tenancy.context import current_delivery, current_tenant_id

SCHEDULE = "nightly"
JOB = "nightly_job"


class JobRecorder:
    """What the test job saw (tenant, deadline left), and the tenants it fails for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: Counter[str] = Counter()
        self.deadlines_ms: list[int] = []
        self.failing: set[str] = set()

    def run(self) -> None:
        tenant = str(current_tenant_id())
        delivery = current_delivery()
        with self.lock:
            self.runs[tenant] += 1
            if delivery is not None and delivery.remaining_ms is not None:
                self.deadlines_ms.append(delivery.remaining_ms())
        if tenant in self.failing:
            raise RuntimeError("this tenant's job fails")


def jobs_app(recorder: JobRecorder) -> Chalice:
    """A throwaway app with one per-tenant schedule and the tenant-jobs consumer, as app.py has them."""
    app = Chalice(app_name="tenant-jobs-test")

    @app.schedule("rate(1 hour)", name=SCHEDULE)
    @tenant_schedule
    def nightly_job(_detail: dict[str, Any]) -> None:
        recorder.run()

    app.on_sqs_message(queue=TENANT_JOBS_QUEUE, batch_size=BATCH_SIZE, name="tenant_jobs")(run_tenant_jobs)
    return app


@contextmanager
def emf_documents() -> Iterator[list[dict[str, Any]]]:
    """The EMF documents printed inside the block (filled in when it ends)."""
    stream = io.StringIO()
    documents: list[dict[str, Any]] = []
    previous = metrics.use_stream(stream)
    try:
        yield documents
    finally:
        metrics.use_stream(previous)
        documents.extend(json.loads(line) for line in stream.getvalue().splitlines() if line.strip())


def job_outcomes(documents: list[dict[str, Any]], job: str = JOB) -> Counter[str]:
    """``JobTenantRuns`` of ``job`` by outcome."""
    counts: Counter[str] = Counter()
    for document in documents:
        if document.get("Job") == job and "JobTenantRuns" in document:
            values = document["JobTenantRuns"]
            counts[document["Outcome"]] += int(sum(values) if isinstance(values, list) else values)
    return counts
