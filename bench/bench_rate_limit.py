"""The per-tenant rate limiter: what it adds to a request, and that it adds no DynamoDB call.

Three measurements:

1. The limiter alone: ``InProcessLimiter.take`` for one tenant, and across 10,000 tenants
   (the LRU at its bound, evicting), and ``service.take`` with the effective-limits
   lookup it does per request (warm cache), in microseconds per call.
2. GET /api/tenant through ``chalice.test`` (JWT, resolution, decorator, view) with the
   in-process limiter and without it (``RATE_LIMIT_MODE=usage_plans``, where API Gateway
   limits and the route skips it), in alternating blocks so drift falls on both. The
   tenant is on ``enterprise`` (500/s, burst 1,000), so no request is refused.
3. DynamoDB calls per warm request in each mode, counted by a hook on every botocore
   session: the limiter reads and writes nothing, so both should be the route's own.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

from bench.harness import Row, create_tenant, median, percentile, quiet_request_logs, set_env, time_calls, world

NAME = "rate_limit"
PATH = "/api/tenant"
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class _Calls:
    def __init__(self) -> None:
        self.active = False
        self.names: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model: Any = None, **_: Any) -> None:
        if self.active:
            with self._lock:
                self.names[getattr(model, "name", "?")] += 1


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 2)


def _ms(seconds: float) -> float:
    return seconds * 1000


def _limiter_alone(iterations: int) -> list[Row]:
    from chalicelib.ratelimit import InProcessLimiter, RateLimits

    limits = RateLimits(rate_per_second=1e9, burst=10**9, requests_per_day=10**12)
    one = InProcessLimiter(10_000)
    tenant = uuid.uuid4()
    single = time_calls(lambda: one.take(tenant, limits), iterations, warmup=100)
    many = InProcessLimiter(10_000)
    tenants = [uuid.uuid4() for _ in range(20_000)]  # twice the bound: every call past 10,000 evicts
    for each in tenants:  # fill to the bound, then keep evicting
        many.take(each, limits)
    cursor = iter(range(10**9))
    spread = time_calls(lambda: many.take(tenants[next(cursor) % len(tenants)], limits), iterations, warmup=100)
    return [
        Row(NAME, f"InProcessLimiter.take, one tenant, median of {iterations}", _us(median(single)), "us"),
        Row(NAME, "InProcessLimiter.take, 20,000 tenants round-robin (LRU bound 10,000)", _us(median(spread)), "us"),
        Row(NAME, "tenants held after that run", len(many), "tenants", "10000 (bounded)"),
    ]


def _service_take(tenant: Any, iterations: int) -> Row:
    from chalicelib.ratelimit import service
    from chalicelib.tenancy.context import TenantContext

    ctx = TenantContext(tenant=tenant, request_id="bench")
    # A clock one second ahead at each call keeps the (real) bucket from running dry.
    ticks = iter(range(1_000_000_000, 2_000_000_000))
    service.reset_state(clock=lambda: float(next(ticks)))
    service.take(ctx)  # warm the effective-limits cache
    try:
        samples = time_calls(lambda: service.take(ctx), iterations, warmup=100)
    finally:
        service.reset_state()
    return Row(NAME, f"service.take (limits lookup + bucket), warm, median of {iterations}", _us(median(samples)),
               "us")


def _requests(w: Any, blocks: int, per_block: int) -> list[Row]:
    from chalice.test import Client

    from app import app
    from chalicelib import aws
    from chalicelib.ratelimit import service

    tenant = create_tenant("bench-limited", plan="enterprise")
    service.use_limits_source(None)  # the tenant's real (enterprise) limits
    headers = {"Authorization": f"Bearer {w.key.token(tenant_id=tenant.id)}"}
    calls = _Calls()
    aws.install_session_hook("before-call.dynamodb", calls)
    samples: dict[str, list[float]] = {"in_process": [], "usage_plans": []}
    per_request: dict[str, Counter[str]] = {"in_process": Counter(), "usage_plans": Counter()}
    refused = 0
    try:
        with Client(app, project_dir=str(w.project_dir)) as client:
            def get() -> int:
                return int(client.http.get(PATH, headers=headers).status_code)

            rows = [_service_take(tenant, 2000)]
            for _ in range(blocks):
                for mode in ("in_process", "usage_plans"):
                    set_env(RATE_LIMIT_MODE=mode, TENANT_CACHE_TTL_SECONDS="60")
                    get()  # warm after the cache clear
                    calls.names, calls.active = Counter(), True
                    for _ in range(per_block):
                        started = time.perf_counter()
                        status = get()
                        samples[mode].append(time.perf_counter() - started)
                        refused += status == 429
                    calls.active = False
                    per_request[mode].update(calls.names)
    finally:
        aws.remove_session_hook("before-call.dynamodb", calls)
    n = blocks * per_block
    with_limiter, without = samples["in_process"], samples["usage_plans"]

    def per(mode: str) -> float:
        return sum(per_request[mode].values()) / n

    return rows + [
        Row(NAME, f"GET {PATH} with the in-process limiter, median of {n}", _ms(median(with_limiter)), "ms"),
        Row(NAME, f"GET {PATH} without it (usage_plans mode), median of {n}", _ms(median(without)), "ms"),
        Row(NAME, "added by the limiter per request (median difference)",
            round(_ms(median(with_limiter) - median(without)), 4), "ms", "well under 0.1 ms"),
        Row(NAME, "p95 with / without", f"{_ms(percentile(with_limiter, 95)):.2f} / "
            f"{_ms(percentile(without, 95)):.2f}", "ms"),
        Row(NAME, "requests refused (429) during the timed run", refused, "", "0 (enterprise limits)"),
        Row(NAME, "DynamoDB calls/request, in-process limiter", per("in_process"), "calls", "= without"),
        Row(NAME, "DynamoDB calls/request, usage_plans mode", per("usage_plans"), "calls"),
        Row(NAME, "DynamoDB writes/request, either mode",
            sum(v for m in per_request.values() for k, v in m.items() if k in WRITES) / (2 * n), "writes", "0"),
    ]


def run(quick: bool = False) -> list[Row]:
    iterations, blocks, per_block = (2_000, 2, 20) if quick else (20_000, 8, 40)
    rows = _limiter_alone(iterations)
    with world() as w, quiet_request_logs():
        rows += _requests(w, blocks, per_block)
    return rows
