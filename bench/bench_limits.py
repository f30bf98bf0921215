"""Limits (issue 8): DynamoDB calls per create with limits, and the latency they add.

**Calls per create.** ``POST /api/professionals`` and ``POST /api/customers`` are sent
through ``chalice.test.Client`` while the network benchmark's recorder (a
``before-parameter-build.dynamodb`` hook on every botocore session) counts every
DynamoDB call by class. The tenant was created with its usage counters, and a first
uncounted create warms the effective-limits cache, the resolution cache (TTL 60 s for
the run) and the blind-index secret. Goal: no call beyond the create's one transaction
(the counter is one more action inside it), and no registry read. Also shown: the
one-off calls of the first create of a tenant created before counters existed (the
counter is made from a count of its partition), and of a create after the cache
expired (the plan and the overrides are read again).

**Added latency.** The service's ``create_professional`` with its tenant bound, timed
in alternation with the same create without limits (the counter's Update left out of
its transaction and no effective-limits lookup), in a fresh world, swapping which goes
first every round, so moto's slowing as the table grows falls on both alike. Read it
with care: moto's ``transact_write_items`` deep-copies the whole table once per action
of a transaction, so in moto one more action costs one more table copy (a share of the
create proportional to 1 / actions, growing with the table); DynamoDB charges the extra
item's write capacity, and no table copy. So the same pair is timed again with every
TransactWriteItems answered by a ``before-call`` hook instead of moto (our code's share
alone: building, sealing, serialising), and a warm ``effective_limits()`` lookup alone.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.bench_network import Api, Calls, _recorder, install_call_recorder
from bench.harness import Row, World, create_tenant, median, percentile, quiet_request_logs, ratio, world

NAME = "limits"
CACHE_TTL = "60"
GOAL = "1 transaction, 0 reads, 0 registry"


@contextmanager
def _bound(tenant: Any) -> Iterator[None]:
    from chalicelib.tenancy import context
    from chalicelib.tenancy.context import TenantContext

    with context.bound(TenantContext(tenant=tenant, request_id="bench")):
        yield


def _count(fn: Callable[[], Any]) -> Calls:
    with _recorder.counting() as calls:
        fn()
    return calls


def _row(metric: str, calls: Calls, goal: str = GOAL) -> Row:
    return Row(NAME, metric, f"{calls.summary()} ({calls.operation_names()})", "", goal)


def _call_rows(w: World, creates: int) -> list[Row]:
    from chalice.test import Client

    from app import app
    from chalicelib.limits import counters, effective

    tenant = create_tenant("bench-limits", plan="standard")
    legacy = create_tenant("bench-legacy", plan="standard")
    rows: list[Row] = []
    with Client(app, project_dir=str(w.project_dir)) as client:
        api = Api(client.http, w.key.token(tenant_id=tenant.id))
        old = Api(client.http, w.key.token(tenant_id=legacy.id))
        seq = iter(range(10**6))

        def pro(target: Api) -> Callable[[], Any]:
            n = next(seq)
            return lambda: target.call("POST", "/api/professionals", {
                "business_name": f"Shop {n}", "contact_name": "Pat", "email": f"pat-{n}@bench.example"}, expect=201)

        def customer(target: Api) -> Callable[[], Any]:
            n = next(seq)
            return lambda: target.call("POST", "/api/customers", {"name": f"Casey {n}"}, expect=201)

        pro(api)()
        customer(api)()  # warm: caches, the blind-index secret, pynamodb's table descriptions
        pro_calls = [_count(pro(api)) for _ in range(creates)]
        customer_calls = [_count(customer(api)) for _ in range(creates)]
        rows.append(_row(f"POST /api/professionals, each of {creates} warm creates", _same(pro_calls)))
        rows.append(_row(f"POST /api/customers, each of {creates} warm creates", _same(customer_calls)))

        pro(old)()
        with _bound(legacy):  # as a tenant from before counters: no shards (nor a single counter)
            for shard in range(counters.SHARDS):
                counters.key(counters.PROFESSIONALS, shard).delete()
        rows.append(_row("first create of a tenant from before counters (once per tenant)",
                         _count(pro(old)), "one-off: failed create, shards read, COUNT, rebalance, read, create"))
        effective.invalidate()  # as when the 30 s cache has expired
        rows.append(_row("first create after the limits cache expired (once per 30 s per process)",
                         _count(pro(api)), "+ 1 plan read and 1 overrides read"))
    return rows


def _same(samples: list[Calls]) -> Calls:
    """The calls every create made (they must agree; a difference is reported as a crash)."""
    first = samples[0]
    for other in samples[1:]:
        if (other.reads, other.writes, other.registry, other.other) != (first.reads, first.writes, first.registry,
                                                                          first.other):
            raise RuntimeError(f"creates differed in their calls: {first.summary()} vs {other.summary()}")
    return first


@contextmanager
def _without_limits() -> Iterator[None]:
    """The create as it was before limits: no counter Update in its transaction, no lookup."""
    from chalicelib.limits import DEFAULT_PLANS, counters
    from chalicelib.network.professionals import service as professionals
    from chalicelib.store.unit_of_work import UnitOfWork

    original_update = UnitOfWork.update
    original_lookup = professionals.effective_limits
    fixed = DEFAULT_PLANS["enterprise"].model_copy()

    def update(self: Any, label: str, *args: Any, **kwargs: Any) -> None:
        if label != counters.limit_label(counters.PROFESSIONALS):
            original_update(self, label, *args, **kwargs)

    UnitOfWork.update = update  # type: ignore[method-assign]
    professionals.effective_limits = lambda tenant=None: fixed  # type: ignore[assignment]
    try:
        yield
    finally:
        UnitOfWork.update = original_update  # type: ignore[method-assign]
        professionals.effective_limits = original_lookup


class _ActionCounter:
    """The number of actions of each TransactWriteItems sent while ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.sizes: list[int] = []

    def on_call(self, model: Any = None, params: dict[str, Any] | None = None, **_: Any) -> None:
        if self.active and getattr(model, "name", "") == "TransactWriteItems":
            self.sizes.append(len((params or {}).get("TransactItems", ())))


