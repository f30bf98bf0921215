"""The platform with many tenants (issue 20, deliverable 6): provisioning, latency, jobs,
a container's memory, and concurrent creates.

``python -m bench --quick scale`` fills local AWS with 1,000 tenants, the full run with
10,000 (``BENCH_SCALE_TENANTS`` overrides either). Local AWS is moto in this process,
run with DynamoDB's cost model (``bench/moto_scale.py``): as it stands moto copies a
whole table per transaction and walks it per Query, which makes filling it O(N^2); and
with SQS's for deletes (moto walks the queue for each receipt handle).

**Provisioning.** The first tenants (100; 25 in ``--quick``) go through the real service
(``tenants.provisioning.provision``: what ``POST /api/admin/tenants`` runs: KMS key,
registry transaction, API key, roles, categories, templates, admin member, welcome
mail), one after another: moto in one process is bound to one core, so a thread pool
adds nothing. That rate is the figure. The rest are filled faster with the tenant
service's own ``create_tenant`` (KMS key, tenant, reservations, audit events, counters:
one transaction) and default roles: every tenant is active, resolvable and has its
own key; the fill rate is printed separately, never as the provisioning rate.

**(a) Latency.** ``GET /api/professionals?limit=25`` for one tenant (25 professionals),
through ``chalice.test.Client``, with 1, 1,000 and 10,000 other tenants present (those
not above N are skipped); the same Query straight through boto3 is timed too, to tell
moto's share from the app's. Local AWS lives in this process's heap, so the heap is
frozen out of the garbage collector before each measurement (``_settle_heap``).

**(b) Scheduled jobs.** When 100 (``--quick``) or 1,000 tenants are present
(``BENCH_SCALE_JOB_TENANTS``), ``bench/scale_jobs.run_jobs`` fires every per-tenant
schedule (``@tenant_schedule``) as EventBridge would and the local pump drains the
tenant-jobs queue: enqueue time, drain time (serial here: one process; in AWS the
consumer runs many batches at once) and jobs failed, per schedule. With all N tenants
present, each schedule's enqueue is timed again (``scale_jobs.enqueue_only``: the
messages are deleted, not run: draining 10,000 tenants' jobs six times is about an hour
of one core here; ``python -m bench.scale_jobs 10000`` measures that, job by job).
Without ``bench/scale_jobs.py`` (before the fan-out), every schedule is
fired as the pump fires it and the total extrapolated linearly, labelled so.

**(c) Memory.** A child process (``bench/scale_container.py``, the app alone, talking to
this process's moto over HTTP) serves one request for each of N distinct tenants
(``BENCH_SCALE_SERVED`` serves fewer) and reports its resident memory at intervals, its
caches' hits and misses, and the AWS calls a tenant's first request costs.

**(d) Concurrent creates.** ``make run``'s runner (``python -m chalicelib.local``) is
started on free ports; a new tenant (rate limits raised so that only the writes race)
gets 50 ``POST /api/customers`` at once over real HTTP, each on its own connection.
The runner's moto serialises DynamoDB requests (``chalicelib/local/motoserver.py``), so
transaction conflicts that DynamoDB would report under contention cannot occur here.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.harness import (
    PROJECT_DIR,
    Row,
    World,
    median,
    percentile,
    quiet_metrics,
    quiet_request_logs,
    ratio,
    run_concurrently,
    world,
)
from bench.moto_scale import dynamodb_cost_model, sqs_cost_model

NAME = "scale"
CHECKPOINTS = (1, 1_000, 10_000)
PROFESSIONALS = 25
LAMBDA_TIMEOUT_SECONDS = 60
CREATES = 50
RUNNER_STARTUP_SECONDS = 120


def _tenant_count(quick: bool) -> int:
    return int(os.environ.get("BENCH_SCALE_TENANTS", 1_000 if quick else 10_000))


def _served_count(n: int) -> int:
    return min(n, int(os.environ.get("BENCH_SCALE_SERVED", n)))


def _job_tenant_count(quick: bool, n: int) -> int:
    return min(n, int(os.environ.get("BENCH_SCALE_JOB_TENANTS", 100 if quick else 1_000)))


# ---- provisioning --------------------------------------------------------------------------


def _provision(slug: str) -> Any:
    from chalicelib.tenants import provisioning
    from chalicelib.tenants.admin_models import TenantAdminCreate

    return provisioning.provision(TenantAdminCreate(slug=slug, name=slug.title(), display_name=slug.title(),
                                                    admin_email=f"owner@{slug}.example", seed_demo_data=False))


def _fill(slug: str) -> Any:
    from chalicelib import members
    from chalicelib.tenancy import context
    from chalicelib.tenants import service
    from chalicelib.tenants.models import TenantCreate

    tenant = service.create_tenant(TenantCreate(slug=slug, name=slug.title(), display_name=slug.title()))
    with context.bound(context.acting_in(tenant)):
        members.install_default_roles()
    return tenant


class Tenants:
    """The other tenants, added by the real provisioning first, then by the fill."""

    def __init__(self, real: int) -> None:
        self.real = real
        self.made: list[Any] = []
        self.seconds = {"provision": 0.0, "fill": 0.0}

    def grow_to(self, count: int) -> None:
        while len(self.made) < count:
            index = len(self.made)
            if index % 500 == 0:
                _settle_heap()
            kind = "provision" if index < self.real else "fill"
            started = time.perf_counter()
            self.made.append((_provision if kind == "provision" else _fill)(f"scale-{index:06d}"))
            self.seconds[kind] += time.perf_counter() - started

    def rows(self) -> list[Row]:
        real = min(self.real, len(self.made))
        filled = len(self.made) - real
        return [
            Row(NAME, f"provisioning (real service, {real} tenants, sequential)",
                round(ratio(real, self.seconds["provision"]), 2), "tenants/s", "report only"),
            Row(NAME, "provisioning: time per tenant", round(ratio(self.seconds["provision"], real) * 1000, 1), "ms"),
            Row(NAME, f"fill (create_tenant + roles, {filled} tenants)",
                round(ratio(filled, self.seconds["fill"]), 2), "tenants/s", "not a provisioning figure"),
        ]


# ---- (a) latency against the number of tenants ----------------------------------------------


def _settle_heap() -> None:
    """Take what exists now out of the cyclic garbage collector's generations.

    This process holds all of local AWS (moto's tables, keys, queues): millions of
    objects after a few thousand tenants, which every full collection walks. Measured
    without this, a Query on a 25-item partition went from 50 to 137 ms between 1 and
    1,000 tenants although moto (with the cost model) reads only that partition: the
    walk, not the request. A Lambda container does not hold DynamoDB in its heap, so
    the heap is frozen (``gc.freeze``) before each measurement and while filling.
    """
    gc.collect()
    gc.freeze()


def _probe_tenant(w: World) -> tuple[Any, str]:
    from chalicelib.network.professionals import service as professionals
    from chalicelib.network.professionals.models import ProfessionalCreate
    from chalicelib.tenancy import context

    tenant = _provision("scale-probe")
    with context.bound(context.TenantContext(tenant=tenant, request_id="scale-seed")):
        for n in range(PROFESSIONALS):
            professionals.create_professional(ProfessionalCreate(
                business_name=f"Probe Shop {n}", contact_name=f"Owner {n}", email=f"owner{n}@probe.example"))
    return tenant, w.key.token(tenant_id=tenant.id)


def _raw_query(tenant: Any) -> Callable[[], None]:
    from chalicelib import aws
    from chalicelib.settings import get_settings
    from chalicelib.store import data, keys
    from chalicelib.tenancy import context

    table = get_settings().data_table
    with context.bound(context.TenantContext(tenant=tenant, request_id="scale-key")):
        pk = data.partition(keys.PROFESSIONAL)
    client = aws.client("dynamodb")

    def query() -> None:
        client.query(TableName=table, KeyConditionExpression="pk = :pk",
                     ExpressionAttributeValues={":pk": {"S": pk}}, Limit=25)

    return query


def _latency_rows(http: Any, token: str, tenant: Any, others: int, samples: int,
                  baseline: dict[str, float]) -> list[Row]:
    from chalicelib.tenancy import context

    headers = {"Authorization": f"Bearer {token}"}

    def get() -> None:
        response = http.get("/api/professionals?limit=25", headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET /api/professionals answered {response.status_code}: {response.body[:300]!r}")

    _settle_heap()
    for _ in range(max(5, samples // 10)):
        get()
    timed = []
    for _ in range(samples):
        started = time.perf_counter()
        get()
        timed.append((time.perf_counter() - started) * 1000)
    query = _raw_query(tenant)
    with context.bound(context.TenantContext(tenant=tenant, request_id="scale-raw")):
        raw = []
        for _ in range(samples):
            started = time.perf_counter()
            query()
            raw.append((time.perf_counter() - started) * 1000)
    med, p99, raw_med = median(timed), percentile(timed, 99), median(raw)
    baseline.setdefault("median", med)
    baseline.setdefault("p99", p99)
    label = f"(a) GET /api/professionals, {others:,} other tenants"
    return [
        Row(NAME, f"{label}: median", round(med, 2), "ms"),
        Row(NAME, f"{label}: p99", round(p99, 2), "ms"),
        Row(NAME, f"{label}: median / with 1 other", round(ratio(med, baseline["median"]), 3), "x", "<= 1.1"),
        Row(NAME, f"{label}: p99 / with 1 other", round(ratio(p99, baseline["p99"]), 3), "x", "<= 1.1"),
        Row(NAME, f"{label}: its Query alone (boto3), median", round(raw_med, 2), "ms", "moto's share"),
    ]


# ---- (b) scheduled jobs ---------------------------------------------------------------------


def _jobs_rows(n_tenants: int, n_total: int) -> list[Row]:
    try:
        scale_jobs = importlib.import_module("bench.scale_jobs")
    except ModuleNotFoundError as exc:
        if exc.name != "bench.scale_jobs":
            raise
        return _today_jobs_rows(n_tenants, n_total)
    rows = [Row(NAME, "(b) jobs measured by", "bench/scale_jobs.run_jobs (fan-out), these tenants")]
    figures = scale_jobs.run_jobs(n_tenants, own_world=False)
    for job, values in figures["schedules"].items():
        rows += [Row(NAME, f"(b) {job} @{n_tenants:,}: {metric}", value) for metric, value in values.items()]
    return rows


def _enqueue_rows(n_tenants: int) -> list[Row]:
    """(b) at full size: each schedule's enqueue over every tenant (drained at the smaller count)."""
    try:
        scale_jobs = importlib.import_module("bench.scale_jobs")
    except ModuleNotFoundError as exc:
        if exc.name != "bench.scale_jobs":
            raise
        return []
    rows = []
    for job, values in scale_jobs.enqueue_only().items():
        rows += [Row(NAME, f"(b) {job} @{n_tenants:,}: {metric}", value) for metric, value in values.items()]
    return rows


def _today_jobs_rows(n_tenants: int, n_total: int) -> list[Row]:
    from app import app
    from chalicelib.local.pump import EventPump
    from chalicelib.settings import get_settings

    pump = EventPump(app, get_settings().region)
    rows = [Row(NAME, "(b) jobs measured by", "today's schedule handlers (sequential loop, no fan-out)")]
    for source, _schedule in pump.schedules:
        started = time.perf_counter()
        result = pump.fire(source.name)
        handler = time.perf_counter() - started
        pump.drain(max_rounds=10_000)
        total = time.perf_counter() - started
        processed = result.get("tenants_processed", "?") if isinstance(result, dict) else "?"
        failed = len(result.get("tenants_failed", ())) if isinstance(result, dict) else "?"
        label = f"(b) {source.name}, {n_tenants:,} tenants"
        rows += [
            Row(NAME, f"{label}: enqueue", "n/a", "", "no enqueue: one loop"),
            Row(NAME, f"{label}: total (handler + queue drain)", round(total, 2), "s",
                f"one invocation <= {LAMBDA_TIMEOUT_SECONDS} s"),
            Row(NAME, f"{label}: handler alone", round(handler, 2), "s",
                "over the Lambda timeout" if handler > LAMBDA_TIMEOUT_SECONDS else "within the Lambda timeout"),
            Row(NAME, f"{label}: tenants processed / failed", f"{processed} / {failed}"),
            Row(NAME, f"(b) {source.name}: total for {n_total:,} tenants (extrapolated, linear)",
                round(total * n_total / n_tenants, 1), "s", f"one invocation <= {LAMBDA_TIMEOUT_SECONDS} s"),
        ]
    return rows


# ---- (c) a container's memory ---------------------------------------------------------------


def _memory_rows(w: World, tenants: list[tuple[str, str]]) -> list[Row]:
    from chalicelib.local.motoserver import IsolatingMotoServer

    server = IsolatingMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as directory:
            results = Path(directory) / "memory.jsonl"
            env = {**w.env, "AWS_ENDPOINT_URL": f"http://{host}:{port}", "PYTHONPATH": str(PROJECT_DIR)}
            job = {"tenants": tenants, "every": max(1, len(tenants) // 10), "project_dir": str(w.project_dir)}
            with open(Path(directory) / "stderr.txt", "w+") as err:
                done = subprocess.run([sys.executable, "-m", "bench.scale_container", str(results)],
                                      input=json.dumps(job), text=True, cwd=PROJECT_DIR, env=env,
                                      stdout=subprocess.DEVNULL, stderr=err, timeout=3600, check=False)
                err.seek(0)
                if done.returncode != 0:
                    raise RuntimeError(f"the container exited with {done.returncode}:\n{err.read()[-3000:]}")
            lines = [json.loads(line) for line in results.read_text().splitlines()]
    finally:
        server.stop()
    rows = [Row(NAME, f"(c) container RSS after {line['served']:,} tenants", round(line["rss_kib"] / 1024, 1), "MiB",
                "bounded by cache sizes") for line in lines]
    last = lines[-1]
    rows.append(Row(NAME, "(c) container peak RSS", round(last["peak_kib"] / 1024, 1), "MiB"))
    rows.append(Row(NAME, "(c) answers by status", ", ".join(f"{k}: {v}" for k, v in sorted(last["statuses"].items()))))
    for cache, counts in sorted(last.get("cache_lookups", {}).items()):
        summary = ", ".join(f"{result} {count}" for result, count in sorted(counts.items()))
        rows.append(Row(NAME, f"(c) cache {cache}", summary))
    served = max(1, last["served"])
    by_service: Counter[str] = Counter()
    for operation, count in last.get("aws_calls", {}).items():
        by_service[operation.split(":", 1)[0]] += count
    for service, count in sorted(by_service.items()):
        rows.append(Row(NAME, f"(c) {service} calls per first request of a tenant", round(count / served, 2), "calls"))
    busiest = sorted(last.get("aws_calls", {}).items(), key=lambda kv: -kv[1])[:6]
    rows.append(Row(NAME, "(c) busiest AWS operations", ", ".join(f"{k}={v / served:.2f}" for k, v in busiest)))
    return rows


def _storage_rows(tenant: Any) -> list[Row]:
    """What one provisioned tenant stores in DynamoDB: items and bytes (moto's item size,
    DynamoDB's rule: names plus values)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.settings import get_settings

    settings = get_settings()
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][settings.region]
    rows = []
    for label, table_name in (("data", settings.data_table), ("registry", settings.registry_table)):
        items = [item for item in backend.get_table(table_name).all_items() if str(tenant.id) in str(item.attrs)]
        rows += [Row(NAME, f"storage of one provisioned tenant: {label} items", len(items), "items"),
                 Row(NAME, f"storage of one provisioned tenant: {label} bytes", sum(i.size() for i in items), "B")]
    return rows


# ---- (d) concurrent creates over real HTTP --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _local_runner(directory: Path) -> Iterator[tuple[str, dict[str, str]]]:
    import requests

    port, aws_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.pop("STAGE", None)
    with open(directory / "runner.out", "wb") as out, open(directory / "runner.err", "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.local", "--port", str(port), "--aws-port", str(aws_port),
             "--http-dir", str(directory / "http")], cwd=PROJECT_DIR, env=env, stdout=out, stderr=err)
    api = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + RUNNER_STARTUP_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the local runner did not start:\n{(directory / 'runner.err').read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{api}/api/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.3)
        yield api, {**env, "LOCAL_AWS_PORT": str(aws_port)}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _cli_token(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "chalicelib.cli", "token", *args], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def _creates_rows() -> list[Row]:
    import requests

    with tempfile.TemporaryDirectory(prefix="bench-scale-runner-") as directory, \
            _local_runner(Path(directory)) as (api, env):
        admin = {"Authorization": f"Bearer {_cli_token(env, '--role', 'platform_admin')}"}
        created = requests.post(f"{api}/api/admin/tenants", headers=admin, timeout=120, json={
            "slug": "scale-race", "name": "Scale Race", "display_name": "Scale Race",
            "admin_email": "owner@scale-race.example"})
        created.raise_for_status()
        tenant_id = created.json()["id"]
        requests.put(f"{api}/api/admin/tenants/{tenant_id}/limits", headers=admin, timeout=60,
                     json={"rate_per_second": 1000, "burst": 1000}).raise_for_status()
        headers = {"Authorization": f"Bearer {_cli_token(env, '--tenant', 'scale-race', '--role', 'tenant_admin')}"}
        barrier = threading.Barrier(CREATES)
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()

        def create(n: int) -> None:
            barrier.wait(timeout=120)
            try:
                with requests.Session() as session:
                    status = str(session.post(f"{api}/api/customers", json={"name": f"Racer {n}"},
                                              headers={**headers, "Connection": "close"}, timeout=300).status_code)
            except requests.RequestException as exc:
                status = type(exc).__name__
            with lock:
                outcomes[status] += 1

        wall = run_concurrently([functools.partial(create, n) for n in range(CREATES)], join_timeout=600)
    answers = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
    label = f"(d) {CREATES} concurrent POST /api/customers, one tenant, real HTTP"
    return [
        Row(NAME, f"{label}: created (201)", outcomes["201"], "", f"{CREATES}"),
        Row(NAME, f"{label}: 409 (a client retries)", outcomes["409"], "", "0"),
        Row(NAME, f"{label}: connection errors", sum(v for k, v in outcomes.items() if not k.isdigit()), "", "0"),
        Row(NAME, f"{label}: answers", answers),
        Row(NAME, f"{label}: wall time", round(wall, 2), "s", "report only"),
    ]


def _progress(started: float, what: str) -> None:
    print(f"  scale: {what} at {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


# ---- the run --------------------------------------------------------------------------------


def run(quick: bool = False) -> list[Row]:
    n = _tenant_count(quick)
    tenants = Tenants(real=min(n, 25 if quick else 100))
    started = time.perf_counter()
    rows = [Row(NAME, "tenants in local AWS (besides the probe tenant)", n)]
    # The resolution cache's maximum TTL: the latency figures are of warm requests.
    with world({"TENANT_CACHE_TTL_SECONDS": "60"}) as w, quiet_request_logs(), quiet_metrics(), \
            dynamodb_cost_model(), sqs_cost_model():
        from chalice.test import Client

        from app import app
        from chalicelib.local.bootstrap import app_queue_names, bootstrap
        from chalicelib.settings import get_settings

        bootstrap(get_settings(), app_queue_names(app))  # the app's own queues, as `make run` makes them
        probe, token = _probe_tenant(w)
        baseline: dict[str, float] = {}
        latency: list[Row] = []
        jobs: list[Row] = []
        samples = 100 if quick else 200
        job_tenants = _job_tenant_count(quick, n)
        checkpoints = sorted({c for c in CHECKPOINTS if c <= n} | {n, job_tenants})
        with Client(app, project_dir=str(w.project_dir)) as client:
            for checkpoint in checkpoints:
                tenants.grow_to(checkpoint)
                _progress(started, f"{checkpoint:,} tenants")
                if checkpoint == job_tenants:
                    jobs = _jobs_rows(job_tenants + 1, n + 1)  # the probe tenant is active too
                    _progress(started, "(b)")
                if checkpoint in CHECKPOINTS or checkpoint == n:
                    latency += _latency_rows(client.http, token, probe, checkpoint, samples, baseline)
                    _progress(started, "(a)")
            if n > job_tenants:
                jobs += _enqueue_rows(n + 1)
                _progress(started, "(b) enqueue at full size")
        rows += tenants.rows() + _storage_rows(tenants.made[0]) + latency + jobs
        served = [(str(t.id), w.key.token(tenant_id=t.id)) for t in tenants.made[:_served_count(n)]]
        rows += _memory_rows(w, served)
        _progress(started, "(c)")
    rows += _creates_rows()
    rows.append(Row(NAME, "benchmark wall time", round(time.perf_counter() - started, 1), "s"))
    return rows


if __name__ == "__main__":
    from bench.harness import format_table

    print(format_table(run(quick="--quick" in sys.argv)))
