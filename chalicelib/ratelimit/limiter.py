"""The in-process per-tenant limiter: one token bucket and daily counter per tenant.

Used locally and wherever API Gateway usage plans do not apply (settings
``RATE_LIMIT_MODE``). It keeps no state outside the process and writes nothing to
DynamoDB, so in a fleet of Lambda containers each one limits on its own: that is why
AWS uses the distributed limiter (chalicelib/ratelimit/distributed.py) behind usage plans.

Memory is bounded: at most ``max_tenants`` tenants are tracked (the cache
``rate_limit_buckets``; ``CACHE_SIZE_RATE_LIMIT_BUCKETS`` overrides the bound), least
recently seen evicted first (an evicted tenant starts again with a full bucket and a zero
count, which errs towards letting requests through). One lock makes a tenant's bucket
once however many threads ask; the work under it is a few float operations.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from uuid import UUID

from chalicelib.caches import TtlCache
from chalicelib.ratelimit.bucket import Decision, RateLimits, TenantBucket

Clock = Callable[[], float]


class InProcessLimiter:
    def __init__(self, max_tenants: int, clock: Clock = time.time) -> None:
        if max_tenants < 1:
            raise ValueError("max_tenants must be at least 1")
        self._clock = clock
        self._buckets: TtlCache[UUID, TenantBucket] = TtlCache(max_tenants, name="rate_limit_buckets")
        self._lock = threading.Lock()

    def take(self, tenant_id: UUID, limits: RateLimits) -> Decision:
        """Count one request of ``tenant_id`` against ``limits``: let it through or refuse it."""
        now = self._clock()
        with self._lock:  # one bucket per tenant, however many threads ask at once
            found, bucket = self._buckets.get(tenant_id)
            if not found or bucket is None:
                bucket = TenantBucket(limits, now)
                self._buckets.put(tenant_id, bucket)
            return bucket.take(limits, now)

    def requests_today(self, tenant_id: UUID) -> int:
        """Requests of ``tenant_id`` let through since 00:00 UTC, as this process counted them."""
        now = self._clock()
        with self._lock:
            _, bucket = self._buckets.get(tenant_id)
            return bucket.requests_today(now) if bucket is not None else 0

    def __len__(self) -> int:
        return self._buckets.size()

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()
