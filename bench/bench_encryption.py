"""PII encryption: KMS calls per thousand operations, its latency cost, its import cost.

* KMS calls are counted by a ``before-call.kms`` hook on every botocore session of the
  process (the Encryption SDK's KMS client included) while customers are created and
  then read through ``chalice.test.Client`` against moto. Reads start from an empty
  cache (``pii.reset_state()``, as in a fresh container), so they pay for their data keys.
* Latency: POST and GET /api/customers/{id} with the real codec, against the same routes
  with the codec swapped in-process for one that only frames the plaintext (this
  benchmark's own class; production has no switch that turns encryption off). Requests
  alternate between the two, so drift falls on both alike.
* Cold import: ``import app`` in a fresh interpreter, and what the first seal adds by
  importing the SDK then (``chalicelib.crypto.envelope``), since ``app`` does not.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

from bench.bench_cold_import import import_seconds
from bench.harness import PROJECT_DIR, Row, World, create_tenant, median, percentile, quiet_request_logs, ratio, world
from chalicelib.crypto.codec import Opened, TenantKeys

NAME = "encryption"


class FramingCodec:
    """No encryption: the same framing work as the real codec, for a like-for-like baseline."""

    def seal(self, keys: TenantKeys, context: dict[str, str], plaintext: bytes) -> bytes:
        return json.dumps({"k": keys.current, "c": context}).encode() + b"\n" + plaintext

    def open(self, keys: TenantKeys, ciphertext: bytes) -> Opened:
        header, plaintext = ciphertext.split(b"\n", 1)
        meta = json.loads(header)
        return Opened(plaintext, meta["c"], frozenset({meta["k"]}))


class _KmsCounter:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def on_call(self, model: Any = None, **_: Any) -> None:
        with self._lock:
            self.calls.append(getattr(model, "name", "?"))


def _customer(n: int) -> dict[str, Any]:
    return {"name": f"Bench Customer {n}", "email": f"c{n}@bench.example", "phone": "+1 555 010 0000",
            "notes": "Prefers mornings", "vehicles": [{"vin": "1HGCM82633A004352", "make": "Honda",
                                                       "model": "Accord", "year": 2003}]}


def _expect(response: Any, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"expected {status}, got {response.status_code}: {response.body[:300]!r}")
    return json.loads(response.body)


def _ms(seconds: float) -> float:
    return seconds * 1000


def _kms_per_thousand(http: Any, headers: dict[str, str], counter: _KmsCounter, operations: int) -> list[Row]:
    from chalicelib.crypto import pii

    pii.reset_state()
    counter.calls.clear()
    ids = [_expect(http.post("/api/customers", headers=headers, body=json.dumps(_customer(n))), 201)["id"]
           for n in range(operations)]
    writes = list(counter.calls)
    pii.reset_state()  # a fresh container: reads bring their own data keys
    counter.calls.clear()
    for customer_id in ids:
        _expect(http.get(f"/api/customers/{customer_id}", headers=headers), 200)
    reads = list(counter.calls)
    # A create seals, then opens what it stored to answer: a Decrypt joins GenerateDataKey.
    return [
        Row(NAME, f"KMS calls per {operations:,} PII writes ({', '.join(sorted(set(writes)))})",
            len(writes), "calls", "<= 2 per 1,000"),
        Row(NAME, f"KMS calls per {operations:,} PII reads, cold cache ({', '.join(sorted(set(reads)))})",
            len(reads), "calls", "<= 2 per 1,000"),
    ]


def _latency(http: Any, headers: dict[str, str], samples: int) -> list[Row]:
    from chalicelib.crypto import pii

    timings: dict[str, list[float]] = {"create on": [], "create off": [], "get on": [], "get off": []}
    for n in range(samples):
        payload = json.dumps(_customer(n))
        for mode, codec in (("on", None), ("off", FramingCodec())):
            previous = pii.use_codec(codec)
            try:
                started = time.perf_counter()
                created = _expect(http.post("/api/customers", headers=headers, body=payload), 201)
                timings[f"create {mode}"].append(time.perf_counter() - started)
                started = time.perf_counter()
                _expect(http.get(f"/api/customers/{created['id']}", headers=headers), 200)
                timings[f"get {mode}"].append(time.perf_counter() - started)
            finally:
                pii.use_codec(previous)
    rows = []
    for route in ("create", "get"):
        on, off = timings[f"{route} on"], timings[f"{route} off"]
        label = "POST /api/customers" if route == "create" else "GET /api/customers/{id}"
        rows += [
            Row(NAME, f"{label} encrypted, median", _ms(median(on)), "ms"),
            Row(NAME, f"{label} encrypted, p95", _ms(percentile(on, 95)), "ms"),
            Row(NAME, f"{label} codec swapped out (bench only), median", _ms(median(off)), "ms"),
            Row(NAME, f"{label} ratio encrypted / not", ratio(median(on), median(off)), "x"),
        ]
    return rows


def _cold_import(runs: int) -> list[Row]:
    import_seconds("import app")  # bytecode written, files cached
    app_s = [import_seconds("import app") for _ in range(runs)]
    probe = "import app, sys; print('aws_encryption_sdk' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True,
                            check=True, timeout=60).stdout.strip() == "True"
    first_use = [import_seconds("import app; import chalicelib.crypto.envelope") - import_seconds("import app")
                 for _ in range(runs)]
    return [
        Row(NAME, f"cold import app, median of {runs}", _ms(median(app_s)), "ms"),
        Row(NAME, "import app leaves the Encryption SDK unloaded", "no" if loaded else "yes", "", "yes"),
        Row(NAME, f"first seal/unseal adds (SDK import), median of {runs}", _ms(median(first_use)), "ms"),
    ]


def _measure(w: World, operations: int, samples: int) -> list[Row]:
    from chalice.test import Client

    from app import app
    from chalicelib import aws

    counter = _KmsCounter()
    aws.install_session_hook("before-call.kms", counter.on_call)
    try:
        tenant = create_tenant("bench-crypto", plan="premium")  # over a thousand customers: over free's 250
        headers = {"Authorization": f"Bearer {w.key.token(tenant_id=tenant.id)}",
                   "Content-Type": "application/json"}
        with Client(app, project_dir=str(w.project_dir)) as client:
            for n in range(5):  # warm-up: routes, models, keyrings
                _expect(client.http.post("/api/customers", headers=headers, body=json.dumps(_customer(n))), 201)
            # Latency first: moto's transactions copy the table, so they slow as it grows.
            rows = _latency(client.http, headers, samples)
            rows += _kms_per_thousand(client.http, headers, counter, operations)
    finally:
        aws.remove_session_hook("before-call.kms", counter.on_call)
    return rows


def run(quick: bool = False) -> list[Row]:
    # Always 1,000 operations for the KMS counts: fewer would not show the per-thousand rate.
    operations, samples, runs = (1000, 40, 3) if quick else (1000, 200, 5)
    with world() as w, quiet_request_logs():
        rows = _measure(w, operations, samples)
    return rows + _cold_import(runs)
