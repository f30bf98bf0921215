"""Provisioning a tenant end to end: time, and the AWS calls it makes, with and without demo data.

Runs ``tenants.provisioning.provision`` (what POST /api/admin/tenants does after body
validation) in moto's in-process AWS. AWS calls are counted per service and operation
with ``before-call`` hooks: DynamoDB and KMS through ``aws.install_session_hook`` (every
client, the Encryption SDK's included), SES on its client.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from bench.harness import Row, median, percentile, quiet_request_logs, world

NAME = "provisioning"


class _Calls:
    def __init__(self, service: str, into: Counter[str], lock: threading.Lock) -> None:
        self.service, self.into, self.lock = service, into, lock

    def __call__(self, model: Any = None, **_: Any) -> None:
        with self.lock:
            self.into[f"{self.service}:{getattr(model, 'name', '?')}"] += 1


def _provision_once(index: int, demo: bool, calls: Counter[str]) -> float:
    from chalicelib import aws
    from chalicelib.tenants import provisioning
    from chalicelib.tenants.admin_models import TenantAdminCreate

    lock = threading.Lock()
    hooks = {"before-call.dynamodb": _Calls("dynamodb", calls, lock), "before-call.kms": _Calls("kms", calls, lock)}
    ses_hook = _Calls("ses", calls, lock)
    for event, hook in hooks.items():
        aws.install_session_hook(event, hook)
    ses = aws.client("ses")
    ses.meta.events.register("before-call.ses", ses_hook)
    body = TenantAdminCreate(slug=f"bench-{'demo' if demo else 'bare'}-{index}", name="Bench Motors",
                             display_name="Bench", admin_email=f"owner{index}@bench.example", seed_demo_data=demo)
    try:
        started = time.perf_counter()
        tenant = provisioning.provision(body)
        elapsed = (time.perf_counter() - started) * 1000
    finally:
        for event, hook in hooks.items():
            aws.remove_session_hook(event, hook)
        ses.meta.events.unregister("before-call.ses", ses_hook)
    assert tenant.status.value == "active"
    return elapsed


def _rows(label: str, samples: list[float], calls: Counter[str], runs: int) -> list[Row]:
    rows = [
        Row(NAME, f"{label}: median", round(median(samples), 1), "ms", "report only"),
        Row(NAME, f"{label}: p95", round(percentile(samples, 95), 1), "ms", "report only"),
        Row(NAME, f"{label}: AWS calls per tenant", round(sum(calls.values()) / runs, 1), "calls"),
    ]
    for service in ("dynamodb", "kms", "ses"):
        per = sum(v for k, v in calls.items() if k.startswith(service + ":")) / runs
        rows.append(Row(NAME, f"{label}: {service} calls per tenant", round(per, 1), "calls"))
    top = ", ".join(f"{k}={v / runs:g}" for k, v in calls.most_common(6))
    rows.append(Row(NAME, f"{label}: busiest operations", top))
    return rows


def run(quick: bool = False) -> list[Row]:
    runs = 3 if quick else 10
    rows: list[Row] = []
    with world() as _w, quiet_request_logs():
        for demo in (False, True):
            calls: Counter[str] = Counter()
            samples = [_provision_once(i, demo, calls) for i in range(runs)]
            rows += _rows("with demo data" if demo else "without demo data", samples, calls, runs)
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