def _answer_transactions(model: Any = None, **_: Any) -> Any:
    """Answer every TransactWriteItems as DynamoDB would on success, sending nothing."""
    if getattr(model, "name", "") == "TransactWriteItems":
        return type("Answered", (), {"status_code": 200, "headers": {}})(), {}
    return None


def _paired(create: Callable[[], None], without: Callable[[], None],
            iterations: int) -> tuple[list[float], list[float]]:
    """Both timed ``iterations`` times, alternating which goes first each round."""
    with_limits: list[float] = []
    baseline: list[float] = []
    pair = ((create, with_limits), (without, baseline))
    for round_ in range(iterations):
        for fn, out in pair if round_ % 2 == 0 else pair[::-1]:
            started = time.perf_counter()
            fn()
            out.append(time.perf_counter() - started)
    return with_limits, baseline


def _latency_rows(iterations: int, warmup: int) -> list[Row]:
    from chalicelib.limits import effective_limits
    from chalicelib.network.professionals.models import ProfessionalCreate
    from chalicelib.network.professionals.service import create_professional

    tenant = create_tenant("bench-latency", plan="enterprise")
    seq = iter(range(10**6))

    def create() -> None:
        n = next(seq)
        create_professional(ProfessionalCreate(business_name=f"Garage {n}", contact_name="Alex",
                                               email=f"alex-{n}@latency.example"))

    def without() -> None:
        with _without_limits():
            create()

    from chalicelib import aws

    actions = _ActionCounter()
    aws.install_session_hook("before-parameter-build.dynamodb", actions.on_call)
    with _bound(tenant):
        for _ in range(warmup):
            create()
            without()
        actions.active = True
        create()
        without()
        actions.active = False
        with_limits, baseline = _paired(create, without, iterations)
        aws.install_session_hook("before-call.dynamodb", _answer_transactions)
        try:
            code_with, code_without = _paired(create, without, iterations * 3)
        finally:
            aws.remove_session_hook("before-call.dynamodb", _answer_transactions)
        lookups = []
        for _ in range(2000):
            started = time.perf_counter()
            effective_limits()
            lookups.append(time.perf_counter() - started)
    aws.remove_session_hook("before-parameter-build.dynamodb", actions.on_call)

    def ms(seconds: float) -> float:
        return round(seconds * 1000, 2)

    added = median(with_limits) - median(baseline)
    return [
        Row(NAME, f"create_professional with limits, median of {iterations}", ms(median(with_limits)), "ms"),
        Row(NAME, f"create_professional without limits, median of {iterations}", ms(median(baseline)), "ms"),
        Row(NAME, "added by limits (median difference; in moto mostly one more table copy)", ms(added), "ms"),
        Row(NAME, "with / without limits, p95", round(ratio(percentile(with_limits, 95), percentile(baseline, 95)), 3),
            "x"),
        Row(NAME, f"our code only (transactions answered by a hook), with limits, median of {iterations * 3}",
            ms(median(code_with)), "ms"),
        Row(NAME, f"our code only, without limits, median of {iterations * 3}", ms(median(code_without)), "ms"),
        Row(NAME, "added by limits in our code (median difference)", ms(median(code_with) - median(code_without)),
            "ms", "< 1 ms"),
        Row(NAME, "actions in the create's transaction, with / without limits",
            f"{actions.sizes[0]} / {actions.sizes[1]}", "", "+1 (the counter's Update)"),
        Row(NAME, "warm effective_limits() lookup, median of 2000", round(median(lookups) * 1e6, 2), "us"),
    ]


def run(quick: bool = False) -> list[Row]:
    creates, iterations, warmup = (3, 15, 3) if quick else (10, 60, 5)
    with world({"TENANT_CACHE_TTL_SECONDS": CACHE_TTL}) as w, quiet_request_logs():
        install_call_recorder()
        rows = _call_rows(w, creates)
    with world({"TENANT_CACHE_TTL_SECONDS": CACHE_TTL}), quiet_request_logs():
        rows += _latency_rows(iterations, warmup)
    return rows
