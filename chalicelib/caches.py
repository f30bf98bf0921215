"""The one in-process cache: named, bounded by configuration, counted, partitioned by path.

Every per-process cache (tenant resolutions, stored roles, memberships, effective limits,
blind-index secrets, tenant credentials and client sets, keyrings) is named and
registered here:

* **Bounded by configuration.** A warm Lambda serves tenant after tenant, so a cache
  without a bound grows with the tenants it has seen. Each cache's size is
  ``CACHE_SIZE_<NAME>`` from the environment (e.g. ``CACHE_SIZE_TENANT_RECORDS``), else
  the default its module passes (the README's "Caches" table lists them); a value that
  is not a positive integer fails at first use. The size is read when the cache is first
  used after it was cleared (``entry.process.reset``): a new container reads it once.
* **Counted.** :func:`stats` answers hits, misses, evictions (entries pushed out by the
  bound, not expired ones), size and bound per cache and partition, for benchmarks; each
  lookup is also an EMF ``CacheLookups`` metric by ``Cache``.
* **Partitioned by path.** Scheduled jobs and queue workers walk every tenant once; in a
  process that also serves requests they would push the request path's working set out.
  So each cache holds two partitions, ``request`` and ``job``: the entry pipeline runs
  handlers inside :func:`job_path` (``entry/handlers.py``), and a lookup there reads and
  fills only the ``job`` partition, sized ``CACHE_SIZE_<NAME>_JOB`` (default a quarter of
  the request size, at least 16). A job may miss what a request cached (one more load);
  it never evicts it.

:class:`TtlCache` is built on ``cachetools.TLRUCache`` (per-entry time to live) with the
process clock (``chalicelib.clock.monotonic``), so tests move time with ``clock.use``
instead of patching a module. ``None`` is a value like any other: a negative result can
be cached. Caches that need more (single-flight loads) keep their own structure and
register a :class:`Partitions` for their bound and counters.
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, ParamSpec, TypeVar

from cachetools import TLRUCache

from chalicelib import clock, metrics

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
P = ParamSpec("P")
R = TypeVar("R")

REQUEST, JOB = "request", "job"
PATHS = (REQUEST, JOB)
MIN_JOB_SIZE = 16
_path: ContextVar[str] = ContextVar("cache_path", default=REQUEST)


def current_path() -> str:
    return _path.get()


@contextlib.contextmanager
def using_job_path() -> Iterator[None]:
    """Lookups inside use the ``job`` partition of every cache."""
    token = _path.set(JOB)
    try:
        yield
    finally:
        _path.reset(token)


def job_path(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` (a queue or schedule handler) runs on the ``job`` partitions."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with using_job_path():
            return fn(*args, **kwargs)

    return wrapper


def configured_size(name: str, default: int, path: str = REQUEST) -> int:
    """``CACHE_SIZE_<NAME>`` (``..._JOB`` for the job partition), else the default."""
    variable = f"CACHE_SIZE_{name.upper()}" + ("_JOB" if path == JOB else "")
    fallback = default if path == REQUEST else max(MIN_JOB_SIZE, default // 4)
    raw = os.environ.get(variable)
    if raw is None or raw == "":
        return fallback
    try:
        size = int(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a positive integer") from None
    if size < 1:
        raise ValueError(f"{variable} must be a positive integer")
    return size


@dataclass
class Counters:
    """What one partition of one cache has seen since the process (or its reset) began."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0

    def lookup(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1


class Partitions:
    """The bound and the counters of each partition of one named cache (registered)."""

    def __init__(self, name: str, default_size: int, size_of: Callable[[str], int] | None = None) -> None:
        self.name = name
        self.default_size = default_size
        self._size_of = size_of
        self.counters = {path: Counters() for path in PATHS}
        _registry[name] = self

    def maxsize(self, path: str) -> int:
        return configured_size(self.name, self.default_size, path)

    def size(self, path: str) -> int:
        return self._size_of(path) if self._size_of is not None else 0

    def reset_counters(self) -> None:
        self.counters = {path: Counters() for path in PATHS}


_registry: dict[str, Partitions] = {}


def stats() -> dict[str, dict[str, dict[str, int]]]:
    """Per cache, per partition: ``hits``, ``misses``, ``evictions``, ``size``, ``maxsize``."""
    return {name: {path: {"hits": p.counters[path].hits, "misses": p.counters[path].misses,
                          "evictions": p.counters[path].evictions, "size": p.size(path),
                          "maxsize": p.maxsize(path)} for path in PATHS}
            for name, p in sorted(_registry.items())}


def reset_stats() -> None:
    for partitions in _registry.values():
        partitions.reset_counters()


class _Entry(NamedTuple, Generic[V]):
    value: V
    ttl: float


def _expires(_key: Any, entry: _Entry[Any], now: float) -> float:
    return now + entry.ttl


class _Bounded(TLRUCache):  # type: ignore[type-arg]
    """A TLRUCache that counts what its bound pushed out (``popitem``; expiry does not call it)."""

    def __init__(self, maxsize: int, counters: Counters) -> None:
        super().__init__(maxsize=maxsize, ttu=_expires, timer=clock.monotonic)
        self._counters = counters

    def popitem(self) -> Any:
        item = super().popitem()
        self._counters.evictions += 1
        return item


class TtlCache(Generic[K, V]):
    """Thread-safe; ``ttl`` is the default time to live in seconds (``math.inf``: until evicted).

    ``maxsize`` is the default bound of the ``request`` partition (see the module doc for
    the environment variable that overrides it, and the ``job`` partition's).
    """

    def __init__(self, maxsize: int, ttl: float | Callable[[], float] = math.inf, *, name: str) -> None:
        self._ttl = ttl
        self._name = name
        self._lock = threading.Lock()
        self._parts: dict[str, _Bounded] = {}
        self._partitions = Partitions(name, maxsize, self._size)

    def _size(self, path: str) -> int:
        with self._lock:
            part = self._parts.get(path)
            return len(part) if part is not None else 0

    def _part(self) -> tuple[_Bounded, Counters]:
        """The current path's partition (built at first use, sized from the environment then)."""
        path = current_path()
        counters = self._partitions.counters[path]
        part = self._parts.get(path)
        if part is None:
            part = self._parts[path] = _Bounded(self._partitions.maxsize(path), counters)
        return part, counters

    def _default_ttl(self) -> float:
        return self._ttl() if callable(self._ttl) else self._ttl

    def get(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` for a live entry, else ``(False, None)``."""
        with self._lock:
            part, counters = self._part()
            entry = part.get(key)
            counters.lookup(entry is not None)
        metrics.record("CacheLookups", Cache=self._name, Result="miss" if entry is None else "hit")
        return (True, entry.value) if entry is not None else (False, None)

    def put(self, key: K, value: V, ttl: float | None = None) -> None:
        """Keep ``value`` for ``ttl`` seconds (the cache's default if None); 0 or less keeps nothing."""
        ttl = self._default_ttl() if ttl is None else ttl
        with self._lock:
            part, _ = self._part()
            if ttl <= 0:
                part.pop(key, None)
                return
            part[key] = _Entry(value, ttl)

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        """The live value of ``key``, else ``load()`` kept (two racing loads may both run)."""
        hit, value = self.get(key)
        if hit:
            return value  # type: ignore[return-value]
        loaded = load()
        self.put(key, loaded)
        return loaded

    def size(self) -> int:
        """Entries held in the current path's partition."""
        return self._size(current_path())

    def pop(self, key: K) -> None:
        """Forget ``key`` in every partition (an edit invalidates what a job cached too)."""
        with self._lock:
            for part in self._parts.values():
                part.pop(key, None)

    def clear(self) -> None:
        """Forget every entry and bound: the next use reads the configured sizes again."""
        with self._lock:
            self._parts.clear()
