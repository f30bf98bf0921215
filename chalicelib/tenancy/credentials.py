"""Tenant-scoped AWS credentials: ``sts:AssumeRole`` with a ``tenant_id`` session tag, cached.

In AWS the tenant data-access role's policy admits only the items, objects and keys of
``${aws:PrincipalTag/tenant_id}`` (``dynamodb:LeadingKeys`` ``T#<tenant>#*``, the
``tenants/<tenant>/`` prefix, KMS keys tagged with the tenant id), so credentials from
this module cannot reach another tenant's data even if our own guard had a bug.

The session tag is also transitive: a role chained from this session keeps it.

Cache rules, each forced by a fact:

* An AssumeRole costs a network round trip (tens of ms in AWS) and STS throttles per
  account, so credentials are reused for their whole life, per tenant.
* They are refreshed ``refresh_margin`` (5 min) before they expire: a request that
  starts with them must not have them expire while it runs, and a presigned URL signed
  with them is valid only as long as they are (``remaining`` lets a caller ask for more).
* A warm container may serve many tenants: the cache is an LRU bounded by entries.
* Concurrent misses for one tenant make ONE AssumeRole (single flight); the others wait
  for its answer (or its error). Misses of different tenants do not wait for each other.

The clock is injected so tests can move time without sleeping.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import UUID

from chalicelib import caches, metrics
from chalicelib.clock import now as clock_now

TAG_TENANT = "tenant_id"
DEFAULT_REFRESH_MARGIN = timedelta(minutes=5)
DEFAULT_MAX_TENANTS = 4096  # default of CACHE_SIZE_TENANT_CREDENTIALS

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class TenantCredentials:
    tenant_id: UUID
    access_key: str
    secret_key: str
    token: str
    expiration: datetime

    def remaining(self, now: datetime) -> timedelta:
        return self.expiration - now

    def __repr__(self) -> str:  # never print secrets into a log or a traceback
        return f"TenantCredentials(tenant_id={self.tenant_id}, expiration={self.expiration.isoformat()})"


class SingleFlightLRU(Generic[K, V]):
    """A bounded LRU whose misses run ``load`` once per key, however many threads ask.

    ``fresh(value)`` says whether a cached value may still be served; a stale one is
    loaded again (once) like a miss. An error of ``load`` reaches every waiter and caches
    nothing, so the next call tries again. Named and partitioned like every cache
    (``chalicelib.caches``): ``max_entries`` is the request partition's default bound
    (``CACHE_SIZE_<NAME>`` overrides it), and a job's lookups use the job partition.
    """

    def __init__(self, max_entries: int, name: str = "tenant_credentials") -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.name = name
        self._entries: dict[str, OrderedDict[K, V]] = {path: OrderedDict() for path in caches.PATHS}
        self._pending: dict[tuple[str, K], Future[V]] = {}
        self._lock = threading.Lock()
        self._partitions = caches.Partitions(name, max_entries, self._size)

    @property
    def max_entries(self) -> int:
        return self._partitions.maxsize(caches.REQUEST)

    def _size(self, path: str) -> int:
        with self._lock:
            return len(self._entries[path])

    def get(self, key: K, load: Callable[[], V], fresh: Callable[[V], bool] = lambda _: True) -> V:
        path = caches.current_path()
        entries, counters = self._entries[path], self._partitions.counters[path]
        with self._lock:
            found = entries.get(key)
            if found is not None and fresh(found):
                entries.move_to_end(key)
                counters.lookup(True)
                metrics.record("CacheLookups", Cache=self.name, Result="hit")
                return found
            counters.lookup(False)
            flight = self._pending.get((path, key))
            leader = flight is None
            if flight is None:
                flight = self._pending[(path, key)] = Future()
        metrics.record("CacheLookups", Cache=self.name, Result="miss" if leader else "joined")
        if not leader:
            return flight.result()
        try:
            value = load()
        except BaseException as exc:
            with self._lock:
                del self._pending[(path, key)]
            flight.set_exception(exc)
            raise
        bound = self._partitions.maxsize(path)
        with self._lock:
            del self._pending[(path, key)]
            entries[key] = value
            entries.move_to_end(key)
            while len(entries) > bound:
                entries.popitem(last=False)
                counters.evictions += 1
        flight.set_result(value)
        return value

    def peek(self, key: K) -> V | None:
        with self._lock:
            return self._entries[caches.current_path()].get(key)

    def keys(self) -> list[K]:
        """The keys of every partition (each once)."""
        with self._lock:
            return list(dict.fromkeys(k for entries in self._entries.values() for k in entries))

    def clear(self) -> None:
        with self._lock:
            for entries in self._entries.values():
                entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(entries) for entries in self._entries.values())


class TenantCredentialCache:
    """Credentials of the tenant data-access role, one cached set per tenant."""

    def __init__(self, sts: Callable[[], Any], role_arn: str, *, duration_seconds: int = 3600,
                 refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN, max_tenants: int = DEFAULT_MAX_TENANTS,
                 clock: Callable[[], datetime] = clock_now) -> None:
        if refresh_margin >= timedelta(seconds=duration_seconds):
            raise ValueError("the refresh margin must be shorter than the credentials' life")
        self.role_arn = role_arn
        self.duration_seconds = duration_seconds
        self.refresh_margin = refresh_margin
        self._sts = sts
        self._clock = clock
        self._cache: SingleFlightLRU[UUID, TenantCredentials] = SingleFlightLRU(max_tenants)

    def get(self, tenant_id: UUID, *, at_least: timedelta = timedelta(0)) -> TenantCredentials:
        """Credentials of ``tenant_id`` valid for at least ``refresh_margin`` (or ``at_least``) more."""
        needed = max(self.refresh_margin, at_least)
        if needed >= timedelta(seconds=self.duration_seconds):
            raise ValueError("no credentials of this role live that long")

        def fresh(credentials: TenantCredentials) -> bool:
            return credentials.remaining(self._clock()) > needed

        return self._cache.get(tenant_id, lambda: self._assume(tenant_id), fresh)

    def _assume(self, tenant_id: UUID) -> TenantCredentials:
        answer = self._sts().assume_role(
            RoleArn=self.role_arn,
            # Shows in CloudTrail as the caller: a tenant's data access is traceable to it.
            RoleSessionName=f"tenant-{tenant_id}",
            DurationSeconds=self.duration_seconds,
            Tags=[{"Key": TAG_TENANT, "Value": str(tenant_id)}],
            TransitiveTagKeys=[TAG_TENANT],
        )["Credentials"]
        expiration = answer["Expiration"]
        if isinstance(expiration, str):
            expiration = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        return TenantCredentials(tenant_id, answer["AccessKeyId"], answer["SecretAccessKey"],
                                 answer["SessionToken"], expiration)

    def cached_tenants(self) -> list[UUID]:
        return self._cache.keys()

    def clear(self) -> None:
        self._cache.clear()
