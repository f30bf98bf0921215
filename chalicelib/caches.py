"""The one in-process cache: bounded (least recently used goes first), entries expire.

Every per-process cache (tenant resolutions, stored roles, effective limits, blind-index
secrets) is a :class:`TtlCache`: a warm Lambda serves tenant after tenant, so a cache
without a bound grows with the tenants it has seen, and one without expiry never sees
another process's edit. Built on ``cachetools.TLRUCache`` (per-entry time to live) with
the process clock (``chalicelib.clock.monotonic``), so tests move time with
``clock.use`` instead of patching a module. ``None`` is a value like any other: a
negative result can be cached.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, NamedTuple, TypeVar

from cachetools import TLRUCache

from chalicelib import clock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Entry(NamedTuple, Generic[V]):
    value: V
    ttl: float


def _expires(_key: Any, entry: _Entry[Any], now: float) -> float:
    return now + entry.ttl


class TtlCache(Generic[K, V]):
    """Thread-safe; ``ttl`` is the default time to live in seconds (``math.inf``: until evicted)."""

    def __init__(self, maxsize: int, ttl: float | Callable[[], float] = math.inf) -> None:
        self._ttl = ttl
        self._entries: TLRUCache[K, _Entry[V]] = TLRUCache(maxsize=maxsize, ttu=_expires, timer=clock.monotonic)
        self._lock = threading.Lock()

    def _default_ttl(self) -> float:
        return self._ttl() if callable(self._ttl) else self._ttl

    def get(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` for a live entry, else ``(False, None)``."""
        with self._lock:
            entry = self._entries.get(key)
        return (True, entry.value) if entry is not None else (False, None)

    def put(self, key: K, value: V, ttl: float | None = None) -> None:
        """Keep ``value`` for ``ttl`` seconds (the cache's default if None); 0 or less keeps nothing."""
        ttl = self._default_ttl() if ttl is None else ttl
        with self._lock:
            if ttl <= 0:
                self._entries.pop(key, None)
                return
            self._entries[key] = _Entry(value, ttl)

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        """The live value of ``key``, else ``load()`` kept (two racing loads may both run)."""
        hit, value = self.get(key)
        if hit:
            return value  # type: ignore[return-value]
        loaded = load()
        self.put(key, loaded)
        return loaded

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
