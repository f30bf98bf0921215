"""What every benchmark shares: the result row, timing statistics, a world to run in.

A benchmark module is ``bench/bench_<name>.py`` exposing ``run(quick: bool = False)``
that returns a list of :class:`Row`. Benchmarks report figures against a goal; they
never fail on time. ``world()`` builds everything a request needs in-process (stage
environment with an inline ES256 JWKS, moto's ``mock_aws``, bootstrapped tables) and
puts the process back as it found it afterwards, without importing anything from
``tests/``.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import logging
import os
import pkgutil
import statistics
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
KEY_ID = "bench-ec"

# moto's mock must never be bypassed by an endpoint exported for the local runner.
_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Row:
    benchmark: str
    metric: str
    value: float | int | str
    unit: str = ""
    goal: str = ""


# ---- statistics -------------------------------------------------------------------------


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def time_calls(fn: Callable[[], Any], iterations: int, warmup: int = 0) -> list[float]:
    """Wall time of each of ``iterations`` calls of ``fn``, in seconds, after ``warmup``."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def run_concurrently(targets: Sequence[Callable[[], Any]], join_timeout: float) -> float:
    """Start one thread per target at once, wait for them all (each up to ``join_timeout``),
    and return the wall time in seconds."""
    threads = [threading.Thread(target=target) for target in targets]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=join_timeout)
    return time.perf_counter() - started


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


# ---- the world a benchmark runs in -------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """An ES256 key pair and the inline JWKS that publishes its public half."""

    private_key: Any
    kid: str
    jwks: str

    @classmethod
    def generate(cls, kid: str = KEY_ID) -> SigningKey:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec

        private_key = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
        jwk.update({"kid": kid, "alg": "ES256", "use": "sig"})
        return cls(private_key, kid, json.dumps({"keys": [jwk]}))

    def token(self, *, tenant_id: Any = None, role: str = "tenant_admin", ttl: int = 3600) -> str:
        import jwt

        from chalicelib.settings import get_settings

        settings = get_settings()
        now = int(time.time())
        sub = f"bench-{role}" if tenant_id is not None else f"bench-{uuid.uuid4().hex[:8]}"
        if tenant_id is not None and role != "platform_admin":
            _enroll(tenant_id, settings.jwt_issuer, sub, role)
        claims: dict[str, Any] = {
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "sub": sub,
            "roles": [role],
            "iat": now,
            "exp": now + ttl,
        }
        if tenant_id is not None:
            claims["tenant_id"] = str(tenant_id)
        return jwt.encode(claims, self.private_key, algorithm="ES256", headers={"kid": self.kid})


_enrolled: set[tuple[str, str, str]] = set()


def _enroll(tenant_id: Any, issuer: str, sub: str, role: str) -> None:
    """Inside a tenant the member record is the authority: a bench token's identity is an
    active member with its role (enrolled once per tenant, before anything is timed)."""
    from uuid import UUID

    from chalicelib.members import service as members
    from chalicelib.store import registry
    from chalicelib.tenancy.context import TenantContext, bound

    key = (str(tenant_id), issuer, sub)
    if key in _enrolled:
        return
    tenant = registry.get_tenant(UUID(str(tenant_id)))
    if tenant is None:
        return
    with bound(TenantContext(tenant=tenant, request_id="bench-enroll")):
        members.enroll_member(f"{sub}@bench.example", role, issuer, sub)
    _enrolled.add(key)


@dataclass(frozen=True)
class World:
    key: SigningKey
    env: dict[str, str]
    project_dir: Path  # a directory with no .chalice config: chalice.test uses os.environ


def reset_process_state() -> None:
    """What a fresh Lambda container would have (``chalicelib.entry.process.reset``, the
    same reset the tests use), with limits no benchmark reaches."""
    from chalicelib.entry.process import reset
    from chalicelib.ratelimit import service as rate_limit

    reset()
    rate_limit.use_limits_source(unlimited_rate)


def unlimited_rate(_tenant: Any) -> Any:
    """Limits no benchmark reaches: each sends thousands of requests a second as one tenant,
    measuring something else (bench_rate_limit.py puts the real limits back)."""
    from chalicelib.ratelimit import RateLimits

    return RateLimits(rate_per_second=1e9, burst=10**9, requests_per_day=10**12)


