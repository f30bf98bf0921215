"""The only place botocore sessions and clients are built: lazily, once, cached.

Every botocore session of the process comes from :func:`new_botocore_session`,
including the per-thread sessions pynamodb builds for itself (its module-level
``get_session`` is pointed here). Each session gets one dispatcher per hooked event
the moment it is made; botocore copies a session's handlers into a client when the
client is built, so hooks are not registered on sessions directly (a hook added after
a client exists would never reach it) but appended to the dispatcher's list. A hook
installed with :func:`install_session_hook` (the tenant guard) therefore reaches every
DynamoDB client the process ever makes, built before or after, by this module or pynamodb.

Clients here sign with the process's own credentials (the Lambda role): platform access.
Tenant-bound data access uses the per-tenant clients of ``tenancy/clients.py``, built on
sessions from :func:`new_botocore_session` with the tenant's role credentials.

Clients are botocore's, not boto3's: ``import boto3`` loads s3transfer and, through it,
``multiprocessing`` and ``concurrent.futures`` (~70 ms of every cold start), for S3
transfer methods (``upload_fileobj``...) nothing here calls. A boto3 client is a botocore
client plus those methods, so the calls made are the same (docs/cold-start.md).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.config import Config

from chalicelib import metrics

# Timeouts well inside API Gateway's 29 s; "standard" retries back off on throttling.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=10,
    retries={"max_attempts": 3, "mode": "standard"},
)

_lock = threading.RLock()
# Events the dispatcher listens to; a hook for any other event is refused loudly.
HOOKABLE_EVENTS = ("before-parameter-build.dynamodb", "before-call.dynamodb", "after-call.dynamodb", "before-call.kms",
                   "after-call.kms", "after-call.sts", "before-call")
_hooks: dict[str, list[Callable[..., Any]]] = {event: [] for event in HOOKABLE_EVENTS}
_session: botocore.session.Session | None = None
_clients: dict[tuple[str, str | None], Any] = {}
# Called by reset_clients: holders of clients built elsewhere (the tenant pools) forget them too.
_reset_callbacks: list[Callable[[], None]] = []


def _dispatcher(event_name: str) -> Callable[..., Any]:
    def dispatch(**kwargs: Any) -> Any:
        # A before-call handler may answer for the service (as botocore's Stubber does):
        # the first non-None answer is returned to botocore, which then sends nothing.
        for handler in tuple(_hooks[event_name]):
            answer = handler(**kwargs)
            if answer is not None:
                return answer
        return None

    return dispatch


_DISPATCHERS = {event: _dispatcher(event) for event in HOOKABLE_EVENTS}


_loader: Any = None


def _shared_loader(session: botocore.session.Session) -> Any:
    # pynamodb makes a session per thread (and tests make many): sharing one loader
    # parses each service model once per process instead of once per session.
    global _loader
    with _lock:
        if _loader is None:
            _loader = session.get_component("data_loader")
        return _loader


def new_botocore_session() -> botocore.session.Session:
    """A botocore session whose clients all run the installed hooks."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _shared_loader(session))
    for event_name, dispatch in _DISPATCHERS.items():
        session.register(event_name, dispatch, unique_id=f"platform-dispatch:{event_name}")
    return session


def install_session_hook(event_name: str, handler: Callable[..., Any]) -> None:
    """Run ``handler`` for ``event_name`` in every client, existing or future. Idempotent."""
    if event_name not in _hooks:
        raise ValueError(f"{event_name} is not hookable; add it to HOOKABLE_EVENTS")
    with _lock:
        if handler not in _hooks[event_name]:
            _hooks[event_name].append(handler)


def remove_session_hook(event_name: str, handler: Callable[..., Any]) -> None:
    """Undo :func:`install_session_hook` (fault-injection tests and benchmarks remove theirs)."""
    with _lock:
        if handler in _hooks.get(event_name, []):
            _hooks[event_name].remove(handler)


def session() -> botocore.session.Session:
    """The process's own session (the Lambda role's credentials), made on first use."""
    global _session
    with _lock:
        if _session is None:
            _session = new_botocore_session()
        return _session


def client(service: str, region: str | None = None) -> Any:
    """A cached client for ``service``; endpoint and credentials come from the environment."""
    key = (service, region)
    with _lock:
        if key not in _clients:
            _clients[key] = session().create_client(service, region_name=region, config=CLIENT_CONFIG)
        return _clients[key]


def reset_clients() -> None:
    """Forget sessions and clients (tests switch between moto's in-process mock and server)."""
    global _session
    with _lock:
        _session = None
        _clients.clear()
        callbacks = tuple(_reset_callbacks)
    for callback in callbacks:
        callback()


def on_reset(callback: Callable[[], None]) -> None:
    """Run ``callback`` on every :func:`reset_clients` (idempotent)."""
    with _lock:
        if callback not in _reset_callbacks:
            _reset_callbacks.append(callback)


# Error codes AWS answers a throttled call with (KMS: ThrottlingException; STS: Throttling).
THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                            "RequestLimitExceeded", "LimitExceededException"})


def _count_call(model: Any = None, parsed: Any = None, **_: Any) -> None:
    """KMS and STS calls by operation, and their throttles (after botocore's own retries)."""
    if model is None:
        return
    service = model.service_model.endpoint_prefix
    metrics.record("AwsCalls", Service=service, Operation=model.name)
    code = ((parsed or {}).get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
    if code in THROTTLE_CODES:
        metrics.record("AwsThrottles", Service=service)


for _event in ("after-call.kms", "after-call.sts"):
    _hooks[_event].append(_count_call)


def _point_pynamodb_here() -> None:
    import pynamodb.connection.base as pynamodb_base

    pynamodb_base.get_session = new_botocore_session  # type: ignore[assignment]


_point_pynamodb_here()
