"""Tenant-scoped credentials: what a tenant's first request costs, and what a warm one does.

A tenant's first data access in a container makes one ``sts:AssumeRole`` (session tag
``tenant_id``) and builds the tenant's pooled client set; every later access reuses both,
and pays only a cached-credential lookup per signature. Measured against moto's
in-process STS and DynamoDB, so AssumeRole here is a local call (in AWS it is a network
round trip to STS, typically tens of milliseconds): the figures show the client-side
work and the count of calls; add the real STS latency to the first request.

Rows: the parts (AssumeRole, client set build, cached lookup, per-signature cost), a
data read of a tenant new to a warm container vs warm reads, and
``GET /api/service-categories`` in a new container (fresh pool) vs warm.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

from bench.harness import Row, World, create_tenant, median, percentile, quiet_request_logs, time_calls, world

NAME = "tenant_credentials"
PATH = "/api/service-categories"


class _CountingSts:
    def __init__(self, sts: Callable[[], Any]) -> None:
        self._sts = sts
        self.calls = 0
        self._lock = threading.Lock()

    def assume_role(self, **params: Any) -> Any:
        with self._lock:
            self.calls += 1
        return self._sts().assume_role(**params)


def _fresh_pool(sts: _CountingSts) -> Any:
    """What a new container has: no cached credentials, no tenant clients."""
    from chalicelib.settings import get_settings
    from chalicelib.tenancy import clients
    from chalicelib.tenancy.credentials import TenantCredentialCache

    settings = get_settings()
    assert settings.tenant_data_role_arn is not None
    pool = clients.TenantClientPool(settings.region, TenantCredentialCache(lambda: sts, settings.tenant_data_role_arn))
    clients.use_pool(pool)
    return pool


def _ms(seconds: float) -> float:
    return seconds * 1000


def _us(seconds: float) -> float:
    return seconds * 1_000_000


def _parts(sts: _CountingSts, rounds: int, lookups: int) -> list[Row]:
    from chalicelib import aws
    from chalicelib.settings import get_settings
    from chalicelib.tenancy.clients import TenantClients

    pool = _fresh_pool(sts)
    cache = pool.credentials
    tenants = [uuid4() for _ in range(rounds)]
    assume_s = [_timed(lambda t=t: cache.get(t)) for t in tenants]  # every one a miss
    region = get_settings().region
    # Credentials are cached now: this is the client build alone, on the pool's shared session.
    build_s = [_timed(lambda t=t: TenantClients(t, region, cache, pool.session)) for t in tenants]
    session_s = [_timed(aws.new_botocore_session) for _ in tenants]
    hit_s = time_calls(lambda: cache.get(tenants[0]), lookups, warmup=10)
    signer = TenantClients(tenants[0], region, cache, pool.session).credentials
    assert signer is not None
    sign_s = time_calls(signer.get_frozen_credentials, lookups, warmup=10)
    return [
        Row(NAME, "AssumeRole with tenant tag (moto in-process) median", _ms(median(assume_s)), "ms",
            "+ STS round trip in AWS"),
        Row(NAME, "tenant client set build (DynamoDB client, shared session) median", _ms(median(build_s)), "ms",
            "once per tenant per container"),
        Row(NAME, "a botocore session (what a session per tenant would add) median", _ms(median(session_s)), "ms",
            "avoided: one session for all"),
        Row(NAME, "cached credential lookup (hit) median", _us(median(hit_s)), "us", "per signed request"),
        Row(NAME, "RoleCredentials.get_frozen_credentials median", _us(median(sign_s)), "us", "per signed request"),
    ]


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _data_reads(sts: _CountingSts, tenant: Any, rounds: int, warm: int) -> list[Row]:
    """A warm container (pool and its session built) meets ``rounds`` tenants it has not seen."""
    from chalicelib.store import data, keys
    from chalicelib.tenancy.context import TenantContext, bound

    data.bind()
    _fresh_pool(sts)
    with bound(TenantContext(tenant=tenant, request_id="bench")):
        data.get(keys.data_partition(tenant.id, keys.CATEGORY), "none")
    cold_s: list[float] = []
    warm_s: list[float] = []
    before = sts.calls
    for _ in range(rounds):
        # Another tenant id: its own prefix, credentials and clients (a missing item is a cheap read).
        newcomer = tenant.model_copy(update={"id": uuid4()})
        pk = keys.data_partition(newcomer.id, keys.CATEGORY)
        with bound(TenantContext(tenant=newcomer, request_id="bench")):
            cold_s.append(_timed(lambda pk=pk: data.get(pk, "none")))
            warm_s += time_calls(lambda pk=pk: data.get(pk, "none"), warm // rounds)
    return [
        Row(NAME, "GetItem, a tenant's first in a warm container median", _ms(median(cold_s)), "ms",
            "AssumeRole + client build + read"),
        Row(NAME, "GetItem, warm (pooled client, cached credentials) median", _ms(median(warm_s)), "ms"),
        Row(NAME, "GetItem, warm p95", _ms(percentile(warm_s, 95)), "ms"),
        Row(NAME, "first-use overhead: cold median - warm median", _ms(median(cold_s) - median(warm_s)), "ms"),
        Row(NAME, f"AssumeRole calls: {rounds} tenants x {1 + warm // rounds} reads", sts.calls - before,
            "calls", f"{rounds} (one per tenant)"),
    ]


def _route(w: World, sts: _CountingSts, tenant: Any, rounds: int, warm: int) -> list[Row]:
    from chalice.test import Client

    from app import app

    headers = {"Authorization": f"Bearer {w.key.token(tenant_id=tenant.id)}"}
    cold_s: list[float] = []
    warm_s: list[float] = []
    with Client(app, project_dir=str(w.project_dir)) as client:
        def get() -> None:
            response = client.http.get(PATH, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"GET {PATH} answered {response.status_code}")

        get()  # JWKS, resolution cache, pynamodb connection: warm everything but the pool
        before = sts.calls
        for _ in range(rounds):
            _fresh_pool(sts)
            cold_s.append(_timed(get))
            warm_s += time_calls(get, warm // rounds)
        calls = sts.calls - before
    return [
        Row(NAME, f"GET {PATH}, first in a new container median", _ms(median(cold_s)), "ms",
            "incl. the pool's session build"),
        Row(NAME, f"GET {PATH}, warm median", _ms(median(warm_s)), "ms"),
        Row(NAME, f"GET {PATH}: AssumeRole calls over {rounds + len(warm_s)} requests", calls, "calls",
            f"{rounds} (one per fresh pool)"),
    ]


def run(quick: bool = False) -> list[Row]:
    rounds, warm, lookups = (8, 80, 2000) if quick else (30, 600, 20000)
    with world() as w, quiet_request_logs():
        from chalicelib import aws

        sts = _CountingSts(lambda: aws.client("sts"))
        tenant = create_tenant("bench-creds")
        rows = _parts(sts, rounds, lookups)
        rows += _data_reads(sts, tenant, rounds, warm)
        rows += _route(w, sts, tenant, rounds, warm)
        return rows