def set_env(**values: str) -> None:
    """Change environment variables mid-world; settings and tenant cache are rebuilt."""
    from chalicelib.settings import reset_settings
    from chalicelib.tenancy.resolution import clear_cache

    os.environ.update(values)
    reset_settings()
    clear_cache()


def bench_environment(key: SigningKey, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The local stage's environment from .chalice/config.json, with the JWKS inline."""
    from chalicelib.local.environment import stage_environment

    env = stage_environment("local", PROJECT_DIR)
    env.pop("JWT_JWKS_FILE", None)
    env.update({"JWT_JWKS": key.jwks, "JWT_ALGORITHMS": "ES256", **_AWS_ENV, **(overrides or {})})
    return env


@contextlib.contextmanager
def quiet_metrics() -> Iterator[None]:
    """Keep the app's EMF documents (several per request or job) out of the table."""
    from chalicelib import metrics

    with open(os.devnull, "w") as sink:
        previous = metrics.use_stream(sink)
        try:
            yield
        finally:
            metrics.use_stream(previous)


@contextlib.contextmanager
def quiet_request_logs() -> Iterator[None]:
    """Keep the app's per-request JSON log lines (formatted as usual) out of the table.

    The app installs its stdout handler once per process; for the benchmark's duration
    its stream is pointed at /dev/null, and put back afterwards.
    """
    from chalicelib.logs import JsonFormatter, configure_logging
    from chalicelib.settings import get_settings

    configure_logging(get_settings().log_level)
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and isinstance(h.formatter, JsonFormatter)]
    with open(os.devnull, "w") as sink:
        previous = [h.setStream(sink) for h in handlers]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, previous, strict=True):
                if stream is not None:
                    handler.setStream(stream)


@contextlib.contextmanager
def world(env_overrides: dict[str, str] | None = None) -> Iterator[World]:
    """A fresh ES256 key, the stage environment, moto in-process and bootstrapped resources."""
    import tempfile

    from moto import mock_aws

    from chalicelib.local.bootstrap import bootstrap

    saved = dict(os.environ)
    key = SigningKey.generate()
    try:
        for name in list(os.environ):
            if name.startswith("AWS_ENDPOINT_URL") or name == "JWT_JWKS_FILE":
                del os.environ[name]
        env = bench_environment(key, env_overrides)
        os.environ.update(env)
        with tempfile.TemporaryDirectory(prefix="bench-") as project_dir, mock_aws():
            reset_process_state()
            from chalicelib.settings import get_settings

            bootstrap(get_settings())
            yield World(key=key, env=env, project_dir=Path(project_dir))
    finally:
        reset_process_state()
        os.environ.clear()
        os.environ.update(saved)


def create_tenant(slug: str, **fields: Any) -> Any:
    from chalicelib.tenants.models import TenantCreate
    from chalicelib.tenants.service import create_tenant as create

    data = {"name": slug.title(), "display_name": slug.title(), **fields}
    return create(TenantCreate(slug=slug, **data))


# ---- discovery, running and the table ----------------------------------------------------


def discover(only: Sequence[str] = ()) -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules([str(BENCH_DIR)]) if m.name.startswith("bench_"))
    if only:
        names = [n for n in names if any(o in n for o in only)]
    return [f"bench.{n}" for n in names]


def _call_run(module: ModuleType, quick: bool) -> list[Row]:
    run = module.run
    if "quick" in inspect.signature(run).parameters:
        return list(run(quick=quick))
    return list(run())


def run_all(module_names: Sequence[str], quick: bool) -> tuple[list[Row], list[str]]:
    """Run each benchmark module; a crash becomes a row and a failure, not an abort."""
    rows: list[Row] = []
    failed: list[str] = []
    for name in module_names:
        short = name.rsplit(".", 1)[-1].removeprefix("bench_")
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(_call_run(importlib.import_module(name), quick))
        except Exception:
            traceback.print_exc()
            failed.append(name)
            rows.append(Row(short, "CRASHED (see traceback above)", "-", "", ""))
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return rows, failed


def _format_value(value: float | int | str) -> str:
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_table(rows: Sequence[Row]) -> str:
    header = ("benchmark", "metric", "value", "unit", "goal")
    cells = [header] + [(r.benchmark, r.metric, _format_value(r.value), r.unit, r.goal) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    right = {2}  # numbers line up on the right

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                               strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(c) for c in cells[1:])])
