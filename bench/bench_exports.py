"""Data exports: time and memory of a whole export, against reading the same pages alone.

* A tenant's customers (PII sealed under its key, as the service stores them) are
  written straight to moto's table in batches: creating them through the API would
  take far longer than the export being measured.
* Export: ``worker.run`` on a requested export, in one invocation (no deadline), as the
  SQS handler runs it: bulk Queries, decryption, the CSV-in-zip or gzip'd NDJSON writer,
  the S3 multipart upload (moto, in-process), the completion and the mail.
* Read only: the same entity pages through the same readers (Query + decryption +
  model dump), nothing written. The ratio is export time / read time.
* moto runs as a separate server process (``moto_server``) reached over HTTP, as the
  local runner does: in-process, moto's Query copies the whole partition on every call
  and keeps the table and the uploaded object in the benchmark's own memory, which
  would be measured as the export's.
* CPU: this process's CPU time during the export (decryption, records, writers, HTTP
  clients), apart from moto's, whose Query sorts the whole partition on every page
  (a cost real DynamoDB does not have) and dominates the wall time here.
* Memory: this process's resident set is sampled every 20 ms during the export; the
  figure is its peak growth over the resident set when the export started (a page of
  up to 1,000 decrypted items, one part buffer, the SDK's caches); the goal is that it
  stays flat with size.
* Sizes: ``BENCH_EXPORT_SIZES`` (comma-separated, default 10000,100000); --quick runs
  1000 and 3000.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.harness import (
    Row,
    SigningKey,
    bench_environment,
    create_tenant,
    quiet_request_logs,
    ratio,
    reset_process_state,
)

NAME = "exports"
PAGE_SIZE = 4096  # /proc/self/statm counts pages


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


class _RssSampler:
    def __init__(self, every: float = 0.02) -> None:
        self.every, self.peak, self.start = every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            self._stop.wait(self.every)

    def __enter__(self) -> _RssSampler:
        self.start = self.peak = _rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1024**2


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _reset_all() -> None:
    from chalicelib.crypto import pii
    from chalicelib.store import data

    reset_process_state()
    data.reset_connections()
    pii.reset_state()


@contextmanager
def _moto_world() -> Iterator[None]:
    """The stage environment against a fresh ``moto_server`` subprocess, bootstrapped."""
    import subprocess
    import sys
    from pathlib import Path

    import requests

    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = dict(os.environ)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL") or n == "JWT_JWKS_FILE"]:
            del os.environ[name]
        os.environ.update({**bench_environment(SigningKey.generate()), "AWS_ENDPOINT_URL": endpoint})
        _reset_all()
        from chalicelib.local.bootstrap import bootstrap
        from chalicelib.settings import get_settings

        bootstrap(get_settings())
        yield
    finally:
        _reset_all()
        os.environ.clear()
        os.environ.update(saved)
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # its werkzeug server may ignore SIGTERM while busy
            server.kill()
            server.wait(timeout=10)


@contextmanager
def _bound(tenant: Any) -> Iterator[None]:
    from chalicelib.auth.principal import Principal
    from chalicelib.tenancy import context
    from chalicelib.tenancy.context import TenantContext

    principal = Principal(sub="bench-admin", roles=frozenset({"tenant_admin"}), tenant_id=tenant.id)
    with context.bound(TenantContext(tenant=tenant, request_id=f"bench-{uuid.uuid4()}", principal=principal)):
        yield


def _seed(tenant: Any, count: int) -> None:
    from chalicelib.clock import now_iso
    from chalicelib.network.customers import service as customers
    from chalicelib.store import data, keys
    from chalicelib.store.data import DataItem

    with _bound(tenant):
        data.bind()
        now = now_iso()
        with DataItem.batch_write() as batch:
            for n in range(count):
                customer_id = str(uuid.uuid4())
                fields = {"name": f"Bench Customer {n}", "email": f"c{n}@bench.example", "phone": "+1 555 010 0000",
                          "vehicles": [{"vin": "1HGCM82633A004352", "make": "Honda", "model": "Accord",
                                        "year": 2003}],
                          "notes": "Prefers mornings", "user_sub": None}
                batch.save(data.new_item(pk=data.partition(keys.CUSTOMER), sk=customer_id, kind=keys.CUSTOMER,
                                         entity_id=customer_id, version=1, created_at=now, updated_at=now,
                                         **customers._documents(customer_id, fields)))


def _export(tenant: Any, fmt: str) -> tuple[float, float, float, dict[str, Any]]:
    from chalicelib.exports import service, worker
    from chalicelib.exports.models import ExportCreate

    with _bound(tenant):
        record = service.request_export(ExportCreate.model_validate(
            {"format": fmt, "include": ["customers"], "notify_email": "bench@bench.example"}))
        with _RssSampler() as memory:
            started, cpu = time.perf_counter(), time.process_time()
            worker.run(record.id, record.step, remaining=lambda: 1e9)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        done = service.get_export(record.id).view().model_dump(mode="json")
    if done["status"] != "completed":
        raise RuntimeError(f"the export did not complete: {done}")
    done["cpu_seconds"] = cpu
    return seconds, memory.growth_mb, memory.peak / 1024**2, done


def _read_only(tenant: Any) -> tuple[float, int]:
    from chalicelib.exports import sources
    from chalicelib.exports.models import Entity
    from chalicelib.settings import get_settings

    read = sources.reader(Entity.CUSTOMERS)
    rows, cursor, started = 0, None, time.perf_counter()
    with _bound(tenant):
        while True:
            page, cursor = read(get_settings().export_page_size, cursor)
            rows += len(page)
            if cursor is None:
                return time.perf_counter() - started, rows


def _sizes(quick: bool) -> list[int]:
    if quick:
        return [1000, 3000]
    return [int(s) for s in os.environ.get("BENCH_EXPORT_SIZES", "10000,100000").split(",") if s.strip()]


def _measure(size: int, log: Callable[[str], None]) -> list[Row]:
    rows: list[Row] = []
    with _moto_world(), quiet_request_logs():
        tenant = create_tenant(f"exports-{size}", plan="enterprise")
        started = time.perf_counter()
        _seed(tenant, size)
        log(f"  seeded {size} customers in {time.perf_counter() - started:.0f} s")
        exported: dict[str, float] = {}
        for fmt in ("csv", "json"):
            seconds, growth, peak, done = _export(tenant, fmt)
            exported[fmt] = seconds
            log(f"  {fmt} export of {size}: {seconds:.1f} s (this process's CPU {done['cpu_seconds']:.1f} s), "
                f"RSS +{growth:.1f} MB, peak {peak:.0f} MB, {done['size_bytes']} bytes")
            label = f"{fmt} export, {size:,} items"
            rows += [
                Row(NAME, f"{label}: peak resident set", round(peak, 1), "MB"),
                Row(NAME, f"{label}: time", round(seconds, 2), "s", "linear in items"),
                Row(NAME, f"{label}: per 1,000 items", round(seconds / size * 1000, 3), "s"),
                Row(NAME, f"{label}: CPU of this process per 1,000 items", round(done["cpu_seconds"] / size * 1000, 3),
                    "s", "flat (moto's CPU is in its own process)"),
                Row(NAME, f"{label}: peak memory growth", round(growth, 1), "MB", "flat, < 150 MB"),
                Row(NAME, f"{label}: object size", round(done["size_bytes"] / 1024**2, 2), "MB"),
            ]
        # After the exports, so that both run in a warm process (data keys cached, pools open).
        reading, count = _read_only(tenant)
        if count != size:
            raise RuntimeError(f"read {count} of {size} customers")
        log(f"  read only, {size}: {reading:.1f} s")
        rows.append(Row(NAME, f"read only (Query + decrypt), {size:,} items: time", round(reading, 2), "s"))
        rows += [Row(NAME, f"{fmt} export / read-only time, {size:,} items", round(ratio(t, reading), 2), "x")
                 for fmt, t in exported.items()]
    return rows


def run(quick: bool = False) -> list[Row]:
    import sys

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    rows: list[Row] = []
    for size in _sizes(quick):
        rows += _measure(size, log)
    return rows
