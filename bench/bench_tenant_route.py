"""GET /api/tenant through the whole tenancy stack, against a bare Chalice route.

Both go through ``chalice.test.Client`` (the local gateway, no sockets) against moto's
in-process DynamoDB. The bare route does what the tenant route does at its core, one
registry read of the tenant and a JSON reply, with no JWT, resolution, cache or
decorator. A warm tenant route reads nothing from the registry (the resolution cache
answers), so it should cost JWT verification plus decorator work, and not a read.

Registry reads are counted two ways while the tenant route serves: calls of the
``chalicelib.store.registry`` lookup functions, and DynamoDB API calls seen by a
``before-call.dynamodb`` hook installed on every botocore session of the process.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from bench.harness import Row, World, create_tenant, median, percentile, quiet_request_logs, ratio, set_env, world

NAME = "tenant_route"
PATH = "/api/tenant"
WARM_CACHE_TTL = "60"  # longer than any counted run, so a refresh cannot land inside it
_REGISTRY_LOOKUPS = ("get_tenant", "tenant_id_for_slug", "tenant_id_for_domain")


class _CallCounter:
    """DynamoDB operations by name, counted only while ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def on_call(self, model: Any = None, **_: Any) -> None:
        if self.active:
            with self._lock:
                self.calls[getattr(model, "name", "?")] += 1


_dynamodb_calls = _CallCounter()


