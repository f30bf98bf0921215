"""The only place boto3/botocore sessions and clients are built: lazily, once, cached.

Every botocore session of the process comes from :func:`new_botocore_session`,
including the per-thread sessions pynamodb builds for itself (its module-level
``get_session`` is pointed here). Session-level hooks installed with
:func:`install_session_hook` (the tenant guard) are therefore inherited by every
DynamoDB client the process ever makes, whether built by boto3 or by pynamodb.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

# Timeouts well inside API Gateway's 29 s; "standard" retries back off on throttling.
_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=10,
    retries={"max_attempts": 3, "mode": "standard"},
)

_lock = threading.RLock()
_hooks: list[tuple[str, Callable[..., Any]]] = []
_sessions: "weakref.WeakSet[botocore.session.Session]" = weakref.WeakSet()
_boto3_session: boto3.session.Session | None = None
_clients: dict[tuple[str, str | None], Any] = {}


def new_botocore_session() -> botocore.session.Session:
    """A botocore session carrying every installed session hook."""
    session = botocore.session.get_session()
    with _lock:
        for event_name, handler in _hooks:
            session.register(event_name, handler, unique_id=f"platform:{event_name}:{id(handler)}")
        _sessions.add(session)
    return session


def install_session_hook(event_name: str, handler: Callable[..., Any]) -> None:
    """Register ``handler`` on every session, past and future. Idempotent."""
    with _lock:
        if (event_name, handler) in _hooks:
            return
        _hooks.append((event_name, handler))
        for session in list(_sessions):
            session.register(event_name, handler, unique_id=f"platform:{event_name}:{id(handler)}")


def boto3_session() -> boto3.session.Session:
    global _boto3_session
    with _lock:
        if _boto3_session is None:
            _boto3_session = boto3.session.Session(botocore_session=new_botocore_session())
        return _boto3_session


def client(service: str, region: str | None = None) -> Any:
    """A cached client for ``service``; endpoint and credentials come from the environment."""
    key = (service, region)
    with _lock:
        if key not in _clients:
            _clients[key] = boto3_session().client(service, region_name=region, config=_CLIENT_CONFIG)
        return _clients[key]


def reset_clients() -> None:
    """Forget sessions and clients (tests switch between moto's in-process mock and server)."""
    global _boto3_session
    with _lock:
        _boto3_session = None
        _clients.clear()


def _point_pynamodb_here() -> None:
    import pynamodb.connection.base as pynamodb_base

    pynamodb_base.get_session = new_botocore_session  # type: ignore[assignment]


_point_pynamodb_here()
