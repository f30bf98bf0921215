"""One process reset: what a fresh Lambda container would have.

No settings, AWS clients, data connections, caches (tenants, roles, memberships, effective limits,
blind-index secrets, PII keys and codec) or bound context. Tests and benchmarks call :func:`reset` between
worlds, so the list of process state lives here once and cannot drift between them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import aws, caches, lazy
from chalicelib.logs import reset_log_keys
from chalicelib.settings import reset_settings
from chalicelib.tenancy import context

if TYPE_CHECKING:
    from chalicelib.crypto import blind_index, pii
    from chalicelib.limits import effective as limits
    from chalicelib.members import authority, roles
    from chalicelib.ratelimit import service as rate_limit
    from chalicelib.store import data, registry
    from chalicelib.tenancy import resolution
else:
    # Deferred (cold start, docs/cold-start.md): every entry point imports this module for
    # reset_request_state; only reset() (tests, benchmarks) needs these.
    blind_index, pii = lazy.module("chalicelib.crypto.blind_index"), lazy.module("chalicelib.crypto.pii")
    limits = lazy.module("chalicelib.limits.effective")
    authority, roles = lazy.module("chalicelib.members.authority"), lazy.module("chalicelib.members.roles")
    rate_limit = lazy.module("chalicelib.ratelimit.service")
    data, registry = lazy.module("chalicelib.store.data"), lazy.module("chalicelib.store.registry")
    resolution = lazy.module("chalicelib.tenancy.resolution")


def reset() -> None:
    """Forget every piece of per-process state (the limiter's source is the caller's to set)."""
    reset_settings()
    aws.reset_clients()
    registry.reset_connections()
    data.reset_connections()
    resolution.clear_cache()
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
