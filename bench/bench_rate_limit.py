"""The per-tenant rate limiters: what each adds to a request, in time and DynamoDB calls.

Four measurements:

1. The limiter alone: ``InProcessLimiter.take`` for one tenant, and across 10,000 tenants
   (the LRU at its bound, evicting), and ``service.take`` with the effective-limits
   lookup it does per request (warm cache), in microseconds per call.
2. GET /api/tenant through ``chalice.test`` (JWT, resolution, decorator, view) with the
   in-process limiter and without it (``RATE_LIMIT_MODE=usage_plans``, where API Gateway
   limits and the route skips it), in alternating blocks so drift falls on both. The
   tenant is on ``enterprise`` (500/s, burst 1,000), so no request is refused.
3. DynamoDB calls per warm request in each mode, counted by a hook on every botocore
   session: the in-process limiter reads and writes nothing; the distributed one
   (``RATE_LIMIT_MODE=dynamodb``, behind the usage plans in AWS) one conditional write.
4. The distributed limiter alone against moto's DynamoDB (in-process ``mock_aws``, so
   the latency is moto's Python, not a network round trip; DynamoDB's documented
   single-digit milliseconds is the figure to plan with): ``DynamoLimiter.take`` for a
   busy bucket (one write), an idle one (two), a refused one (one), its writes per call,
   and across 1,000 buckets.
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
    modes = ("in_process", "dynamodb")
    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    per_request: dict[str, Counter[str]] = {mode: Counter() for mode in modes}
    refused = 0
    try:
        with Client(app, project_dir=str(w.project_dir)) as client:
            def get() -> int:
                return int(client.http.get(PATH, headers=headers).status_code)

            rows = [_service_take(tenant, 2000)]
            for _ in range(blocks):
                for mode in modes:
                    set_env(RATE_LIMIT_MODE=mode, TENANT_CACHE_TTL_SECONDS="60")
                    service.reset_state()
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
    local, shared = samples["in_process"], samples["dynamodb"]

    def per(mode: str, only: frozenset[str] | set[str] | None = None) -> float:
        return sum(v for k, v in per_request[mode].items() if only is None or k in only) / n

    return rows + [
        Row(NAME, f"GET {PATH} with the in-process limiter, median of {n}", _ms(median(local)), "ms"),
        Row(NAME, f"GET {PATH} with the distributed (DynamoDB) limiter, median of {n}", _ms(median(shared)), "ms"),
        Row(NAME, "added by the distributed limiter over the in-process one (median difference, moto)",
            round(_ms(median(shared) - median(local)), 4), "ms"),
        Row(NAME, "p95 in-process / distributed", f"{_ms(percentile(local, 95)):.2f} / "
            f"{_ms(percentile(shared, 95)):.2f}", "ms"),
        Row(NAME, "DynamoDB calls/request, in-process limiter (the route's own)", per("in_process"), "calls"),
        Row(NAME, "DynamoDB calls/request, distributed limiter", per("dynamodb"), "calls"),
        Row(NAME, "DynamoDB writes/request, in-process limiter", per("in_process", WRITES), "writes", "0"),
        Row(NAME, "DynamoDB writes/request, distributed limiter", per("dynamodb", WRITES), "writes",
            "1"),
        Row(NAME, "requests refused (429) during the timed run", refused, "", "0 (enterprise limits)"),
    ]


def _distributed_alone(iterations: int) -> list[Row]:
    from chalicelib.ratelimit import RateLimits
    from chalicelib.ratelimit.distributed import DynamoLimiter

    ticks = iter(range(10**12))
    busy_limits = RateLimits(rate_per_second=1e6, burst=10**9, requests_per_day=10**12)
    # A clock standing still: the busy bucket stays busy (its tat ahead of now) for every call.
    busy = DynamoLimiter(lambda: 1_800_000_000.0)
    tenant = uuid.uuid4()
    busy.take(tenant, busy_limits)
    busy.calls = 0
    busy_samples = time_calls(lambda: busy.take(tenant, busy_limits), iterations, warmup=20)
    busy_calls = busy.calls / (iterations + 20)
    # A clock a minute ahead at each call: the bucket is idle (full) at every request.
    idle = DynamoLimiter(lambda: 1_800_000_000.0 + 60 * next(ticks))
    idle_samples = time_calls(lambda: idle.take(tenant, busy_limits), iterations, warmup=20)
    idle_calls = idle.calls / (iterations + 20)
    refusing_limits = RateLimits(rate_per_second=0.001, burst=1, requests_per_day=10**12)
    refusing = DynamoLimiter(lambda: 1_800_000_000.0)
    spent = uuid.uuid4()
    refusing.take(spent, refusing_limits)
    refusing.calls = 0
    refused_samples = time_calls(lambda: refusing.take(spent, refusing_limits), iterations, warmup=20)
    refused_calls = refusing.calls / (iterations + 20)
    many = DynamoLimiter(lambda: 1_800_000_000.0)
    tenants = [uuid.uuid4() for _ in range(1_000)]
    cursor = iter(range(10**9))
    spread = time_calls(lambda: many.take(tenants[next(cursor) % len(tenants)], busy_limits), iterations,
                        warmup=len(tenants))
    return [
        Row(NAME, f"DynamoLimiter.take, busy bucket (moto), median of {iterations}", _ms(median(busy_samples)), "ms"),
        Row(NAME, "DynamoDB writes per take, busy bucket", round(busy_calls, 3), "writes", "1"),
        Row(NAME, f"DynamoLimiter.take, idle bucket (moto), median of {iterations}", _ms(median(idle_samples)), "ms"),
        Row(NAME, "DynamoDB writes per take, idle bucket", round(idle_calls, 3), "writes",
            "1 (2 when another container wrote since)"),
        Row(NAME, f"DynamoLimiter.take, refused (moto), median of {iterations}", _ms(median(refused_samples)), "ms"),
        Row(NAME, "DynamoDB writes per take, refused", round(refused_calls, 3), "writes", "1"),
        Row(NAME, "DynamoLimiter.take, 1,000 buckets round-robin (moto), median", _ms(median(spread)), "ms"),
        Row(NAME, "DynamoLimiter.take p99, busy bucket (moto)", _ms(percentile(busy_samples, 99)), "ms"),
    ]


def run(quick: bool = False) -> list[Row]:
    iterations, blocks, per_block = (2_000, 2, 20) if quick else (20_000, 8, 40)
    rows = _limiter_alone(iterations)
    with world() as w, quiet_request_logs():
        rows += _requests(w, blocks, per_block)
        rows += _distributed_alone(max(200, iterations // 10))
    return rows