@contextmanager
def counting_reads() -> Iterator[tuple[Counter[str], Counter[str]]]:
    """(registry lookup calls, DynamoDB API calls) made inside the block."""
    from chalicelib.store import registry

    lookups: Counter[str] = Counter()
    originals = {name: getattr(registry, name) for name in _REGISTRY_LOOKUPS}

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            lookups[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    for name, fn in originals.items():
        setattr(registry, name, counted(name, fn))
    _dynamodb_calls.calls = Counter()
    _dynamodb_calls.active = True
    try:
        yield lookups, _dynamodb_calls.calls
    finally:
        _dynamodb_calls.active = False
        for name, fn in originals.items():
            setattr(registry, name, fn)


def bare_app(tenant_id: UUID) -> Any:
    """A throwaway Chalice app: one registry read, a JSON reply, nothing else."""
    from chalice import Chalice

    from chalicelib.store import registry

    # Bound now, so the lookup counters (which patch the module) see only the tenant route.
    get_tenant = registry.get_tenant
    bare = Chalice(app_name="bench-bare")

    @bare.route(PATH, methods=["GET"])
    def tenant() -> dict[str, Any]:
        found = get_tenant(tenant_id)
        if found is None:
            return {"error": "not found"}
        return {
            "id": str(found.id), "slug": found.slug, "display_name": found.display_name,
            "logo_url": found.logo_url, "primary_color": found.primary_color, "status": found.status.value,
        }

    return bare


def _getter(http: Any, headers: dict[str, str]) -> Callable[[], None]:
    def get() -> None:
        response = http.get(PATH, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {PATH} answered {response.status_code}: {response.body[:300]!r}")

    return get


def _timed(get: Callable[[], None]) -> float:
    started = time.perf_counter()
    get()
    return time.perf_counter() - started


def _ms(seconds: float) -> float:
    return seconds * 1000


def _measure(w: World, requests: int, warmup: int, counted_requests: int) -> list[Row]:
    from chalice.test import Client

    from app import app

    tenant = create_tenant("bench-acme")
    headers = {"Authorization": f"Bearer {w.key.token(tenant_id=tenant.id)}"}
    rows: list[Row] = []
    with Client(app, project_dir=str(w.project_dir)) as app_client, \
            Client(bare_app(tenant.id), project_dir=str(w.project_dir)) as bare_client:
        tenant_get = _getter(app_client.http, headers)
        bare_get = _getter(bare_client.http, {})
        for _ in range(warmup):
            tenant_get()
            bare_get()

        # Interleaved, so drift (GC, CPU frequency) falls on both alike.
        tenant_s: list[float] = []
        bare_s: list[float] = []
        run_started = time.perf_counter()
        with counting_reads() as (lookups, calls):
            for _ in range(requests):
                tenant_s.append(_timed(tenant_get))
                bare_s.append(_timed(bare_get))
        run_seconds = time.perf_counter() - run_started
        ttl = w.env.get("TENANT_CACHE_TTL_SECONDS", "?")

        rows += [
            Row(NAME, "GET /api/tenant (tenancy stack) median", _ms(median(tenant_s)), "ms"),
            Row(NAME, "GET /api/tenant (tenancy stack) p95", _ms(percentile(tenant_s, 95)), "ms"),
            Row(NAME, "bare Chalice route (1 registry read) median", _ms(median(bare_s)), "ms"),
            Row(NAME, "bare Chalice route (1 registry read) p95", _ms(percentile(bare_s, 95)), "ms"),
            Row(NAME, "median ratio tenant route / bare route", ratio(median(tenant_s), median(bare_s)), "x"),
            Row(NAME, f"timed run: {requests}+{requests} requests (stage TTL {ttl} s)", run_seconds, "s"),
            Row(NAME, "timed run: tenant route registry reads (cache refreshes)", sum(lookups.values()),
                "reads", f"<= 1 per {ttl} s"),
            Row(NAME, "timed run: DynamoDB GetItem calls, both routes", calls["GetItem"], "calls",
                f"{requests} (bare route) + refreshes"),
        ]

        # Reads per request with a warm cache. The stage TTL is 5 s; to be sure no expiry
        # lands inside the counted run, the TTL is raised to 60 s for this measurement.
        set_env(TENANT_CACHE_TTL_SECONDS=WARM_CACHE_TTL)
        with counting_reads() as (lookups, calls):
            tenant_get()
        rows.append(Row(NAME, "registry reads, first request after cache clear", sum(lookups.values()),
                        "reads", "1 (get_tenant by token id)"))
        with counting_reads() as (lookups, calls):
            for _ in range(counted_requests):
                tenant_get()
        rows += [
            Row(NAME, f"registry reads/request, warm cache (TTL set to {WARM_CACHE_TTL} s)",
                sum(lookups.values()) / counted_requests, "reads", "0"),
            Row(NAME, f"DynamoDB calls/request, warm cache (TTL set to {WARM_CACHE_TTL} s)",
                sum(calls.values()) / counted_requests, "calls", "0"),
        ]

        # The same route with the cache off: one read per request, like the bare route, so
        # the difference is the tenancy stack itself (JWT, resolution, decorator, logging).
        set_env(TENANT_CACHE_TTL_SECONDS="0")
        off_s: list[float] = []
        bare_off_s: list[float] = []
        with counting_reads() as (lookups, calls):
            for _ in range(counted_requests):
                off_s.append(_timed(tenant_get))
                bare_off_s.append(_timed(bare_get))
        rows += [
            Row(NAME, "GET /api/tenant, cache off (TTL 0) median", _ms(median(off_s)), "ms"),
            Row(NAME, "registry reads/request, cache off (TTL 0)", sum(lookups.values()) / counted_requests,
                "reads", "1 (counter sanity check)"),
            Row(NAME, "DynamoDB GetItem/request, cache off, both routes", calls["GetItem"] / (2 * counted_requests),
                "calls", "1 (counter sanity check)"),
            Row(NAME, "stack cost: cache-off median - bare median", _ms(median(off_s) - median(bare_off_s)), "ms"),
        ]
    return rows


def install_call_counter() -> None:
    """Hook every botocore session before any client exists.

    botocore copies a session's event handlers into each client when the client is built,
    so a hook added to a session later never reaches clients already made from it.
    """
    from chalicelib import aws

    aws.install_session_hook("before-call.dynamodb", _dynamodb_calls.on_call)  # idempotent


def run(quick: bool = False) -> list[Row]:
    requests, warmup, counted = (60, 5, 30) if quick else (300, 20, 100)
    install_call_counter()
    with world() as w, quiet_request_logs():
        return _measure(w, requests, warmup, counted)
