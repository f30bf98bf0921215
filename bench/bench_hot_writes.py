"""Hot partitions (issue 20): 50 concurrent creates in one tenant, and the caches' counters.

**Concurrent creates.** moto's server over HTTP (as ``make run`` uses it), one tenant, 50
threads released at once, each creating a customer through the service with its tenant
bound (each thread its own botocore session, as concurrent Lambdas would have).
DynamoDB cancels a transaction on an item another transaction holds; moto never does,
so ``chalicelib.local.conflicts`` emulates it (an item is held while its transaction is
in flight, 30 ms at most). Reported: created, 409s (conflicts that reached the client),
limit refusals, transactions sent (creates plus retries plus rebalances), transactions
cancelled by conflicts, wall time. Once with room for all 50 (goal: 50 created, no
409), once with 20 slots (goal: exactly 20 created, 30 ``limit_exceeded``). Wall time is
moto's, which applies transactions one at a time: read it as a cost of the retries, not
as DynamoDB's latency.

**Caches.** ``chalicelib.caches.stats()`` after the run: hits, misses, evictions and
bound of each cache's request partition that saw lookups.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from bench.harness import Row, SigningKey, bench_environment, create_tenant, reset_process_state, run_concurrently

NAME = "hot_writes"
WRITERS = 50


def _race(tenant: Any, limit: int) -> list[Row]:
    from chalicelib.errors import ConflictError
    from chalicelib.limits import LimitExceededError
    from chalicelib.limits.models import LimitOverrides
    from chalicelib.limits.service import set_overrides
    from chalicelib.local.conflicts import TransactionConflicts
    from chalicelib.network.customers import service as customers
    from chalicelib.network.customers.models import CustomerCreate
    from chalicelib.tenancy import context
    from chalicelib.tenancy.context import TenantContext

    set_overrides(tenant, LimitOverrides.model_validate({"max_customers": limit}), None)
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(WRITERS)

    def attempt(n: int) -> Callable[[], None]:
        def run() -> None:
            barrier.wait(timeout=60)
            try:
                with context.bound(TenantContext(tenant=tenant, request_id=f"bench-{n}")):
                    customers.create_customer(CustomerCreate(name=f"Customer {n}"))
                outcome = "created"
            except LimitExceededError:
                outcome = "limit"
            except ConflictError:
                outcome = "409"
            except Exception:  # noqa: BLE001 - a benchmark reports, never judges
                outcome = "error"
            with lock:
                outcomes.append(outcome)
        return run

    with TransactionConflicts() as conflicts:
        wall = run_concurrently([attempt(n) for n in range(WRITERS)], join_timeout=300)
    label = f"{WRITERS} concurrent creates, limit {limit}"
    goal = f"{min(limit, WRITERS)} created, 0 409s"
    return [
        Row(NAME, f"{label}: created / 409s / limit_exceeded / errors",
            f"{outcomes.count('created')} / {outcomes.count('409')} / {outcomes.count('limit')} / "
            f"{outcomes.count('error')}", "", goal),
        Row(NAME, f"{label}: transactions sent / cancelled by conflicts",
            f"{conflicts.transactions} / {conflicts.conflicts}", ""),
        Row(NAME, f"{label}: wall time (moto)", round(wall, 2), "s"),
    ]


def _cache_rows() -> list[Row]:
    from chalicelib import caches

    rows = []
    for name, partitions in caches.stats().items():
        seen = partitions[caches.REQUEST]
        if seen["hits"] + seen["misses"]:
            rows.append(Row(NAME, f"cache {name}: hits / misses / evictions / size of bound",
                            f"{seen['hits']} / {seen['misses']} / {seen['evictions']} / "
                            f"{seen['size']} of {seen['maxsize']}", ""))
    return rows


def run(quick: bool = False) -> list[Row]:
    from chalicelib.local.bootstrap import bootstrap
    from chalicelib.local.motoserver import IsolatingMotoServer
    from chalicelib.settings import get_settings

    saved = dict(os.environ)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the server's line per request
    server = IsolatingMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
            del os.environ[name]
        os.environ.update(bench_environment(SigningKey.generate()))
        os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
        reset_process_state()
        bootstrap(get_settings())
        rows = _race(create_tenant("bench-hot"), 1000)
        rows += _race(create_tenant("bench-hot-limited"), 20)
        return rows + _cache_rows()
    finally:
        reset_process_state()
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
