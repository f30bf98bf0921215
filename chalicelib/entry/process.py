"""One process reset: what a fresh Lambda container would have.

No settings, AWS clients, data connections, caches (tenants, roles, memberships, effective limits,
blind-index secrets, PII keys and codec) or bound context. Tests and benchmarks call :func:`reset` between
worlds, so the list of process state lives here once and cannot drift between them.
"""
from __future__ import annotations

from chalicelib import aws, caches
from chalicelib.crypto import blind_index, pii
from chalicelib.limits import effective as limits
from chalicelib.logs import reset_log_keys
from chalicelib.members import authority, roles
from chalicelib.ratelimit import service as rate_limit
from chalicelib.settings import reset_settings
from chalicelib.store import data, registry
from chalicelib.tenancy import context
from chalicelib.tenancy.resolution import clear_cache


def reset() -> None:
    """Forget every piece of per-process state (the limiter's source is the caller's to set)."""
    reset_settings()
    aws.reset_clients()
    registry.reset_connections()
    data.reset_connections()
    clear_cache()
    roles.clear_cache()
    authority.clear_cache()
    context.clear()
    pii.reset_state()
    blind_index.clear_cache()
    limits.invalidate()
    caches.reset_stats()
    rate_limit.reset_state()


def reset_request_state() -> None:
    """Forget the previous request's or message's context and log keys (a warm Lambda
    serves tenant after tenant): done before and after every one."""
    context.clear()
    reset_log_keys()
